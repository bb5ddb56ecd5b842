"""``rolling-restart.yml``: restart the API hosts one at a time behind HAProxy.

For each API host (``serial: 1``): drain its servers in every backend it
serves through the admin socket and wait until they hold no session, restart
its API units and its heat-engines (not the engines with
``heat_wsgi_restart_engines=false``),
wait for every instance's ``/healthcheck``, then enable the servers again and
wait until HAProxy sees them up.
"""

from __future__ import annotations

from typing import Any

from heat_wsgi.render.ansible.site import wait_healthchecks
from heat_wsgi.render.ansible.yamlout import Jinja

__all__ = ["rolling_restart_playbook"]


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
            # HAProxy cannot drain an engine, and a stock heat-engine's stop
            # lost the RPC calls it held (on the lab: about a dozen of 470
            # requests timed out per host). The units run heat_wsgi.engine,
            # whose graceful stop leaves them for RabbitMQ to requeue, so
            # engines restart too unless -e heat_wsgi_restart_engines=false.
            {"name": "Restart this host's heat-engines (skip: heat_wsgi_restart_engines=false)",
             "ansible.builtin.systemd_service": {"name": Jinja("{{ item.name }}"),
                                                 "state": Jinja("{{ item.on_change }}")},
             "loop": Jinja("{{ heat_wsgi_units | selectattr('stage', 'equalto', 'engine') "
                           "| list }}"),
             "loop_control": {"label": Jinja("{{ item.name }}")},
             "when": Jinja("heat_wsgi_restart_engines | default(true) | bool")},
            wait_healthchecks("Wait until every instance of this host answers /healthcheck",
                              "heat_wsgi_healthchecks"),
            # enabled + wait: until HAProxy's own checks see the server up.
            _haproxy("Enable this host's servers again", "enabled", {}),
        ],
    }]
