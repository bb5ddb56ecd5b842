"""``heat-wsgi up`` end to end: the default topology, driven by real clients.

The cluster is started once for the module with the real CLI on
127.0.0.1-3 and the standard ports, and stopped with ``heat-wsgi down
--purge`` at the end, which must leave none of its pids running.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from heat_wsgi import cluster, demo
from heat_wsgi.runtime import haproxy, process
from heat_wsgi.runtime.record import Record, load

from conftest import wait_until
from realstack import LoadRun, client_load, cluster_up, read_summary, run_cli, wait_settled

pytestmark = pytest.mark.real

REST = "http://127.0.0.1:8004/v1/admin"
CFN = "http://127.0.0.1:8000/v1/"
STACKS = 20

TEMPLATE = {
    "heat_template_version": "2018-08-31",
    "resources": {
        "secret": {"type": "OS::Heat::RandomString", "properties": {"length": 12}},
        "probe": {"type": "OS::Heat::TestResource",
                  "properties": {"value": {"get_attr": ["secret", "value"]}}},
        "group": {"type": "OS::Heat::ResourceGroup",
                  "properties": {"count": 2, "resource_def": {
                      "type": "OS::Heat::RandomString", "properties": {"length": 8}}}},
    },
    "outputs": {"secret": {"value": {"get_attr": ["secret", "value"]}},
                "probe": {"value": {"get_attr": ["probe", "output"]}}},
}


def heat_client() -> Any:
    from heatclient import client

    return client.Client("1", endpoint=REST, token="noauth")


@pytest.fixture(scope="module")
def up(state_dir: Path) -> Iterator[tuple[Record, str]]:
    with cluster_up(state_dir, "--demo") as running:
        yield running


def test_up_prints_endpoints_diagram_and_client_help(up: tuple[Record, str]) -> None:
    record, output = up
    assert f"REST API        {REST}" in output
    assert f"CFN API         {CFN}" in output
    assert "HAProxy" in output and "heat-engine" in output        # the diagram
    assert "--os-auth-type none --os-endpoint" in output
    assert "Demo stack heat-wsgi-demo" in output and "CREATE_COMPLETE" in output
    names = {s.name for s in record.services}
    assert {"mariadb", "rabbitmq", "haproxy", "uwsgi-api-node-2", "uwsgi-api-node-3",
            "uwsgi-cfn-node-2", "uwsgi-cfn-node-3", "heat-engine-node-2-1",
            "heat-engine-node-2-2", "heat-engine-node-3-1", "heat-engine-node-3-2"} <= names


def test_each_api_instance_has_its_own_heat_conf(up: tuple[Record, str],
                                                 state_dir: Path) -> None:
    for node in ("node-2", "node-3"):
        etc = state_dir / "hosts" / node / "etc" / "heat"
        conf = (etc / "heat.conf").read_text()   # the engines'
        assert f"\nhost = {node}\n" in conf
        assert "mysql+pymysql://heat:heat@127.0.0.1:3306/heat" in conf
        for service in ("api", "cfn"):
            own = etc / f"heat-{service}-{node}.conf"
            assert f"\nhost = {node}-{service}-{node}\n" in own.read_text()
            assert own.stat().st_mode & 0o777 == 0o640
            ini = etc / "uwsgi" / f"{service}-{node}.ini"
            assert f"\npyargv = --config-file {own}\n" in ini.read_text()


def test_up_twice_is_safe(up: tuple[Record, str], state_dir: Path) -> None:
    record, _ = up
    before = {s.name: s.pids for s in record.services}
    again = run_cli("up", "--state-dir", str(state_dir))
    assert again.returncode == 0, again.stderr
    assert "already up" in again.stdout
    after = load(state_dir)
    assert after is not None and {s.name: s.pids for s in after.services} == before


def test_status_reports_every_service_healthy(up: tuple[Record, str], state_dir: Path) -> None:
    result = run_cli("status", "--state-dir", str(state_dir), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rest_api_proxy/api-node-2" in result.stdout and "UP" in result.stdout
    assert "FAIL" not in result.stdout


def test_logs_lists_and_shows(up: tuple[Record, str], state_dir: Path) -> None:
    listing = run_cli("logs", "--state-dir", str(state_dir), timeout=60)
    assert "heat-engine-node-2-1" in listing.stdout
    shown = run_cli("logs", "haproxy", "-n", "5", "--state-dir", str(state_dir), timeout=60)
    assert shown.returncode == 0 and "==> haproxy:" in shown.stdout


def _engine_hosts_that_worked(state_dir: Path, names: set[str]) -> set[str]:
    hosts = set()
    for log in (state_dir / "logs").glob("heat-engine-*.log"):
        text = log.read_text(errors="replace")
        if any(f"Stack CREATE COMPLETE ({name})" in text for name in names):
            hosts.add(log.stem.rsplit("-", 1)[0].removeprefix("heat-engine-"))
    return hosts


def test_twenty_concurrent_stacks_through_the_proxy(up: tuple[Record, str],
                                                    state_dir: Path) -> None:
    record, _ = up
    assert record.stats_socket
    before = {s.server: s.sessions for s in haproxy.show_stat(record.stats_socket)}
    prefix = f"e2e-{uuid.uuid4().hex[:6]}"
    names = {f"{prefix}-{n}" for n in range(STACKS)}

    def create(name: str) -> tuple[str, str, str]:
        hc = heat_client()
        stack_id = hc.stacks.create(stack_name=name, template=TEMPLATE)["stack"]["id"]
        stack = wait_settled(hc, stack_id, 240, interval=0.5)
        return stack_id, stack.stack_status, stack.stack_status_reason

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=STACKS) as pool:
        results = list(pool.map(create, sorted(names)))
    elapsed = time.monotonic() - started
    failed = [r for r in results if r[1] != "CREATE_COMPLETE"]
    assert failed == [], failed
    print(f"\n{STACKS} stacks CREATE_COMPLETE through the proxy in {elapsed:.1f}s")

    hc = heat_client()
    stack = hc.stacks.get(results[0][0])
    outputs = {o["output_key"]: o["output_value"] for o in stack.outputs}
    assert outputs["secret"] == outputs["probe"] and len(outputs["secret"]) == 12

    # Both REST API instances served requests: HAProxy counted sessions on each.
    stats = haproxy.show_stat(record.stats_socket)
    after = {s.server: s.sessions for s in stats}
    for server in ("api-node-2", "api-node-3"):
        assert after[server] - before.get(server, 0) >= STACKS // 4, (before, after)
    # 20 clients on two 2 x 1 instances: HAProxy held each instance to the two
    # calls it runs at once (proxy.queue_in_proxy) and queued the rest itself.
    rest = [s for s in stats if s.backend == "rest_api_proxy"]
    assert rest and all(s.limit == 2 and 0 < s.most <= s.limit for s in rest), rest
    # Engines on both hosts did the work: their own logs say so.
    worked = _engine_hosts_that_worked(state_dir, names)
    assert worked == {"node-2", "node-3"}, f"engine hosts with a CREATE COMPLETE: {worked}"

    def delete(stack_id: str) -> str:
        client = heat_client()
        client.stacks.delete(stack_id)

        def finished() -> str | None:  # the delete is asynchronous: it starts, then ends
            status = str(client.stacks.get(stack_id).stack_status)
            return status if status in ("DELETE_COMPLETE", "DELETE_FAILED") else None
        return wait_until(finished, 120, f"stack {stack_id} deleted", interval=0.5)

    with ThreadPoolExecutor(max_workers=STACKS) as pool:
        deleted = list(pool.map(delete, [r[0] for r in results]))
    assert set(deleted) == {"DELETE_COMPLETE"}, deleted
    # Heat marks a stack DELETE_COMPLETE a moment before it hides it from lists.
    wait_until(lambda: not names & {s.stack_name for s in heat_client().stacks.list()}, 30,
               "deleted stacks leave the list", interval=0.5)


def test_boto3_cloudformation_lists_and_describes(up: tuple[Record, str]) -> None:
    cfn = demo.cfn_client(CFN)
    name = f"cfn-{uuid.uuid4().hex[:6]}"
    body = ('{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Secret": '
            '{"Type": "OS::Heat::RandomString"}}, "Outputs": {"Value": '
            '{"Value": {"Fn::GetAtt": ["Secret", "value"]}}}}')
    stack_id = cfn.create_stack(StackName=name, TemplateBody=body)["StackId"]
    def settled() -> dict[str, Any] | None:
        stack: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
        return None if stack["StackStatus"].endswith("IN_PROGRESS") else stack
    stack = wait_until(settled, 120, f"CFN stack {name} settles", interval=0.5)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    assert stack["StackId"] == stack_id
    assert len(stack["Outputs"][0]["OutputValue"]) == 32
    listed = {s["StackName"]: s["StackStatus"] for s in cfn.list_stacks()["StackSummaries"]}
    assert listed[name] == "CREATE_COMPLETE" and "heat-wsgi-demo" in listed
    cfn.delete_stack(StackName=name)


def _server(record: Record, server: str) -> haproxy.ServerStat:
    assert record.stats_socket
    return haproxy.server_status(record.stats_socket, "rest_api_proxy", server)


def _wait_server(record: Record, server: str, status: str, timeout: float = 20) -> float:
    started = time.monotonic()
    wait_until(lambda: _server(record, server).status == status, timeout,
               f"HAProxy sees {server} {status}", interval=0.1)
    return time.monotonic() - started


def test_failover_one_api_instance(up: tuple[Record, str], state_dir: Path) -> None:
    record, _ = up
    victim = record.service("uwsgi-api-node-3")
    assert victim is not None
    _wait_server(record, "api-node-3", "UP")
    results: list[int | str] = []
    stop = threading.Event()

    def loop() -> None:
        # Bounded: at most 2000 requests or until told to stop.
        for _ in range(2000):
            if stop.is_set():
                return
            try:
                with urllib.request.urlopen(f"{REST}/stacks", timeout=30) as response:
                    results.append(response.status)
            except urllib.error.HTTPError as exc:
                results.append(exc.code)
            except OSError as exc:
                results.append(repr(exc))

    client = threading.Thread(target=loop)
    client.start()
    try:
        wait_until(lambda: len(results) >= 10, 30, "the client gets going")
        victim.stop()
        assert not victim.alive()
        went_down = _wait_server(record, "api-node-3", "DOWN")
        served_while_down = len(results)
        # Requests keep being served while one instance is down.
        wait_until(lambda: len(results) >= served_while_down + 10, 30, "served while down")
        again = run_cli("up", "--state-dir", str(state_dir))  # restarts only what died
        assert again.returncode == 0, again.stdout + again.stderr
        assert "uwsgi-api-node-3" in again.stdout and "already running" in again.stdout
        came_up = _wait_server(record, "api-node-3", "UP")
        served_at_up = len(results)
        wait_until(lambda: len(results) >= served_at_up + 10, 30, "served after the restart")
    finally:
        stop.set()
        client.join(timeout=60)
    failures = [r for r in results if r != 200]
    print(f"\nfailover: {len(results)} requests, {len(failures)} failed; "
          f"DOWN after {went_down:.1f}s, UP {came_up:.1f}s after restart")
    assert failures == []
    assert len(results) > served_while_down > 10
    restarted = load(state_dir)
    assert restarted is not None
    new = restarted.service("uwsgi-api-node-3")
    assert new is not None and new.pid != victim.pid and new.alive()


# -- restarts under load ---------------------------------------------------------

def _pids(state_dir: Path, kinds: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    record = load(state_dir)
    assert record is not None
    return {s.name: s.pids for s in record.services if s.kind in kinds}


def _restart_under_load(state_dir: Path, tmp: Path, what: str, args: tuple[str, ...], *,
                        creators: int) -> tuple[LoadRun, str]:
    # The rolling restart took 200 s on the quiet box and over 400 s in one CI
    # run on the loaded one (each engine's graceful stop and start takes
    # 25-35 s quiet): the bounds are for a hang, not a speed target.
    with client_load(subprocess.Popen, REST, tmp, readers=4, creators=creators,
                     seconds=900, settle=150) as clock:
        started = clock()
        result = run_cli("restart", "--state-dir", str(state_dir), *args, timeout=900)
        ended = clock()
        assert result.returncode == 0, result.stdout + result.stderr
    run = LoadRun(read_summary(tmp), started, ended)
    print("\n" + result.stdout + run.line(what))
    for failure in run.summary["failures"][:10]:
        print(f"  failed at {failure['at']}s: {failure['what']}: {failure['error']}")
    return run, result.stdout


def test_rolling_restart_under_reads_and_creates_fails_nothing(up: tuple[Record, str],
                                                               state_dir: Path,
                                                               tmp_path: Path) -> None:
    apis = _pids(state_dir, ("uwsgi",))
    engines = _pids(state_dir, ("heat-engine",))
    run, output = _restart_under_load(state_dir, tmp_path, "restart --rolling", ("--rolling",),
                                      creators=2)
    # Every API instance went through every step, one at a time, then each engine.
    for name in apis:
        instance = name.removeprefix("uwsgi-")
        for action in ("drain", "wait-idle", "ready", "wait-up"):
            assert re.search(rf"ok  {action} +\w+/{instance} ", output), (action, instance)
    assert output.count("ok  reload ") == len(apis)
    assert output.count("ok  restart ") == len(engines)
    summary = run.summary
    assert summary["reads"] > 100 and len(summary["stacks"]) > 5
    assert set(summary["stacks"].values()) == {"CREATE_COMPLETE"}, summary["stacks"]
    # uwsgi's master reloads in place (same pid); each engine is a new process.
    assert _pids(state_dir, ("uwsgi",)) == apis
    after = _pids(state_dir, ("heat-engine",))
    assert after.keys() == engines.keys() and not set(after.values()) & set(engines.values())
    # No RPC call was lost: a stock heat-engine's stop left the API waiting
    # rpc_response_timeout for a reply that never came (4-7 per restart).
    lost = [line for log in sorted((state_dir / "logs").glob("api-node-*.log"))
            for line in log.read_text(errors="replace").splitlines()
            if "MessagingTimeout: Timed out waiting for a reply" in line
            and "ERROR heat.common.wsgi [" in line]
    assert lost == [], lost[:5]
    others = [f for f in summary["failures"]
              if (f["what"], f["error"]) != ("read", "TimeoutError: timed out")]
    assert others == [], others[:10]
    if summary["failed"]:
        # Measured before reads were paged: GET /stacks of 600+ stacks on two
        # busy cores took 30-37 s and met the client's 30 s timeout.
        pytest.xfail(f"{summary['failed']} list(s) slower than the client's 30 s timeout; "
                     "no RPC call lost")


@pytest.mark.parametrize("broker", ["rabbitmq", "mariadb"])
def test_apis_and_engines_ride_out_a_restart_of(broker: str, up: tuple[Record, str],
                                                state_dir: Path, tmp_path: Path) -> None:
    """The broker or the database goes away and comes back; nothing else is restarted."""
    heat_pids = _pids(state_dir, ("uwsgi", "heat-engine"))
    run, _ = _restart_under_load(state_dir, tmp_path, f"restart {broker}", (broker,),
                                 creators=0)
    assert _pids(state_dir, ("uwsgi", "heat-engine")) == heat_pids
    summary = run.summary
    # A read caught in the outage waits up to the client's 30 s timeout; some get through.
    assert summary["reads"] > 4
    # Any failure happened while it was away, not after it was back.
    late = [f for f in summary["failures"] if f["at"] > run.event_ended + 30]
    assert late == [], late[:5]
    # The APIs reach the engines again (RPC) and the engines the database: a stack completes.
    hc = heat_client()
    stack_id = hc.stacks.create(stack_name=f"after-{broker}-{uuid.uuid4().hex[:6]}",
                                template=TEMPLATE)["stack"]["id"]
    assert wait_settled(hc, stack_id, 120, interval=0.5).stack_status == "CREATE_COMPLETE"
