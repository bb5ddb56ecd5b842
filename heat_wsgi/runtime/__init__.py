"""Private service instances, started and stopped by pid, under a state directory.

Everything here runs one real server as a child of ours: in the foreground,
in its own session, output appended to ``<state_dir>/logs/<name>.log``, pid
written to ``<state_dir>/run/<name>.pid``. Nothing goes through a service
manager, nothing system-wide is touched, and a process is only ever signalled
by the pid we recorded (plus the process group it leads, since we made it a
session leader). Servers are expected to bind inside 127.0.0.0/8.

Every ``start_*`` function checks its ports are free first, waits until the
service really serves, stops what it started if that fails, and raises
:class:`heat_wsgi.errors.ServiceError` naming the service, what it waited for
and its log (with the log's last lines). It returns a :class:`Service`:

``Service(name, kind, procs, address, url, health, log)``
    ``.url`` (alias ``.transport_url``), ``.pid``/``.pids``, ``.alive()``,
    ``.healthy() -> (bool, str)``, ``.stop(timeout)``, ``.to_json()`` /
    ``Service.from_json()`` for a pid record that survives the process.

The modules, one job each:

``process``
    ``spawn(name, argv, *, state_dir, log=None, env=None, cwd=None) -> Proc``,
    ``stop(pid, timeout=10, *, starttime=None)``, ``stop_proc(proc)``,
    ``is_alive(pid, starttime=None)``, ``port_in_use(host, port)``,
    ``require_free_ports(service, [(host, port)])``,
    ``wait_for_tcp(host, port, timeout, *, service, pid=None, log=None)``,
    ``wait_for_http(url, expect_status=200, timeout=30, *, service, pid, log)``,
    ``wait_for_unix_socket(path, timeout, *, service, pid, log)``,
    ``wait_for_log(log, needle, timeout, *, service, pid, offset=0)``,
    ``http_status(url)``, ``tcp_open(host, port)``, ``log_tail(log)``,
    ``run_to_completion(service, argv, log, timeout)`` for one-shot tools.
``service``
    ``Service`` and ``stop_all(services)``.
``rabbitmq``
    ``start_rabbitmq(state_dir, *, address='127.0.0.1', port=5672,
    dist_port=25672, epmd_port=4369, name='rabbitmq') -> Service`` (procs:
    our own epmd, then the rabbitmq-server wrapper of beam.smp).
``mariadb``
    ``create_database(socket, database=, user=, password=, ...)``;
    ``start_mariadb(state_dir, *, address='127.0.0.1', port=3306,
    database='heat', user='heat', password='heat', name='mariadb',
    max_connections=1000) -> Service`` (``.url`` is a
    ``mysql+pymysql://...?charset=utf8mb4`` URL); ``run_sql(socket, sql, ...)``.
``heat``
    ``db_sync(venv, heat_conf, *, log=None)``;
    ``start_engine(venv, heat_conf, state_dir, name, *, host=None, workers=1,
    database_url=None) -> Service`` (ready when its workers registered in
    Heat's ``service`` table, or, without a database URL, when the log says so).
``keystone``
    ``start_keystone(...)``: a real Keystone (PyPI ``keystone``) under uwsgi,
    its database in a running MariaDB (``create_database``), fernet keys
    under the state dir; used where a test needs real Keystone.
``uwsgi``
    ``start_uwsgi(venv, ini, state_dir, name, *, health_path='/healthcheck')
    -> Service`` (listen address and log read from the ini).
``apache``
    ``render_main_config(server_root, *, modules, includes, listen, user,
    group)``, ``write_main_config(server_root, **same) -> Path``,
    ``configtest(config, server_root) -> (ok, output)``,
    ``start_apache(config, server_root, state_dir, name='apache', *, listen,
    health_urls) -> Service``.
``haproxy``
    ``check(cfg) -> (ok, output)``, ``start_haproxy(cfg, state_dir,
    name='haproxy', *, health_urls=()) -> Service`` (binds and stats socket
    read from the cfg), ``command(socket, line)``,
    ``show_stat(socket) -> list[ServerStat]``,
    ``server_status(socket, backend, server) -> ServerStat``.
"""

from __future__ import annotations

from heat_wsgi.runtime.process import Proc
from heat_wsgi.runtime.service import Service, stop_all

__all__ = ["Proc", "Service", "stop_all"]
