"""``heat-wsgi up`` when something is wrong: a taken port, a missing binary, a
service that will not start. Each must fail with a message naming the service
(and its log when it has one) and leave nothing of ours running.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from heat_wsgi import cluster
from heat_wsgi.errors import ServiceError
from heat_wsgi.model import ConfOption
from heat_wsgi.runtime import process
from heat_wsgi.local.localize import default_topology
from heat_wsgi.runtime.record import load

from conftest import reachable_dir

pytestmark = pytest.mark.real

HEAT_WSGI = str(Path(sys.prefix) / "bin" / "heat-wsgi")


@pytest.fixture
def state_dir() -> Iterator[Path]:
    path = reachable_dir("heat-wsgi-upfail-")
    yield path
    # Whatever happened, nothing recorded may survive the test.
    cluster.down(path, progress=lambda _line: None)
    shutil.rmtree(path, ignore_errors=True)


def _nothing_running(state_dir: Path) -> None:
    record = load(state_dir)
    assert record is None or record.services == [], [s.name for s in record.services]
    pids = [int(p.read_text()) for p in (state_dir / "run").glob("*.pid")] \
        if (state_dir / "run").is_dir() else []
    assert [pid for pid in pids if process.is_alive(pid)] == []


def test_taken_port_fails_before_starting_anything(state_dir: Path) -> None:
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", 8004))
        squatter.listen()
        result = subprocess.run([HEAT_WSGI, "up", "--state-dir", str(state_dir)],
                                capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert "heat-wsgi: error: haproxy: cannot start: 127.0.0.1:8004 is already in use" \
        in result.stderr
    _nothing_running(state_dir)


def test_missing_binary_is_named(state_dir: Path, tmp_path: Path) -> None:
    empty_venv = tmp_path / "venv-without-uwsgi"
    (empty_venv / "bin").mkdir(parents=True)
    for tool in ("heat-engine", "heat-manage"):
        (empty_venv / "bin" / tool).symlink_to(Path(sys.prefix) / "bin" / tool)
    with pytest.raises(ServiceError) as info:
        cluster.up(None, state_dir, venv=empty_venv, progress=lambda _line: None)
    assert info.value.service == "uwsgi"
    assert f"cannot run {empty_venv}/bin/uwsgi: not found (pip install uwsgi)" in str(info.value)
    _nothing_running(state_dir)


def test_service_that_will_not_start_stops_everything(state_dir: Path) -> None:
    # node-3's heat.conf points at a paste file that does not exist, so its
    # uwsgi instances die while loading the app; everything else starts fine.
    topology = default_topology(engines_per_host=1, cloudwatch=False,
                                base_config=cluster.base_heat_conf())
    hosts = tuple(dataclasses.replace(h, heat_conf=(ConfOption(
        section="paste_deploy", key="api_paste_config", value="/nonexistent/api-paste.ini"),))
        if h.name == "node-3" else h for h in topology.hosts)
    broken = dataclasses.replace(topology, hosts=hosts)
    lines: list[str] = []
    with pytest.raises(ServiceError) as info:
        cluster.up(None, state_dir, topology=broken, progress=lines.append)
    error = info.value
    assert error.service in ("uwsgi-api-node-3", "uwsgi-cfn-node-3")
    assert error.log is not None and error.log.startswith(str(state_dir / "logs"))
    assert "/nonexistent/api-paste.ini" in str(error)  # the log tail says why
    assert any("stopping what this run started" in line for line in lines)
    started = [line.split()[1] for line in lines if line.startswith("  ok  ")]
    assert "mariadb" in started and "rabbitmq" in started
    _nothing_running(state_dir)
