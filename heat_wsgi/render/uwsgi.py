"""The uwsgi ini file of one API instance.

uwsgi ini files may repeat keys, so they are written line by line here
rather than through configparser.
"""

from __future__ import annotations

import re

from heat_wsgi.errors import RenderError
from heat_wsgi.model import ApiInstance, Host, Topology
from heat_wsgi.quoting import uwsgi_value
from heat_wsgi.derive.layout import InstanceLayout
from heat_wsgi.render.common import header

__all__ = ["render_uwsgi_ini", "uwsgi_lines"]


_SPACE = re.compile(r"\s")


def _no_space(what: str, value: str) -> str:
    if _SPACE.search(value):
        raise RenderError(what, f"uwsgi splits this on whitespace: {value!r}")
    return value


_FIXED = [("master", "true")]
# Why each: threads need the GIL released; no app means exit, not an empty
# server; SIGTERM stops gracefully (devstack's hook) within the mercy time;
# big headers (tokens); 30 s socket timeout and one request per connection
# (devstack's fixes for random connection failures behind proxies).
_TUNING = [
    ("enable-threads", "true"),
    ("need-app", "true"),
    ("die-on-term", "true"),
    ("hook-master-start", "unix_signal:15 gracefully_kill_them_all"),
    ("worker-reload-mercy", "80"),
    ("exit-on-reload", "false"),
    ("thunder-lock", "true"),
    ("buffer-size", "65535"),
    ("socket-timeout", "30"),
    ("add-header", "Connection: close"),
]
# Chunked request bodies reach the app (wsgi.input is empty without them).
_HTTP = [
    ("http-chunked-input", "true"),
    ("http-raw-body", "true"),
    ("http-auto-chunked", "true"),
]
_SAFE = {value for _, value in _FIXED + _TUNING + _HTTP}


def uwsgi_lines(topology: Topology, instance: ApiInstance, host: Host,
                layout: InstanceLayout) -> list[tuple[str, str]]:
    """The ``(key, value)`` pairs of the ini, in order; keys may repeat."""
    pyargv = " ".join(f"--config-file {_no_space('pyargv', path)}" for path in layout.config_files)
    pairs: list[tuple[str, str]] = [
        ("module", f"{instance.info.module}:application"),
        ("pyargv", pyargv),
    ]
    if host.paths.venv:
        pairs.append(("virtualenv", host.paths.venv))
    pairs += _FIXED
    pairs += [("processes", str(instance.processes)), ("threads", str(instance.threads))]
    pairs += _TUNING
    if layout.http_socket is not None:
        address, port = layout.http_socket
        bracketed = f"[{address}]" if ":" in address else address
        pairs.append(("http-socket", f"{bracketed}:{port}"))
        pairs += _HTTP
    if layout.socket is not None:
        pairs += [("socket", layout.socket), ("chmod-socket", "660"),
                  ("chown-socket", f"{host.user}:{host.web_group}")]
    pairs += [("pidfile", layout.pidfile), ("logto", layout.logfile)]
    return pairs


def render_uwsgi_ini(topology: Topology, instance: ApiInstance, host: Host,
                     layout: InstanceLayout) -> str:
    lines = header("#", topology, f"uwsgi for {instance.info.program} instance {instance.name!r}")
    lines.append("[uwsgi]")
    for key, value in uwsgi_lines(topology, instance, host, layout):
        try:
            lines.append(f"{key} = {value if value in _SAFE else uwsgi_value(value)}")
        except ValueError as exc:
            raise RenderError(layout.uwsgi_ini, str(exc)) from exc
    return "\n".join(lines) + "\n"
