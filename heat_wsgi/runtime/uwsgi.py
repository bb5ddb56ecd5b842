"""One uwsgi server (``uwsgi --ini FILE``) in the foreground, ready when it answers."""

from __future__ import annotations

import configparser
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from heat_wsgi.errors import ServiceError
from heat_wsgi.quoting import uwsgi_value
from heat_wsgi.runtime import process
from heat_wsgi.runtime.service import Service

START_TIMEOUT = 90.0

#: What a private uwsgi (Keystone's, a test's) runs with besides what it
#: serves and where: one app per worker, stopped by SIGTERM, gone if the app
#: does not load. uwsgi's http-socket does not keep connections alive, and
#: without "Connection: close" a client's pooled connection is reset on reuse.
PRIVATE_OPTIONS: tuple[tuple[str, str], ...] = (
    ("master", "true"), ("enable-threads", "true"), ("lazy-apps", "true"),
    ("die-on-term", "true"), ("need-app", "true"), ("buffer-size", "65535"),
    ("add-header", "Connection: close"),
)


def render_ini(options: Sequence[tuple[str, str]]) -> str:
    """A ``[uwsgi]`` ini with ``options`` in order (keys may repeat), every value quoted."""
    return "[uwsgi]\n" + "".join(f"{key} = {uwsgi_value(value)}\n" for key, value in options)


@dataclass(frozen=True, slots=True, kw_only=True)
class UwsgiListen:
    """Where an ini makes uwsgi listen, and what its own log file is."""

    http: tuple[str, int] | None
    socket: str | None
    logto: str | None


def read_ini(ini: Path) -> UwsgiListen:
    """Find ``http-socket``, ``socket`` and ``logto`` in the ``[uwsgi]`` section."""
    # uwsgi allows repeated keys (add-header); the last one wins here, which
    # is fine for the three keys we read.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(ini.read_text(), source=str(ini))
    except (OSError, configparser.Error) as exc:
        raise ServiceError(f"uwsgi {ini.name}", f"cannot read {ini}: {exc}") from exc
    section = parser["uwsgi"] if parser.has_section("uwsgi") else {}
    http = None
    if "http-socket" in section:
        host, _, port = section["http-socket"].strip().rpartition(":")
        http = (host or "0.0.0.0", int(port))
    socket = section.get("socket")
    return UwsgiListen(http=http, socket=socket.strip() if socket else None,
                       logto=section.get("logto"))


def start_uwsgi(venv: Path, ini: Path, state_dir: Path, name: str, *,
                health_path: str = "/healthcheck", timeout: float = START_TIMEOUT) -> Service:
    """Start ``<venv>/bin/uwsgi --ini ini`` and wait until it serves.

    Where it listens is read from the ini: with ``http-socket`` it is ready
    when ``GET http://host:port<health_path>`` answers 200; with a unix
    ``socket`` when the socket accepts connections. ``--die-on-term`` is
    forced (uwsgi 2.0 treats TERM as "reload" otherwise) and ``--need-app``
    makes a broken application an early, visible death.

    The log is the ini's ``logto`` when set, else ``<state_dir>/logs/<name>.log``.
    """
    binary = venv / "bin" / "uwsgi"
    if not binary.is_file():
        raise ServiceError(name, f"cannot run {binary}: not found (pip install uwsgi)")
    listen = read_ini(ini)
    if listen.http is None and listen.socket is None:
        raise ServiceError(name, f"{ini}: [uwsgi] has neither http-socket nor socket")
    if listen.http is not None:
        process.require_free_ports(name, [listen.http])
    state_dir = state_dir.absolute()
    log = Path(listen.logto) if listen.logto else state_dir / "logs" / f"{name}.log"
    proc = process.spawn(name, [str(binary), "--ini", str(ini), "--die-on-term", "--need-app"],
                         state_dir=state_dir, log=log)
    try:
        if listen.http is not None:
            host, port = listen.http
            url = f"http://{host}:{port}{health_path}"
            process.wait_for_http(url, 200, timeout, service=name, pid=proc.pid, log=log)
            address, health = f"{host}:{port}", url
            base = f"http://{host}:{port}"
        else:
            assert listen.socket is not None
            if ":" in listen.socket:
                host, _, port_text = listen.socket.rpartition(":")
                process.wait_for_tcp(host, int(port_text), timeout, service=name,
                                     pid=proc.pid, log=log)
                health = f"tcp://{listen.socket}"
            else:
                process.wait_for_unix_socket(listen.socket, timeout, service=name,
                                             pid=proc.pid, log=log)
                health = f"unix:{listen.socket}"
            address, base = listen.socket, ""
    except BaseException:
        process.stop_proc(proc)
        raise
    return Service(name=name, kind="uwsgi", procs=(proc,), address=address, url=base,
                   health=health, log=str(log))
