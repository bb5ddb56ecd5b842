"""haproxy.cfg's admin socket, log and check timing, accepted and used by the real HAProxy.

HAProxy binds 127.0.0.80, a stand-in API instance 127.0.0.81; both are
stopped by pid. The drain and enable go through community.general.haproxy,
the module rolling-restart.yml uses.
"""

from __future__ import annotations

import http.server
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_checks import run_tool
from heat_wsgi.model import (
    AdminSocket, ApiInstance, HealthCheck, Host, Listener, Paths, ProxyConfig, ProxyLog,
    ProxyTimeouts, Topology,
)
from heat_wsgi.render import render_all
from heat_wsgi.writer import write_tree
from render_checks import HAPROXY, haproxy_check, stop

pytestmark = pytest.mark.real

PROXY, APP = "127.0.0.80", "127.0.0.81"


def topology(root: Path, **proxy: object) -> Topology:
    paths = Paths(run_dir=f"{root}/run", haproxy_config=f"{root}/haproxy.cfg")
    return Topology(
        name="admin-check",
        hosts=(Host(name="lb", address=PROXY, paths=paths), Host(name="app", address=APP)),
        api_instances=(ApiInstance(name="api-1", service="api", host="app", port=8004),),
        proxy=ProxyConfig(host="lb", listeners=(Listener(service="api", port=8004),),
                          stats=None, **proxy),  # type: ignore[arg-type]
        base_config="[DEFAULT]\n")


def haproxy_cfg(root: Path, tmp: Path, **proxy: object) -> Path:
    out = write_tree(render_all(topology(root, **proxy)), tmp / "out")
    return next(out.glob("lb/**/haproxy.cfg"))


@pytest.mark.parametrize("proxy", [
    {},
    {"admin_socket": AdminSocket(mode="0660", group="root"), "log": ProxyLog(target="stdout")},
    {"log": ProxyLog(target="127.0.0.80:514", facility="daemon", health_checks=False),
     "health_check": HealthCheck(inter="1s", fastinter="250ms", downinter="5s", fall=2)},
    {"admin_socket": None, "log": None},
], ids=["defaults", "group-stdout", "udp-timing", "none"])
def test_haproxy_accepts_every_variant_without_warnings(tmp_path: Path, proxy: dict[str, object]) -> None:
    cfg = haproxy_cfg(tmp_path / "state", tmp_path, **proxy)
    result = haproxy_check(cfg)
    assert result.returncode == 0, cfg.read_text() + result.stdout + result.stderr


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def app() -> Iterator[None]:
    server = http.server.ThreadingHTTPServer((APP, 8004), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def admin(sock: Path, command: str) -> str:
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(str(sock))
        client.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := client.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def server_status(sock: Path) -> str:
    for line in admin(sock, "show stat").splitlines():
        fields = line.split(",")
        if fields[:2] == ["rest_api_proxy", "api-1"]:
            return fields[17]
    raise AssertionError("no server api-1 in show stat")


def wait_status(sock: Path, want: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while (found := server_status(sock)) != want:
        assert time.monotonic() < deadline, f"server is {found}, not {want}"
        time.sleep(0.1)


def haproxy_module(sock: Path, state: str, cwd: Path, **extra: str) -> str:
    args = " ".join([f"state={state}", "host=api-1", "backend=rest_api_proxy", f"socket={sock}",
                     "wait=true", "wait_interval=1", "wait_retries=20",
                     *(f"{k}={v}" for k, v in extra.items())])
    result = run_tool("ansible", ["localhost", "-c", "local", "-e",
                                  f"ansible_python_interpreter={sys.executable}",
                                  "-m", "community.general.haproxy", "-a", args], cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_admin_socket_drains_and_enables_and_checks_are_logged(tmp_path: Path, app: None) -> None:
    root = tmp_path / "state"
    (root / "run").mkdir(parents=True)
    cfg = haproxy_cfg(root, tmp_path, log=ProxyLog(target="stdout"),
                      health_check=HealthCheck(inter="500ms", fall=2, rise=1),
                      timeouts=ProxyTimeouts(connect="500ms", check="1s"))
    log = tmp_path / "haproxy.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        sock = root / "run" / "haproxy.sock"
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        wait_status(sock, "UP")
        haproxy_module(sock, "drain", tmp_path, drain="true")
        assert server_status(sock) == "DRAIN"
        haproxy_module(sock, "enabled", tmp_path)
        assert server_status(sock) == "UP"
        # option log-health-checks: each check result change is logged.
        text = log.read_text()
        assert "Health check for server rest_api_proxy/api-1 succeeded" in text, text
    finally:
        stop(proc)  # type: ignore[arg-type]
