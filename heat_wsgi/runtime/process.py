"""Start, watch and stop one foreground process, identified only by its pid."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heat_wsgi.errors import ServiceError

# How many lines of a log a ServiceError quotes.
LOG_TAIL_LINES = 15
POLL_INTERVAL = 0.2

# Children we spawned in this interpreter. Holding the Popen lets us reap them,
# so a dead child does not linger as a zombie that still "exists" for kill(0).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
# Exit statuses of reaped children, so an error can still report them.
_EXITED: dict[int, int] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Proc:
    """One process we started.

    ``starttime`` is the kernel's start time of the pid (field 22 of
    ``/proc/<pid>/stat``). A later invocation compares it before signalling,
    so a recycled pid that now belongs to somebody else is never touched.
    """

    name: str
    pid: int
    starttime: int
    argv: tuple[str, ...]
    log: str
    pidfile: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "pid": self.pid, "starttime": self.starttime,
                "argv": list(self.argv), "log": self.log, "pidfile": self.pidfile}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Proc:
        return cls(name=str(data["name"]), pid=int(data["pid"]),
                   starttime=int(data["starttime"]),
                   argv=tuple(str(a) for a in data["argv"]), log=str(data["log"]),
                   pidfile=str(data["pidfile"]))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) sits in parentheses and may hold spaces.
    return raw[raw.rindex(")") + 2:].split()


def proc_starttime(pid: int) -> int | None:
    """The kernel start time of ``pid``, or None when there is no such pid."""
    fields = _stat_fields(pid)
    # After the ")" the fields start at number 3 (state); starttime is 22.
    return int(fields[22 - 3]) if fields else None


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None:
        status = child.poll()
        if status is not None:
            _EXITED[pid] = status
            del _CHILDREN[pid]


def is_alive(pid: int, starttime: int | None = None) -> bool:
    """True while ``pid`` runs (zombies count as dead).

    :param starttime: when given, the pid must still carry this start time,
        i.e. it is still the process we started and not a recycled pid.
    """
    _reap(pid)
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return starttime is None or int(fields[22 - 3]) == starttime


def exit_status(pid: int) -> int | None:
    """The exit status of a child of ours that has ended, else None."""
    _reap(pid)
    return _EXITED.get(pid)


def log_tail(log: str | os.PathLike[str] | None, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of ``log``, indented, for an error message."""
    if log is None:
        return ""
    try:
        with open(log, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 16384))
            text = handle.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"\n    (cannot read {log}: {exc.strerror})"
    tail = text.splitlines()[-lines:]
    if not tail:
        return f"\n    ({log} is empty)"
    return "\n" + "\n".join("    | " + line for line in tail)


def _fail(service: str, message: str, log: str | os.PathLike[str] | None) -> ServiceError:
    return ServiceError(service, message + log_tail(log), str(log) if log else None)


def listener_of(host: str, port: int) -> str:
    """Best-effort description of who listens on host:port (for messages)."""
    try:
        out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True,
                             text=True, timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.splitlines()[0] if out else ""


def port_in_use(host: str, port: int) -> bool:
    """True when a TCP listener already holds host:port (or the wildcard)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR as servers set it: TIME_WAIT leftovers are not "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def require_free_ports(service: str, addresses: Sequence[tuple[str, int]]) -> None:
    """Raise ServiceError naming the first host:port some process already holds."""
    for host, port in addresses:
        if port_in_use(host, port):
            who = listener_of(host, port)
            detail = f"; held by: {who}" if who else ""
            raise ServiceError(service, f"cannot start: {host}:{port} is already in use{detail}")


def spawn(name: str, argv: Sequence[str], *, state_dir: Path, log: Path | None = None,
          env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Proc:
    """Start ``argv`` in the foreground of its own session and record its pid.

    stdout and stderr are appended to ``log`` (default
    ``<state_dir>/logs/<name>.log``) and the pid is written to
    ``<state_dir>/run/<name>.pid``. The process gets its own session, so a
    Ctrl-C on our terminal does not reach it and its children share a process
    group whose id is the recorded pid.

    :param env: the complete environment; None inherits ours.
    :raises ServiceError: the executable does not exist or cannot run.
    """
    run_dir = state_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    log = log if log is not None else state_dir / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"==== heat-wsgi: {time.strftime('%Y-%m-%d %H:%M:%S')} starting: "
                  f"{' '.join(argv)}\n".encode())
        out.flush()
        try:
            child = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     env=dict(env) if env is not None else None,
                                     cwd=cwd, close_fds=True)
        except OSError as exc:
            raise ServiceError(name, f"cannot run {argv[0]}: {exc.strerror} "
                                     "(is its package installed?)", str(log)) from exc
    _CHILDREN[child.pid] = child
    _EXITED.pop(child.pid, None)
    starttime = proc_starttime(child.pid) or 0
    pidfile = run_dir / f"{name}.pid"
    pidfile.write_text(f"{child.pid}\n")
    return Proc(name=name, pid=child.pid, starttime=starttime, argv=tuple(argv), log=str(log),
                pidfile=str(pidfile))


def _boot_time() -> float:
    """When the kernel booted, in wall-clock seconds (the base of every start time)."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("/proc/stat has no btime line")


#: How far a pidfile's mtime may trail the start of its process: spawn writes
#: it right after the fork, so a pid that started long before, or after, the
#: file was written is a recycled one.
PIDFILE_WRITTEN_WITHIN = 10.0


def unrecorded_spawns(run_dir: Path, recorded: set[int]) -> list[Proc]:
    """Processes :func:`spawn` started under ``run_dir`` that still run and are not
    in ``recorded``.

    A caller records a service once it is ready; if the caller is killed in
    between (a timeout's SIGKILL), its pidfile is the only trace of the
    process. A pidfile counts only while its pid started within
    :data:`PIDFILE_WRITTEN_WITHIN` seconds before the file was written, so a
    recycled pid is never taken for ours.
    """
    pidfiles = sorted(run_dir.glob("*.pid")) if run_dir.is_dir() else []
    if not pidfiles:
        return []
    booted, ticks = _boot_time(), os.sysconf("SC_CLK_TCK")
    found: list[Proc] = []
    for pidfile in pidfiles:
        try:
            pid, written = int(pidfile.read_text().split()[0]), pidfile.stat().st_mtime
        except (OSError, ValueError, IndexError):
            continue
        starttime = proc_starttime(pid) if pid not in recorded else None
        if starttime is None or not is_alive(pid, starttime) or \
                not written - PIDFILE_WRITTEN_WITHIN <= booted + starttime / ticks <= written + 1.0:
            continue
        try:
            argv = tuple(Path(f"/proc/{pid}/cmdline").read_bytes().decode(
                errors="replace").split("\0")[:-1])
        except OSError:
            continue
        found.append(Proc(name=pidfile.stem, pid=pid, starttime=starttime, argv=argv, log="",
                          pidfile=str(pidfile)))
    return found


def children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (a reload replaces them all)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            # fields[1] is the parent pid (field 4).
            if fields and fields[0] not in ("Z", "X") and int(fields[1]) == pid:
                found.add(int(entry))
    return found


def group_alive(pgid: int) -> bool:
    """Whether process group ``pgid`` (a service started in its own session) has a live member."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg(0) also "succeeds" for a group holding only zombies of ours.
    _reap(pgid)
    return _group_members(pgid) != []


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            # fields[2] is the process group id (field 5).
            if fields and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
                members.append(int(entry))
    return members


def _wait_gone(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


#: When a uwsgi master still runs this long after its SIGTERM, its workers get
#: SIGHUP once more (the ``nudge_children_after`` of :func:`stop` that
#: ``heat-wsgi down`` and the rendered units' ExecStop both use).
UWSGI_NUDGE_AFTER = 5.0


def stop(pid: int, timeout: float = 10.0, *, starttime: int | None = None,
         nudge_children_after: float | None = None) -> None:
    """Stop a process we started: TERM, then KILL after ``timeout``, then reap.

    Only ``pid`` itself and the process group it leads (we started it with
    its own session, so the group id is that pid) are signalled; nothing is
    looked up by name. Workers left behind in that group after the leader
    exits (an uwsgi worker, an Apache child) are stopped the same way.

    :param starttime: skip the pid when it no longer carries this start time.
    :param nudge_children_after: if the process still runs this many seconds
        after the TERM, send each of its children SIGHUP once. uwsgi 2.0.31's
        master stops gracefully by sending its workers SIGHUP, and a worker
        that had only just spawned can miss it; the master then waits on it
        in a blocking waitpid, past its own mercy timeout (measured: 4-8 of
        20 stops sent right after the spawn hung, none after a second SIGHUP).
    """
    if is_alive(pid, starttime):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if nudge_children_after is not None and nudge_children_after < timeout and \
                not _wait_gone(lambda: is_alive(pid), nudge_children_after):
            for child in children(pid):
                try:
                    os.kill(child, signal.SIGHUP)
                except ProcessLookupError:
                    pass
            timeout -= nudge_children_after
        if not _wait_gone(lambda: is_alive(pid), timeout):
            _kill_group_or_pid(pid, signal.SIGKILL)
            _wait_gone(lambda: is_alive(pid), 5.0)
    elif starttime is not None and is_alive(pid):
        return  # the pid was recycled: not ours any more, and not its group
    # The group id stays reserved while any member lives, so it is still ours.
    if group_alive(pid):
        _kill_group_or_pid(pid, signal.SIGTERM)
        if not _wait_gone(lambda: group_alive(pid), timeout):
            _kill_group_or_pid(pid, signal.SIGKILL)
            _wait_gone(lambda: group_alive(pid), 5.0)
    _reap(pid)


def _kill_group_or_pid(pid: int, sig: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
            return
    except ProcessLookupError:
        pass
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stop_proc(proc: Proc, timeout: float = 10.0, *,
              nudge_children_after: float | None = None) -> None:
    """:func:`stop` for a recorded :class:`Proc`, with its pid-reuse guard."""
    stop(proc.pid, timeout, starttime=proc.starttime or None,
         nudge_children_after=nudge_children_after)
    try:
        pidfile = Path(proc.pidfile)
        if pidfile.is_file() and pidfile.read_text().strip() == str(proc.pid):
            pidfile.unlink()
    except OSError:
        pass


def _check_alive(service: str, what: str, pid: int | None, log: str | os.PathLike[str] | None) -> None:
    if pid is not None and not is_alive(pid):
        status = exit_status(pid)
        how = f"exited with status {status}" if status is not None else "is no longer running"
        raise _fail(service, f"{how} before {what}", log)


def _wait(service: str, what: str, probe: Callable[[], bool], timeout: float,
          pid: int | None, log: str | os.PathLike[str] | None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if probe():
            return
        _check_alive(service, what, pid, log)
        if time.monotonic() >= deadline:
            raise _fail(service, f"not ready after {timeout:g}s: {what}", log)
        time.sleep(POLL_INTERVAL)


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_tcp(host: str, port: int, timeout: float, *, service: str,
                 pid: int | None = None, log: str | os.PathLike[str] | None = None) -> None:
    """Wait until host:port accepts connections.

    :param pid: the process expected to open it; its death ends the wait early.
    :raises ServiceError: timeout or early death, quoting the end of ``log``.
    """
    _wait(service, f"waiting for TCP {host}:{port} to accept connections",
          lambda: tcp_open(host, port), timeout, pid, log)


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The HTTP status ``url`` answers with, or None when nothing answers."""
    request = urllib.request.Request(url, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


def wait_for_http(url: str, expect_status: int = 200, timeout: float = 30.0, *, service: str,
                  pid: int | None = None, log: str | os.PathLike[str] | None = None) -> None:
    """Wait until GET ``url`` answers ``expect_status``."""
    seen: list[int | None] = [None]

    def probe() -> bool:
        seen[0] = http_status(url)
        return seen[0] == expect_status

    try:
        _wait(service, f"waiting for GET {url} to answer {expect_status}", probe, timeout, pid, log)
    except ServiceError as exc:
        if seen[0] is not None:
            exc.message += f"\n    (last answer: HTTP {seen[0]})"
        raise


def unix_socket_open(path: str | os.PathLike[str]) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(os.fspath(path))
            return True
        except OSError:
            return False


def wait_for_unix_socket(path: str | os.PathLike[str], timeout: float, *, service: str,
                         pid: int | None = None, log: str | os.PathLike[str] | None = None) -> None:
    """Wait until the unix socket at ``path`` exists and accepts connections."""
    _wait(service, f"waiting for unix socket {path} to accept connections",
          lambda: unix_socket_open(path), timeout, pid, log)


def wait_for_log(log: str | os.PathLike[str], needle: str, timeout: float, *, service: str,
                 pid: int | None = None, offset: int = 0) -> None:
    """Wait until ``needle`` appears in ``log`` past byte ``offset``."""
    def probe() -> bool:
        try:
            with open(log, "rb") as handle:
                handle.seek(offset)
                return needle.encode() in handle.read()
        except OSError:
            return False

    _wait(service, f"waiting for {needle!r} in its log", probe, timeout, pid, log)


def log_size(log: str | os.PathLike[str]) -> int:
    """Current size of ``log`` (0 when missing), to wait only for new lines."""
    try:
        return os.path.getsize(log)
    except OSError:
        return 0


def run_to_completion(service: str, argv: list[str], log: Path, timeout: float) -> None:
    """Run a one-shot command to completion, its output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        try:
            result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ServiceError(service, f"did not finish in {timeout:g}s"
                               + log_tail(log), str(log)) from exc
    if result.returncode != 0:
        raise ServiceError(service, f"exited with status {result.returncode}"
                           + log_tail(log), str(log))
