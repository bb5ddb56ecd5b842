"""The generated playbooks on three real machines (heat_wsgi.lab): the shipped sample deployed.

etc/heat/topology.sample.yaml, rendered as a user renders it (only its
addresses moved into the lab's network, see ansiblelab.lab_addresses): A
runs HAProxy, MariaDB and RabbitMQ from Debian's packages; B and C run a
REST, a CFN and a CloudWatch API under uwsgi and two heat-engines each, all
from the rendered systemd units. From the control namespace: site.yml
converges, a second run changes nothing, every instance answers
/healthcheck and HAProxy sees every server up, python-heatclient creates a
stack through A's proxy, and rolling-restart.yml takes B and C down and
back one at a time. Timings go to stderr (run with -s to see them).
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import pytest

from ansiblelab import Deployment, RollingRestart, api_hosts, proxy_address, recap

pytestmark = pytest.mark.real

STACK_SCRIPT = Path(__file__).with_name("lab_stack.py")


def test_site_yml_converges_and_a_second_run_changes_nothing(deployment: Deployment) -> None:
    first = recap(deployment.outputs["site.yml first run"])
    second = recap(deployment.outputs["site.yml second run"])
    assert set(first) == set(second) == {"A", "B", "C"}
    assert all(r["changed"] > 0 for r in first.values()), first
    assert {h: r["changed"] for h, r in second.items()} == {"A": 0, "B": 0, "C": 0}, \
        deployment.outputs["site.yml second run"][-6000:]
    print(f"site.yml: first run {deployment.timings['site.yml first run']}s, second run "
          f"{deployment.timings['site.yml second run']}s", file=sys.stderr)


def _get(deployment: Deployment, url: str) -> int:
    script = ("import sys, urllib.request\n"
              "print(urllib.request.urlopen(sys.argv[1], timeout=10).status)")
    result = deployment.lab.control_run([sys.executable, "-c", script, url], timeout=60)
    return int(result.stdout.strip())


def server_states(deployment: Deployment) -> dict[str, str]:
    """backend/server -> status, from HAProxy's admin socket on A."""
    out = deployment.lab.ssh("A", "echo 'show stat' | socat stdio unix:/run/heat/haproxy.sock "
                             "| cut -d, -f1,2,18").stdout
    states = {}
    for line in out.splitlines()[1:]:
        backend, server, status = (line.split(",") + ["", ""])[:3]
        if server not in ("FRONTEND", "BACKEND", ""):
            states[f"{backend}/{server}"] = status
    return states


def test_every_instance_answers_and_haproxy_sees_them_up(deployment: Deployment) -> None:
    inventory = json.loads(deployment.lab.control_run(
        [str(Path(sys.prefix) / "bin" / "ansible-inventory"), "--list"],
        cwd=deployment.ansible_dir).stdout)["_meta"]["hostvars"]
    urls = [u for host in ("B", "C") for u in inventory[host]["heat_wsgi_healthchecks"]]
    assert len(urls) == 6
    assert {url: _get(deployment, url) for url in urls} == {url: 200 for url in urls}
    proxy = proxy_address(deployment.topology)
    for port in (8004, 8000, 8003):
        assert _get(deployment, f"http://{proxy}:{port}/healthcheck") == 200
    states = server_states(deployment)
    # The sample's server names, spelled out: the proxy must serve exactly these.
    assert sorted(states) == sorted(
        f"{backend}/{server}" for backend, server in [
            ("rest_api_proxy", "rest-server-1"), ("rest_api_proxy", "rest-server-2"),
            ("cfn_api_proxy", "cfn-server-1"), ("cfn_api_proxy", "cfn-server-2"),
            ("cloudwatch_api_proxy", "cloudwatch-server-1"),
            ("cloudwatch_api_proxy", "cloudwatch-server-2")])
    assert set(states.values()) == {"UP"}, states


def create_stack(deployment: Deployment, name: str) -> dict[str, object]:
    result = deployment.lab.control_run(
        [sys.executable, str(STACK_SCRIPT),
         f"http://{proxy_address(deployment.topology)}:8004/v1/admin", name], timeout=300)
    found: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def test_heatclient_creates_a_stack_through_the_proxy(deployment: Deployment) -> None:
    stack = create_stack(deployment, "lab-deploy")
    assert stack["status"] == "CREATE_COMPLETE", stack
    assert isinstance(stack["output"], str) and len(stack["output"]) == 16


def test_rolling_restart_takes_each_api_host_down_and_back(
        deployment: Deployment, rolling_restart: RollingRestart) -> None:
    # The run is the one under load (ansiblelab.rolling_restart); its clients'
    # view is judged in test_ansible_lab_operations.py.
    found = deployment.require(rolling_restart.result, "rolling-restart.yml")
    assert set(found) == {"B", "C"} == set(api_hosts(deployment.topology))
    output = deployment.outputs["rolling-restart.yml"]
    # serial: 1: B's play (drain .. enable) ends before C's begins.
    # (Ansible prints a delegated result as "changed: [B -> A(198.18.0.1)]".)
    assert output.index("PLAY [Restart the Heat API hosts one at a time]") < \
        output.index("changed: [B -> A") < output.index("changed: [C -> A")
    enable_b = output.index("TASK [Enable this host's servers again]")
    assert enable_b < output.index("changed: [C -> A"), "C was drained before B was back"
    before, after = rolling_restart.before, rolling_restart.after
    for host in ("B", "C"):
        uwsgi_units = [u for u in before[host] if u.startswith("heat-uwsgi-")]
        assert uwsgi_units and all(before[host][u] != after[host].get(u) for u in uwsgi_units), \
            f"rolling-restart.yml did not restart the API units of {host}: {before} {after}"
        engine_units = [u for u in before[host] if u.startswith("heat-engine-")]
        assert engine_units and all(before[host][u] != after[host].get(u)
                                    for u in engine_units), \
            f"rolling-restart.yml did not restart the engines of {host}: {before} {after}"
    # Every stop ended by itself: none waited out TimeoutStopSec (systemd logs
    # "State 'stop...' timed out"), as uwsgi 2.0.31's missed SIGHUP made one
    # do per lab run before the units' ExecStop (heat_wsgi.uwsgi_stop).
    for host in ("B", "C"):
        journal = deployment.lab.ssh(host, "journalctl --no-pager -o cat -u 'heat-uwsgi-*'",
                                     check=False).stdout
        assert "timed out" not in journal, \
            [line for line in journal.splitlines() if "timed out" in line]
    assert set(server_states(deployment).values()) == {"UP"}
    assert create_stack(deployment, "lab-after-restart")["status"] == "CREATE_COMPLETE"
    print(f"rolling-restart.yml: {deployment.timings['rolling-restart.yml']}s", file=sys.stderr)
