"""A real Heat back end for tests: MariaDB, RabbitMQ and a heat-engine,
started through :mod:`heat_wsgi.runtime` on a test's own loopback address,
plus the client-side helpers the real-server tests share."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from heat_wsgi.runtime import heat, keystone, mariadb, rabbitmq
from heat_wsgi.runtime.service import Service, stop_all

from conftest import VENV, reachable_dir, wait_until, write_heat_conf

RANDOM_STRING_TEMPLATE: dict[str, Any] = {
    "heat_template_version": "2018-08-31",
    "resources": {"rs": {"type": "OS::Heat::RandomString", "properties": {"length": 16}}},
    "outputs": {"value": {"value": {"get_attr": ["rs", "value"]}}},
}


@dataclass
class Backend:
    state_dir: Path
    heat_conf: Path
    transport_url: str
    database_url: str
    services: list[Service] = field(default_factory=list)


@contextmanager
def heat_backend(address: str, *, epmd_port: int, engine_workers: int = 2,
                 prefix: str = "heat-wsgi-test-") -> Iterator[Backend]:
    """MariaDB + RabbitMQ on ``address``, the schema, and one heat-engine."""
    state = reachable_dir(prefix)
    services: list[Service] = []
    try:
        db = mariadb.start_mariadb(state, address=address, port=3306)
        services.append(db)
        mq = rabbitmq.start_rabbitmq(state, address=address, port=5672,
                                     epmd_port=epmd_port)
        services.append(mq)
        conf = write_heat_conf(state / "etc" / "heat.conf", transport_url=mq.transport_url,
                               database_url=db.url, host="test-engine-host")
        conf.chmod(0o644)  # read by Apache's www-data children in the mod_wsgi test
        heat.db_sync(VENV, conf)
        services.append(heat.start_engine(VENV, conf, state, "heat-engine",
                                          host="test-engine-host", workers=engine_workers,
                                          database_url=db.url))
        yield Backend(state, conf, mq.transport_url, db.url, services)
    finally:
        stop_all(list(reversed(services)))


@contextmanager
def keystone_on_mariadb(state: Path, *, db_address: str, address: str, port: int,
                        admin_password: str) -> Iterator[tuple[list[Service], Service]]:
    """MariaDB on ``db_address`` and a real Keystone on ``address:port`` with its
    database in it. Yields the list of started services (add yours: every one
    is stopped at the end) and the MariaDB service."""
    (state / "logs").mkdir(exist_ok=True)
    services: list[Service] = []
    try:
        db = mariadb.start_mariadb(state, address=db_address, port=3306)
        services.append(db)
        services.append(start_keystone_on(state, db, address=address, port=port,
                                          admin_password=admin_password))
        yield services, db
    finally:
        stop_all(services)


def start_keystone_on(state: Path, db: Service, *, address: str, port: int,
                      admin_password: str) -> Service:
    """A real Keystone on ``address:port`` with its database in ``db``, the
    MariaDB instance a test already started under ``state``."""
    identity_db = keystone.create_database(mariadb.socket_path(state), db.address, log=db.log)
    return keystone.start_keystone(VENV, state, database_url=identity_db, address=address,
                                   port=port, admin_password=admin_password)


def heat_client(endpoint: str) -> Any:
    from heatclient import client as heat_client_module
    # noauth ignores the token and makes every caller admin of "admin".
    return heat_client_module.Client("1", endpoint=f"{endpoint}/v1/admin", token="test")


def wait_settled(client: Any, stack_id: str, timeout: float = 120, *,
                 interval: float = 0.2) -> Any:
    """The stack, once its status no longer ends in IN_PROGRESS."""
    def settled() -> Any:
        stack = client.stacks.get(stack_id)
        return None if stack.stack_status.endswith("IN_PROGRESS") else stack
    return wait_until(settled, timeout, f"stack {stack_id} settles", interval=interval)


def wait_for_status(client: Any, stack_id: str, wanted: str, timeout: float = 120) -> Any:
    stack = wait_settled(client, stack_id, timeout)
    assert stack.stack_status == wanted, (f"{stack.stack_name}: {stack.stack_status}: "
                                          f"{stack.stack_status_reason}")
    return stack


def wait_deleted(client: Any, stack_id: str, timeout: float = 120) -> None:
    from heatclient import exc

    def gone() -> bool:
        try:
            stack = client.stacks.get(stack_id)
        except exc.HTTPNotFound:
            return True
        assert stack.stack_status != "DELETE_FAILED", stack.stack_status_reason
        return bool(stack.stack_status == "DELETE_COMPLETE")
    wait_until(gone, timeout, f"stack {stack_id} deleted")


def create_random_string_stack(client: Any, name: str | None = None) -> tuple[str, str]:
    """Create the one-resource stack, wait for it; return (id, output)."""
    name = name or f"t-{uuid.uuid4().hex[:10]}"
    created = client.stacks.create(stack_name=name, template=RANDOM_STRING_TEMPLATE)
    stack_id = created["stack"]["id"]
    wait_for_status(client, stack_id, "CREATE_COMPLETE")
    output = client.stacks.output_show(stack_id, "value")["output"]["output_value"]
    return stack_id, output


def env_without_proxies() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


LOADGEN = Path(__file__).with_name("loadgen.py")
HEAT_WSGI = str(Path(sys.prefix) / "bin" / "heat-wsgi")


@dataclass
class LoadRun:
    """A load that ran: its summary, and when (on its clock) the event began and ended."""

    summary: dict[str, Any]
    event_started: float
    event_ended: float

    def line(self, what: str) -> str:
        s = self.summary
        return (f"{what}: {s['reads']} reads, {s['creates']} creates, {s['failed']} failed "
                f"(outage {s['outage_seconds']}s), stacks accepted {len(s['stacks'])}, "
                f"complete {s['complete']}, event at {self.event_started:.1f}-"
                f"{self.event_ended:.1f}s of {s['seconds']}s")


@contextmanager
def client_load(popen: Callable[[list[str]], "subprocess.Popen[Any]"], api: str, tmp: Path, *,
                readers: int = 4, creators: int = 1, seconds: float = 300,
                settle: float = 150, read_limit: int = 50) -> Iterator[Callable[[], float]]:
    """``tests/loadgen.py`` on ``api`` for the block's length; yields the load's clock.

    ``popen`` starts it (``subprocess.Popen``, or a lab's namespace runner).
    On leaving the block the load is told to stop, the accepted stacks are
    waited for, and the summary is in ``tmp/load.json`` (:func:`read_summary`).

    Readers list one page of ``read_limit`` stacks, as a paging client does:
    the restart tests pile up hundreds of stacks, and a full listing of 600+
    took 30-37 s on two busy cores (the client's timeout is 30 s). In CI the
    lab's add-a-machine test, still listing everything, got 61 reads in 211 s
    and two of them timed out. ``read_limit=0`` lists every stack.
    """
    stop, ready, out = tmp / "stop", tmp / "ready", tmp / "load.json"
    for path in (stop, ready, out):
        path.unlink(missing_ok=True)
    proc = popen(
        [sys.executable, str(LOADGEN), "--api", api,
         "--readers", str(readers), "--creators", str(creators), "--seconds", str(seconds),
         "--settle", str(settle), "--stop-file", str(stop), "--ready-file", str(ready),
         "--out", str(out), "--read-limit", str(read_limit)])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() or not ready.read_text().strip():
            assert proc.poll() is None, "the load generator exited before it began"
            assert time.monotonic() < deadline, "the load generator did not begin in 30 s"
            time.sleep(0.1)
        began = float(ready.read_text())
        time.sleep(3)  # let the clients settle into a rhythm before the event

        def clock() -> float:
            return time.monotonic() - began
        yield clock
        time.sleep(3)  # and keep them going a little after it
    finally:
        stop.touch()
        try:
            proc.wait(timeout=seconds + settle + 60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def read_summary(tmp: Path) -> dict[str, Any]:
    return dict(json.loads((tmp / "load.json").read_text()))


def run_cli(*args: str, timeout: float = 300) -> "subprocess.CompletedProcess[str]":
    """``heat-wsgi ARGS`` from this venv, output captured."""
    return subprocess.run([HEAT_WSGI, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


@contextmanager
def cluster_up(state_dir: Path, *args: str,
               timeout: float = 600) -> Iterator[tuple[Any, str]]:
    """``heat-wsgi up ARGS`` for the block: yields (record, output); ``down --purge`` after,
    which must leave none of the recorded pids running."""
    from heat_wsgi.runtime import process
    from heat_wsgi.runtime.record import load as load_record

    result = run_cli("up", "--state-dir", str(state_dir), *args, timeout=timeout)
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        record = load_record(state_dir)
        assert record is not None
        yield record, result.stdout
    finally:
        record = load_record(state_dir)
        down = run_cli("down", "--purge", "--state-dir", str(state_dir))
        assert down.returncode == 0, down.stdout + down.stderr
        if record is not None:
            left = [(s.name, p.pid) for s in record.services for p in s.procs
                    if process.is_alive(p.pid, p.starttime)]
            assert left == [], f"still running after down: {left}"
