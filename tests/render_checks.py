"""Real-binary checks of rendered files: haproxy -c, a private Apache's -t,
and a uwsgi that actually starts. Every process started here is waited for or
stopped by its own pid; servers bind only 127.0.0.40-127.0.0.49."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from conftest import wait_until

T = TypeVar("T")

APACHE = shutil.which("apache2") or "/usr/sbin/apache2"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
UWSGI = str(Path(sys.prefix) / "bin" / "uwsgi")
MODULES = "/usr/lib/apache2/modules"
_APACHE_MODULES = (
    ("mpm_event_module", "mod_mpm_event.so"), ("authz_core_module", "mod_authz_core.so"),
    ("alias_module", "mod_alias.so"), ("env_module", "mod_env.so"),
    ("headers_module", "mod_headers.so"), ("proxy_module", "mod_proxy.so"),
    ("proxy_http_module", "mod_proxy_http.so"), ("proxy_uwsgi_module", "mod_proxy_uwsgi.so"),
    ("wsgi_module", "mod_wsgi.so"),
)


def haproxy_check(cfg: Path) -> subprocess.CompletedProcess[str]:
    """``haproxy -dW -c``: valid and free of warnings."""
    return subprocess.run([HAPROXY, "-dW", "-c", "-f", str(cfg)], capture_output=True,
                          text=True, timeout=30)


def apache_check(state: Path, sites: list[Path],
                 defines: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """``apache2 -t`` of a private instance that includes ``sites``; ``defines``
    are ``-D`` names such as ``DUMP_VHOSTS`` (what Apache read, on stdout)."""
    run = state / "run"
    run.mkdir(parents=True, exist_ok=True)
    lines = [f"ServerRoot {state}", f"PidFile {run}/httpd.pid", f"DefaultRuntimeDir {run}",
             f"Mutex file:{run}", f"ErrorLog {state}/error.log", "User www-data",
             "Group www-data", "ServerName localhost"]
    lines += [f"LoadModule {name} {MODULES}/{file}" for name, file in _APACHE_MODULES]
    lines += [f"Include {site}" for site in sites]
    conf = state / "httpd.conf"
    conf.write_text("\n".join(lines) + "\n")
    dump = [arg for name in defines for arg in ("-D", name)]
    return subprocess.run([APACHE, "-d", str(state), "-f", str(conf), "-t", *dump],
                          capture_output=True, text=True, timeout=30)


TINY_APP = '''\
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"tiny " + environ.get("PATH_INFO", "").encode()]
'''


def uwsgi_get(ini: Path, keys: list[str]) -> subprocess.CompletedProcess[str]:
    """What uwsgi's own parser reads from ``ini``: ``--get`` prints the first value of
    each key, one a line, and exits before binding or loading anything;
    ``--strict`` fails on an option uwsgi does not know."""
    return subprocess.run([UWSGI, "--strict", "--ini", str(ini),
                           *(arg for key in keys for arg in ("--get", key))],
                          capture_output=True, text=True, timeout=30)


def start_uwsgi(ini: Path, app_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start uwsgi on a rendered ini whose module was swapped for ``tinyapp``."""
    (app_dir / "tinyapp.py").write_text(TINY_APP)
    env = dict(os.environ, PYTHONPATH=str(app_dir))
    with open(log, "wb") as out:
        return subprocess.Popen([UWSGI, "--strict", "--ini", str(ini)], stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=app_dir)


# uwsgi 2.0.31 race: SIGTERM soon after the workers spawn can leave one
# worker that never acts on the master's graceful-stop SIGHUP, and the master
# then waits on it without its reload mercy. Measured here on a tiny app: 4 to
# 8 stops in 20 hung that way when sent right after the first answer, none
# after a 2 s settle, and a second SIGHUP to the worker always ended it.
WORKER_NUDGE_AFTER = 5.0


def _children(pid: int) -> list[int]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    kids: list[int] = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids.extend(int(k) for k in f.read().split())
        except OSError:
            continue
    return kids


def stop(proc: subprocess.Popen[bytes], timeout: float = 20) -> int:
    """SIGTERM this uwsgi master (die-on-term) and wait for a graceful exit.

    A worker that missed its graceful-stop signal (the race above) gets the
    same SIGHUP again from us; SIGKILL only if the master still hangs.
    """
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(min(WORKER_NUDGE_AFTER, timeout))
        except subprocess.TimeoutExpired:
            args = proc.args if isinstance(proc.args, (list, tuple)) else [proc.args]
            is_uwsgi = "uwsgi" in os.path.basename(str(args[0]))
            for kid in _children(proc.pid) if is_uwsgi else []:
                try:
                    os.kill(kid, signal.SIGHUP)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(max(timeout - WORKER_NUDGE_AFTER, 1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    return proc.returncode


def _while_running(proc: subprocess.Popen[bytes], probe: Callable[[], T]) -> Callable[[], T]:
    """``probe``, failing at once when uwsgi has exited."""
    def check() -> T:
        if proc.poll() is not None:
            raise AssertionError(f"uwsgi exited with {proc.returncode}")
        return probe()
    return check


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 20) -> bytes:
    def body() -> tuple[bytes] | None:   # a tuple: an empty body is an answer too
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return (bytes(response.read()),)
        except OSError:
            return None
    return wait_until(_while_running(proc, body), timeout, f"{url} answers")[0]


def wait_path(path: Path, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    wait_until(_while_running(proc, path.exists), timeout, f"{path} appears", interval=0.1)


def wait_log(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Wait until ``text`` shows up in the log file ``path``."""
    wait_until(_while_running(proc, lambda: path.exists() and text in path.read_text(
        errors="replace")), timeout, f"{text!r} in {path}", interval=0.1)


def wait_workers(path: Path, workers: str | int, proc: subprocess.Popen[bytes]) -> None:
    """Wait until uwsgi spawned its last worker and ran its master-start hook.

    The rendered ini installs the graceful stop (SIGTERM -> gracefully kill
    them all) in that hook, which runs after the workers spawn: a SIGTERM
    before it would test uwsgi's default stop instead.
    """
    wait_log(path, f"spawned uWSGI worker {workers} ", proc)
    wait_log(path, '"unix_signal:15 gracefully_kill_them_all" (master-start)', proc)
