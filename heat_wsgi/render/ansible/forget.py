"""``forget-host.yml``: after a machine is lost for good, take it out of service.

``ansible-playbook forget-host.yml -e heat_wsgi_forget_host=C``:

1. on the broker host, checks that RabbitMQ no longer holds a connection
   from C (until its AMQP heartbeat expires, what the broker had handed C's
   engines is not requeued yet);
2. on the database host, kills MariaDB's sessions still open from C's
   address (a powered-off client's sessions keep their row locks);
3. on the proxy host, puts C's servers in every backend into maintenance
   (``community.general.haproxy`` ``state: disabled``), so that C, should it
   come back half-configured, takes no request until ``rolling-restart.yml``
   enables its servers (or HAProxy reloads with a changed config);
4. on one surviving engine host, runs ``heat-wsgi forget-host C --apply``
   (:mod:`heat_wsgi.forget_host`): the stacks C's heat-engines held become
   FAILED instead of staying in progress for good, and so do stacks that no
   engine holds and that have not changed for
   ``heat_wsgi_forget_stalled_after`` seconds (default 300: their RPC cast
   was lost with C); C's service rows go, and before all that any database
   session still open from C's address is killed (with Heat's account).

Unreachable C is never contacted.
"""

from __future__ import annotations

from typing import Any

from heat_wsgi.render.ansible.yamlout import Jinja

__all__ = ["forget_host_playbook"]

_LOST = "heat_wsgi_forget_host"


def forget_host_playbook() -> list[dict[str, Any]]:
    """The plays of forget-host.yml: the host, the broker, the database, HAProxy, Heat's records."""
    lost = Jinja(f"{{{{ {_LOST} }}}}")
    return [
        {"name": "Check which host to forget",
         "hosts": "localhost", "gather_facts": False,
         "tasks": [{"name": "Check that -e heat_wsgi_forget_host names a host of the inventory",
                    "ansible.builtin.assert": {
                        "that": [Jinja(f"{_LOST} is defined"),
                                 Jinja(f"{_LOST} in groups['all']")],
                        "fail_msg": Jinja(
                            "run with -e heat_wsgi_forget_host=HOST, one of "
                            "{{ groups['all'] | join(', ') }} (got "
                            f"{{{{ {_LOST} | default('nothing') }}}})"),
                        "quiet": True}}]},
        {"name": "Check that RabbitMQ has let go of the lost host",
         "hosts": "message_bus", "gather_facts": False,
         "tasks": [
             # Until the broker closes the host's connections (its AMQP
             # heartbeat expires), what it had handed the dead engines is not
             # requeued yet, and those stacks would look stalled.
             {"name": "List the broker's client connections",
              "ansible.builtin.command": {"argv": ["rabbitmqctl", "-q", "list_connections",
                                                   "peer_host"]},
              "register": "heat_wsgi_broker_peers", "changed_when": False,
              "check_mode": False},
             {"name": "Check that none of them comes from the lost host",
              "ansible.builtin.assert": {
                  "that": [Jinja(f"hostvars[{_LOST}].ansible_host not in "
                                 "heat_wsgi_broker_peers.stdout_lines | map('trim') | list")],
                  "fail_msg": Jinja(
                      f"RabbitMQ still holds connections from {{{{ {_LOST} }}}}: wait until "
                      "its AMQP heartbeat expires, then run again"),
                  "quiet": True}}]},
        {"name": "End the lost host's database sessions",
         "hosts": "database", "gather_facts": False,
         # (only what an address is made of reaches the SQL)
         "vars": {"heat_wsgi_lost_address": Jinja(
             f"{{{{ hostvars[{_LOST}].ansible_host | regex_replace('[^0-9A-Za-z.:-]', '') }}}}")},
         "tasks": [
             # As root over MariaDB's socket, and before anything else: a
             # live engine that waits on a row one of them locked gives up
             # after innodb_lock_wait_timeout (50 s) and leaves its stack
             # unfinished. (forget-host --address below kills any left, with
             # Heat's own account, where heat_wsgi does not run the database.)
             {"name": "Find the sessions still open from the lost host",
              "ansible.builtin.command": {"argv": [
                  "mariadb", "--batch", "--skip-column-names", "--execute",
                  Jinja("SELECT ID FROM information_schema.PROCESSLIST "
                        "WHERE HOST LIKE '{{ heat_wsgi_lost_address }}:%'")]},
              "register": "heat_wsgi_lost_sessions", "changed_when": False,
              "check_mode": False},
             {"name": "Kill them",
              "ansible.builtin.command": {"argv": ["mariadb", "--batch", "--execute",
                                                   Jinja("KILL CONNECTION {{ item | int }}")]},
              "loop": Jinja("{{ heat_wsgi_lost_sessions.stdout_lines }}"),
              "register": "heat_wsgi_killed",
              # Gone by itself in between: nothing to do.
              "changed_when": Jinja("heat_wsgi_killed.rc == 0"),
              "failed_when": Jinja("heat_wsgi_killed.rc != 0 and 'Unknown thread id' "
                                   "not in heat_wsgi_killed.stderr")}]},
        {"name": "Take the lost host's servers out of HAProxy",
         "hosts": "proxy",
         "gather_facts": False,
         "tasks": [{
             "name": "Put the lost host's servers into maintenance in every backend",
             "community.general.haproxy": {
                 "state": "disabled", "host": Jinja("{{ item.server }}"),
                 "backend": Jinja("{{ item.backend }}"),
                 "socket": Jinja("{{ heat_wsgi_haproxy_socket }}")},
             "loop": Jinja(f"{{{{ hostvars[{_LOST}].heat_wsgi_haproxy_servers | default([]) }}}}"),
             "loop_control": {"label": Jinja("{{ item.backend }}/{{ item.server }}")},
             "when": Jinja("heat_wsgi_haproxy_socket is defined")}]},
        {"name": "Fail the stacks the lost host's heat-engines held",
         # (the first play has failed already when the variable is missing)
         "hosts": Jinja(f"engine:!{{{{ {_LOST} | default('all') }}}}"),
         # run_once means the first host of the play; linear keeps it so.
         "strategy": "linear",
         "gather_facts": False,
         "tasks": [{
             "name": "Run heat-wsgi forget-host on one surviving engine host",
             "ansible.builtin.command": {"argv": [
                 Jinja("{{ heat_wsgi_bin_dir }}/heat-wsgi"), "forget-host", lost,
                 "--config-file", Jinja("{{ heat_wsgi_heat_conf }}"), "--apply",
                 # A stack no engine holds that has not changed for this long
                 # lost its RPC cast with the host (heat_wsgi.forget_host).
                 Jinja("--stalled-after={{ heat_wsgi_forget_stalled_after | default(300) }}"),
                 # Its database sessions, and their row locks, go first.
                 Jinja(f"--address={{{{ hostvars[{_LOST}].ansible_host }}}}")]},
             "register": "heat_wsgi_forgotten", "run_once": True,
             # The report's last words say whether anything changed.
             "changed_when": Jinja("heat_wsgi_forgotten.stdout is search('; changed$')")},
             {"name": "Show what was found and done",
              "ansible.builtin.debug": {"var": "heat_wsgi_forgotten.stdout_lines"},
              "run_once": True}]},
    ]
