"""A private HAProxy in the foreground, and a client for its stats/admin socket."""

from __future__ import annotations

import csv
import io
import shlex
import shutil
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from heat_wsgi.errors import ServiceError
from heat_wsgi.runtime import process
from heat_wsgi.runtime.service import Service

START_TIMEOUT = 30.0


def _binary(service: str) -> str:
    binary = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").is_file()
                                         else None)
    if binary is None:
        raise ServiceError(service, "cannot run haproxy: not found (install the haproxy package)")
    return binary


def _files(cfg: Path, extra_cfgs: Sequence[Path]) -> list[str]:
    argv = []
    for path in (cfg, *extra_cfgs):
        argv += ["-f", str(path)]
    return argv


def check(cfg: Path, extra_cfgs: Sequence[Path] = ()) -> tuple[bool, str]:
    """``haproxy -c -f cfg [-f extra ...]``: (valid, what haproxy printed)."""
    result = subprocess.run([_binary("haproxy"), "-c", *_files(cfg, extra_cfgs)],
                            capture_output=True, text=True, check=False, timeout=60)
    return result.returncode == 0, (result.stdout + result.stderr).strip()


@dataclass(frozen=True, slots=True, kw_only=True)
class HaproxyListen:
    """What a config makes HAProxy listen on: TCP binds and the stats socket."""

    binds: tuple[tuple[str, int], ...]
    stats_socket: str | None


def _words(line: str) -> list[str]:
    """A haproxy.cfg line's words: quotes and backslashes undone, a '#' comment dropped."""
    try:
        return shlex.split(line, comments=True)
    except ValueError:   # unbalanced quotes: haproxy -c reports those
        return line.split("#", 1)[0].split()


def read_cfg(cfg: Path, extra_cfgs: Sequence[Path] = ()) -> HaproxyListen:
    """Collect ``bind host:port`` and ``stats socket PATH`` lines from the files."""
    binds: list[tuple[str, int]] = []
    stats_socket = None
    text = "\n".join(path.read_text() for path in (cfg, *extra_cfgs))
    for raw in text.splitlines():
        words = _words(raw)
        if len(words) >= 2 and words[0] == "bind":
            for addr in words[1].split(","):
                host, _, port = addr.rpartition(":")
                if port.isdigit() and not host.startswith(("unix@", "/", "abns@")):
                    binds.append((host or "0.0.0.0", int(port)))
        elif len(words) >= 3 and words[:2] == ["stats", "socket"]:
            stats_socket = words[2]
    return HaproxyListen(binds=tuple(binds), stats_socket=stats_socket)


def start_haproxy(cfg: Path, state_dir: Path, name: str = "haproxy", *,
                  extra_cfgs: Sequence[Path] = (), health_urls: Sequence[str] = (),
                  timeout: float = START_TIMEOUT) -> Service:
    """Check ``cfg``, then run ``haproxy -db -f cfg`` and wait for its binds.

    ``extra_cfgs`` are read after ``cfg`` (HAProxy merges repeated ``global``
    sections), e.g. to add a ``stats socket`` to a rendered config untouched.

    ``-db`` keeps HAProxy in the foreground (a ``daemon`` line in ``cfg`` is
    overridden) and, with it, HAProxy writes no pidfile, so the pid we spawned
    is the record. Ready when every ``bind`` in ``cfg`` accepts connections,
    the stats socket (if any) answers, and each of ``health_urls`` answers 200.
    """
    ok, output = check(cfg, extra_cfgs)
    if not ok:
        raise ServiceError(name, f"haproxy -c -f {cfg} rejected the config:\n{output}")
    listen = read_cfg(cfg, extra_cfgs)
    process.require_free_ports(name, listen.binds)
    state_dir = state_dir.absolute()
    if listen.stats_socket:
        Path(listen.stats_socket).parent.mkdir(parents=True, exist_ok=True)
    proc = process.spawn(name, [_binary(name), "-db", *_files(cfg, extra_cfgs)], state_dir=state_dir)
    try:
        for host, port in listen.binds:
            process.wait_for_tcp(host, port, timeout, service=name, pid=proc.pid, log=proc.log)
        if listen.stats_socket:
            process.wait_for_unix_socket(listen.stats_socket, timeout, service=name,
                                         pid=proc.pid, log=proc.log)
        for url in health_urls:
            process.wait_for_http(url, 200, timeout, service=name, pid=proc.pid, log=proc.log)
    except BaseException:
        process.stop_proc(proc)
        raise
    first = listen.binds[0] if listen.binds else None
    address = " ".join(f"{h}:{p}" for h, p in listen.binds)
    return Service(name=name, kind="haproxy", procs=(proc,), address=address,
                   url=f"http://{first[0]}:{first[1]}" if first else "",
                   health=f"unix:{listen.stats_socket}" if listen.stats_socket
                   else (f"tcp://{first[0]}:{first[1]}" if first else ""),
                   log=proc.log)


# --- the stats / admin socket ---------------------------------------------


def command(stats_socket: str | Path, line: str, timeout: float = 5.0) -> str:
    """Send one command (``show stat``, ``disable server be/srv``) and return the answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(stats_socket))
        except OSError as exc:
            raise ServiceError("haproxy", f"cannot connect to stats socket {stats_socket}: "
                                          f"{exc.strerror or exc}") from exc
        sock.sendall(line.encode() + b"\n")
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerStat:
    """One row of ``show stat`` for a backend server.

    :ivar status: ``UP``, ``DOWN``, ``MAINT``, ``UP 1/3`` (going down), ...
    :ivar sessions: cumulated sessions (``stot``); with ``Connection: close``
        that is one per request
    :ivar responses: HTTP responses sent back (sum of ``hrsp_*``)
    :ivar current: sessions open right now (``scur``); a drained server is
        idle when it reaches 0
    :ivar most: the most sessions it had open at once (``smax``)
    :ivar limit: its ``maxconn`` (``slim``); 0 for none
    """

    backend: str
    server: str
    status: str
    sessions: int
    responses: int
    check_status: str
    current: int = 0
    most: int = 0
    limit: int = 0


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


def show_stat(stats_socket: str | Path) -> list[ServerStat]:
    """Per-server status and counters from ``show stat`` (frontend/backend rows skipped)."""
    text = command(stats_socket, "show stat")
    if text.startswith("# "):
        text = text[2:]
    rows = csv.DictReader(io.StringIO(text))
    stats = []
    for row in rows:
        if row.get("svname") in ("FRONTEND", "BACKEND", None):
            continue
        responses = sum(_int(row.get(k)) for k in
                        ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"))
        stats.append(ServerStat(backend=row["pxname"], server=row["svname"],
                                status=row.get("status", ""), sessions=_int(row.get("stot")),
                                responses=responses, check_status=row.get("check_status", ""),
                                current=_int(row.get("scur")), most=_int(row.get("smax")),
                                limit=_int(row.get("slim"))))
    return stats


def server_status(stats_socket: str | Path, backend: str, server: str) -> ServerStat:
    """The ``show stat`` row of one server; ServiceError when there is none."""
    for stat in show_stat(stats_socket):
        if stat.backend == backend and stat.server == server:
            return stat
    raise ServiceError("haproxy", f"show stat: no server {backend}/{server} "
                                  f"(got {[f'{s.backend}/{s.server}' for s in show_stat(stats_socket)]})")


def set_server_state(stats_socket: str | Path, backend: str, server: str, state: str) -> None:
    """``set server BACKEND/SERVER state ready|drain|maint``; ServiceError when HAProxy objects.

    HAProxy answers nothing on success and a sentence otherwise (no such
    server, a socket without ``level admin``).
    """
    answer = command(stats_socket, f"set server {backend}/{server} state {state}").strip()
    if answer:
        raise ServiceError("haproxy", f"set server {backend}/{server} state {state}: {answer}")
