"""The parts of heat_wsgi.runtime that refuse before anything starts: taken ports,
missing binaries, a state dir Apache's workers cannot enter. No process is started."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from heat_wsgi.errors import ServiceError
from heat_wsgi.runtime import apache, process


def test_port_in_use_is_detected() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.34", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert process.port_in_use("127.0.0.34", port)
        with pytest.raises(ServiceError, match=f"127.0.0.34:{port} is already in use"):
            process.require_free_ports("thing", [("127.0.0.34", port)])
    assert not process.port_in_use("127.0.0.34", port)


def test_missing_binary_names_service(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="nope.*cannot run /nonexistent/bin"):
        process.spawn("nope", ["/nonexistent/bin"], state_dir=tmp_path)


def test_apache_refuses_state_dir_www_data_cannot_reach(tmp_path: Path) -> None:
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    with pytest.raises(ServiceError, match="www-data .* cannot enter"):
        apache.start_apache(hidden / "httpd.conf", hidden, hidden / "state")


# A stand-in for uwsgi's stop race (process.stop's nudge): on SIGTERM the
# "master" waits for its worker, as uwsgi's does in a blocking waitpid; the
# worker ignores the first SIGHUP (the one uwsgi's master sends and a fresh
# worker misses) and exits on the second.
_MASTER = r"""
import os, signal, sys, time
worker = os.fork()
if worker == 0:
    seen = []
    signal.signal(signal.SIGHUP, lambda *a: seen.append(1) if len(seen) < 1 else os._exit(0))
    open(sys.argv[2] + ".worker", "w").write("ready")   # once its handler is in place
    while True:
        time.sleep(0.05)
def term(*args):
    os.kill(worker, signal.SIGHUP)       # the master's graceful stop...
    os.waitpid(worker, 0)                 # ...and its blocking wait
    open(sys.argv[1], "w").write("graceful")
    os._exit(0)
signal.signal(signal.SIGTERM, term)
while not os.path.exists(sys.argv[2] + ".worker"):
    time.sleep(0.01)
open(sys.argv[2], "w").write("ready")
while True:
    time.sleep(0.05)
"""


@pytest.mark.parametrize("nudge", [None, 0.5])
def test_stop_nudges_a_worker_that_missed_its_sighup(tmp_path: Path, nudge: float | None) -> None:
    import sys
    import time
    done, ready = tmp_path / "done", tmp_path / "ready"
    proc = process.spawn("stand-in", [sys.executable, "-c", _MASTER, str(done), str(ready)],
                         state_dir=tmp_path)
    deadline = time.monotonic() + 20
    while not ready.exists():
        assert time.monotonic() < deadline, "the stand-in did not start"
        time.sleep(0.05)
    started = time.monotonic()
    process.stop_proc(proc, 3.0, nudge_children_after=nudge)
    assert not process.is_alive(proc.pid) and not process.group_alive(proc.pid)
    if nudge is None:
        # No nudge: the master hangs on its worker until the SIGKILL at the timeout.
        assert not done.exists() and time.monotonic() - started >= 3.0
    else:
        assert done.read_text() == "graceful" and time.monotonic() - started < 3.0


@pytest.mark.parametrize("argv, code, said", [
    ([], 0, ""), ([""], 0, ""),                       # $MAINPID empty: the master is gone
    (["12x"], 2, "the master's pid must be a number (got '12x')"),
    (["1"], 2, "refusing pid 1"),
    (["5", "6"], 2, "expected one argument"),
])
def test_uwsgi_stop_arguments(argv: list[str], code: int, said: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    from heat_wsgi import uwsgi_stop
    assert uwsgi_stop.main(argv) == code
    assert said in capsys.readouterr().err


def test_down_stops_a_service_that_was_spawned_but_never_recorded(tmp_path: Path, capsys) -> None:
    """A starter killed between spawn and ready (a timeout's SIGKILL on ``heat-wsgi
    restart``) leaves a process only its pidfile names: ``down`` stops it."""
    import os
    import sys
    from heat_wsgi import cluster
    stray = process.spawn("heat-engine-B-1", [sys.executable, "-c", "import time; time.sleep(60)"],
                          state_dir=tmp_path)
    recycled = process.spawn("old", [sys.executable, "-c", "import time; time.sleep(60)"],
                             state_dir=tmp_path)
    try:
        # A pidfile written a minute after its pid started is not our spawn's
        # (the pid was recycled): it must be left alone.
        pidfile = Path(recycled.pidfile)
        later = pidfile.stat().st_mtime + 60
        os.utime(pidfile, (later, later))
        assert [p.pid for p in process.unrecorded_spawns(tmp_path / "run", set())] == [stray.pid]
        assert process.unrecorded_spawns(tmp_path / "run", {stray.pid}) == []
        cluster.down(tmp_path)
        assert not process.is_alive(stray.pid)
        assert process.is_alive(recycled.pid, recycled.starttime)
        assert f"stopped heat-engine-B-1          pid {stray.pid} (started, never recorded)" \
            in capsys.readouterr().out
        assert not Path(stray.pidfile).exists()
    finally:
        for proc in (stray, recycled):
            process.stop_proc(proc, 5.0)


@pytest.mark.parametrize("error, said", [
    (ModuleNotFoundError("No module named 'heat'", name="heat"),
     "cannot import 'heat' in"),
    (ImportError("/x/_ssl.so: undefined symbol: _PyModule_Add", name="_ssl"),
     "cannot load '_ssl' in"),
])
def test_a_heat_that_cannot_be_imported_is_told_apart_from_one_that_cannot_load(
        monkeypatch, error: ImportError, said: str) -> None:
    """Not installed, or installed for another Python build (Debian's mod_wsgi with
    a pyenv venv as python-home): the message says which, with the loader's words."""
    import builtins
    from heat_wsgi import boot
    from heat_wsgi.errors import BootError
    real_import = builtins.__import__

    def failing(name: str, *args, **kwargs):
        if name == "oslo_i18n":
            raise error
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing)
    with pytest.raises(BootError) as caught:
        boot._import_heat("heat-api")
    assert said in str(caught.value)
    if isinstance(error, ModuleNotFoundError):
        assert "not installed there" in str(caught.value)
    else:
        assert "undefined symbol: _PyModule_Add" in str(caught.value)
        assert "same Python build" in str(caught.value)
