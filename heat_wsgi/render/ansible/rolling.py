"""``rolling-restart.yml``: restart the API hosts one at a time behind HAProxy.

For each API host (``serial: 1``): drain its servers in every backend it
serves through the admin socket and wait until they hold no session, restart
its API units and its heat-engines (not the engines with
``heat_wsgi_restart_engines=false``),
wait for every instance's ``/healthcheck``, then enable the servers again and
wait until HAProxy sees them up. Then each host that runs engines and no API
(``engine:!api``), one at a time: its engines restart the same way.
"""

from __future__ import annotations

from typing import Any

from heat_wsgi.render.ansible.site import wait_healthchecks
from heat_wsgi.render.ansible.yamlout import Jinja

__all__ = ["rolling_restart_playbook"]

#: Bound on one engine's restart: its graceful stop, then Heat's boot.
ENGINE_RESTART_SECONDS = 600


def _haproxy(name: str, state: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "community.general.haproxy": {
            "state": state, "host": Jinja("{{ item.server }}"),
            "backend": Jinja("{{ item.backend }}"),
            "socket": Jinja("{{ hostvars[heat_wsgi_proxy_host].heat_wsgi_haproxy_socket }}"),
            "wait": True, "wait_interval": 1,
            "wait_retries": Jinja("{{ heat_wsgi_drain_seconds | default(300) }}"), **extra},
        "delegate_to": Jinja("{{ heat_wsgi_proxy_host }}"),
        "loop": Jinja("{{ heat_wsgi_haproxy_servers }}"),
        "loop_control": {"label": Jinja("{{ item.backend }}/{{ item.server }}")},
    }


def _restart_engines() -> list[dict[str, Any]]:
    """Restart a host's heat-engines side by side, then wait for every restart.

    HAProxy cannot drain an engine, and a stock heat-engine's stop lost the
    RPC calls it held (on the lab: about a dozen of 470 requests timed out per
    host). The units run heat_wsgi.engine, whose graceful stop leaves them for
    RabbitMQ to requeue to the engines of the other hosts, so all of one
    host's engines may restart at once: one at a time took 27-37 s each.
    Engines stay up unless -e heat_wsgi_restart_engines=false.
    """
    when = Jinja("heat_wsgi_restart_engines | default(true) | bool")
    return [
        {"name": "Restart this host's heat-engines side by side "
                 "(skip: heat_wsgi_restart_engines=false)",
         "ansible.builtin.systemd_service": {"name": Jinja("{{ item.name }}"),
                                             "state": Jinja("{{ item.on_change }}")},
         "loop": Jinja("{{ heat_wsgi_units | selectattr('stage', 'equalto', 'engine') "
                       "| list }}"),
         "loop_control": {"label": Jinja("{{ item.name }}")},
         "async": ENGINE_RESTART_SECONDS, "poll": 0,
         "register": "heat_wsgi_engine_restarts",
         "when": when},
        {"name": "Wait until each of this host's heat-engines has restarted",
         "ansible.builtin.async_status": {"jid": Jinja("{{ item.ansible_job_id }}")},
         "loop": Jinja("{{ heat_wsgi_engine_restarts.results }}"),
         "loop_control": {"label": Jinja("{{ item.item.name }}")},
         "register": "heat_wsgi_engine_restart",
         "until": Jinja("heat_wsgi_engine_restart.finished"),
         "retries": ENGINE_RESTART_SECONDS, "delay": 1,
         # The restart task reported the change; the wait changes nothing.
         "changed_when": False,
         "when": when}]


def rolling_restart_playbook() -> list[dict[str, Any]]:
    """The one play of rolling-restart.yml."""
    return [{
        "name": "Restart the Heat API hosts one at a time",
        "hosts": "api",
        "serial": 1,
        "gather_facts": False,
        "tasks": [
            {"name": "Check that HAProxy has an admin socket to drain servers through",
             "ansible.builtin.assert": {
                 "that": [Jinja("heat_wsgi_proxy_host is defined"),
                          Jinja("hostvars[heat_wsgi_proxy_host].heat_wsgi_haproxy_socket "
                                "is defined")],
                 "fail_msg": "the topology needs a proxy with an admin_socket",
                 "quiet": True}},
            # drain: no new connections; wait: until the server holds no session.
            _haproxy("Drain this host's servers in every backend", "drain", {"drain": True}),
            {"name": "Restart this host's API units",
             "ansible.builtin.systemd_service": {"name": Jinja("{{ item.name }}"),
                                                 "state": Jinja("{{ item.on_change }}")},
             "loop": Jinja("{{ heat_wsgi_units | selectattr('stage', 'equalto', 'api') "
                           "| list }}"),
             "loop_control": {"label": Jinja("{{ item.name }}")}},
            *_restart_engines(),
            wait_healthchecks("Wait until every instance of this host answers /healthcheck",
                              "heat_wsgi_healthchecks"),
            # enabled + wait: until HAProxy's own checks see the server up.
            _haproxy("Enable this host's servers again", "enabled", {}),
        ],
    }, {
        "name": "Restart the engine-only hosts one at a time",
        "hosts": "engine:!api",
        "serial": 1,
        "gather_facts": False,
        "tasks": _restart_engines(),
    }]
