"""The lab for real: Debian machines booted with systemd-nspawn, reached over SSH.

This module boots its own lab (prefix ``hwlabt-``), because it powers a
machine off and adds one; other modules share the session lab of
``labfixture``. Each test names what it proves; the module's last test
tears the lab down and checks that nothing is left.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from heat_wsgi.lab import Lab, LabError
from heat_wsgi.lab import executor, files, state as state_file
from heat_wsgi.runtime.process import is_alive
from labfixture import REPO, booted_lab, leftovers

pytestmark = pytest.mark.real

PREFIX = "hwlabt-"
STATE = REPO / ".state" / "lab-test"
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
LAB_NET = ipaddress.IPv4Network("198.18.0.0/24")


@pytest.fixture(scope="module")
def mlab() -> Iterator[Lab]:
    with booted_lab(prefix=PREFIX, state_dir=STATE) as running:
        yield running


def test_three_machines_boot_with_systemd_and_are_each_their_own(mlab: Lab):
    print(f"\nboot of a, b, c: {mlab.boot_seconds:.1f}s")
    assert mlab.boot_seconds < 30
    assert {n: m.address for n, m in mlab.machines.items()} == {
        "a": "198.18.0.1", "b": "198.18.0.2", "c": "198.18.0.3"}
    seen = {}
    for name in "abc":
        out = mlab.ssh(name, "systemctl is-system-running; cat /proc/1/comm; hostname; "
                             "cat /etc/machine-id; ip -4 -o addr show dev eth0").stdout
        running, pid1, hostname, machine_id, addr = out.splitlines()
        assert (running, pid1, hostname) == ("running", "systemd", name)
        assert f"inet {mlab.machines[name].address}/24" in addr
        seen[name] = machine_id
    assert len(set(seen.values())) == 3
    assert Path("/etc/machine-id").read_text().strip() not in seen.values()
    assert len({m.host_key for m in mlab.machines.values()}) == 3
    # Each machine's systemd has a cgroup tree of its own (a shared one made
    # machines remove each other's cgroups).
    for name, entry in mlab._require().machines.items():
        lines = Path(f"/proc/{entry.leader_pid}/cgroup").read_text().splitlines()
        unified = [line.split(":", 2)[2] for line in lines if line.startswith("0::")]
        assert unified == [f"/{PREFIX}{name}/payload/init.scope"], lines


def test_debian_units_of_the_box_do_not_start_but_stay_startable(mlab: Lab):
    units = "apache2 mariadb rabbitmq-server haproxy"
    out = mlab.ssh("a", f"systemctl is-enabled {units}; systemctl is-active {units}",
                   check=False).stdout.split()
    assert out == ["disabled"] * 4 + ["inactive"] * 4  # unlinked, not masked
    running = mlab.ssh("a", "systemctl list-units --type=service --state=running "
                            "--no-legend --plain").stdout
    services = {line.split()[0] for line in running.splitlines() if line.strip()}
    assert services <= {"console-getty.service", "dbus.service", "ssh.service",
                        "systemd-journald.service", "systemd-logind.service"}, services
    started = mlab.ssh("a", "systemctl start haproxy && systemctl is-active haproxy; "
                            "systemctl stop haproxy; systemctl is-active haproxy",
                       check=False).stdout.split()
    assert started == ["active", "inactive"]


def test_unprivileged_user_runs_the_checkouts_venv_in_a_machine(mlab: Lab):
    python = shlex.quote(str(VENV_PYTHON))
    mlab.ssh("b", f"runuser -u nobody -- {python} -c 'import heat, heat_wsgi'")
    code = "import os, heat, heat_wsgi; print(os.getuid(), heat_wsgi.__file__)"
    out = mlab.ssh("b", ["systemd-run", "--wait", "--pipe", "--quiet", "-p", "User=nobody",
                         f"--setenv=PYTHONPATH={REPO}", str(VENV_PYTHON), "-c", code]).stdout
    assert out.split() == ["65534", str(REPO / "heat_wsgi" / "__init__.py")]
    # Opened in the machine's upper layer only: the box's /root keeps its mode.
    assert mlab.ssh("b", "stat -c %a /root").stdout.strip() == "711"
    assert (os.stat("/root").st_mode & 0o777) == 0o700


def test_machines_see_the_box_but_not_the_labs_key_nor_its_tmp(mlab: Lab, tmp_path):
    marker = tmp_path / "on-the-box"  # pytest's tmp_path is under the box's /tmp
    marker.write_text("x")
    key, state, marker_q = (shlex.quote(str(p)) for p in (mlab.key_path, STATE, marker))
    out = mlab.ssh("c", f"test -e {key} && echo key; ls -A {state} | wc -l; "
                        f"test -e {marker_q} && echo tmp; "
                        f"test -x {shlex.quote(str(VENV_PYTHON))} && echo venv").stdout.split()
    assert out == ["0", "venv"]


def test_machines_reach_each_other_over_the_lab_network(mlab: Lab):
    out = mlab.ssh("a", "ssh-keyscan -T 5 -t ed25519 198.18.0.2 2>/dev/null").stdout
    assert mlab.machines["b"].host_key.split()[1] in out


def test_root_namespace_has_no_address_or_route_in_the_lab(mlab: Lab):
    def lab_networks(text: str) -> list[str]:
        found = []
        for word in text.split():
            try:
                network = ipaddress.IPv4Network(word, strict=False)
            except ValueError:
                continue
            if network.prefixlen > 0 and network.overlaps(LAB_NET):
                found.append(word)
        return found

    addresses = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True,
                               check=True).stdout
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"],
                            capture_output=True, text=True, check=True).stdout
    assert lab_networks(addresses) == [] and lab_networks(routes) == []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True,
                           check=True).stdout
    assert "lab0" not in links and " v-" not in links
    # ... and the lab has no way out: only its own /24 in the control namespace.
    inner = mlab.control_run(["ip", "-4", "route"]).stdout.split("\n")
    assert [r.split()[0] for r in inner if r.strip()] == ["198.18.0.0/24"]


def test_ansible_reaches_every_machine_with_the_labs_connection_vars(mlab: Lab, tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump(mlab.inventory()))
    ansible = str(Path(sys.executable).with_name("ansible"))
    env = dict(os.environ, ANSIBLE_LOCAL_TEMP=str(tmp_path / "local"),
               ANSIBLE_NOCOLOR="1")
    result = mlab.control_run([ansible, "all", "-i", str(inventory), "-m", "ping", "-o"],
                              env=env, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(line.split()[0] for line in result.stdout.splitlines()
                  if "SUCCESS" in line) == ["a", "b", "c"]


def test_add_machine_d_while_the_lab_runs(mlab: Lab):
    started = time.monotonic()
    d = mlab.add_machine("D", "198.18.0.4")
    print(f"\nadd d: {time.monotonic() - started:.1f}s")
    assert (d.name, d.address) == ("d", "198.18.0.4")
    assert mlab.ssh("d", "hostname; systemctl is-system-running").stdout.split() == [
        "d", "running"]
    assert d.host_key.split()[1] in mlab.ssh(
        "a", "ssh-keyscan -T 5 -t ed25519 198.18.0.4 2>/dev/null").stdout
    with pytest.raises(LabError, match="address is already taken"):
        mlab.add_machine("e", "198.18.0.2")


def test_power_off_c_like_a_pulled_plug(mlab: Lab):
    entry = mlab._require().machines["c"]
    pids, root = [entry.nspawn_pid, entry.leader_pid], entry.root
    assert all(is_alive(p) for p in pids)
    started = time.monotonic()
    mlab.power_off("c")
    print(f"\npower off c: {time.monotonic() - started:.2f}s")
    assert not any(is_alive(p) for p in pids)
    assert "c" not in mlab.machines
    assert f"{PREFIX}c" not in executor.list_netns()
    assert root not in files.overlay_mounts()
    probe = mlab.control_run(["ssh", *mlab.ssh_options(), "-o", "ConnectTimeout=2",
                              "root@198.18.0.3", "true"], check=False, timeout=30)
    assert probe.returncode == 255
    for name in ("a", "b", "d"):
        assert mlab.ssh(name, "systemctl is-system-running").stdout.strip() == "running"
    with pytest.raises(LabError, match="no running machine 'c'"):
        mlab.ssh("c", "true")


def test_teardown_leaves_no_pid_mount_or_namespace(mlab: Lab):
    pids = list(mlab.started_pids)
    assert len(pids) == 8  # a, b, c, d: systemd-nspawn and the machine's PID 1 each
    # What clients left in the control namespace (Ansible's ssh ControlPersist
    # masters) and every process inside the machines goes too.
    inside = [p for ns in executor.list_netns() if ns.startswith(PREFIX)
              for p in executor.netns_pids(ns)]
    print(f"\nprocesses in the lab's namespaces before teardown: {len(inside)}")
    started = time.monotonic()
    mlab.stop()
    print(f"\nteardown: {time.monotonic() - started:.2f}s")
    assert leftovers(PREFIX, STATE, pids + inside) == []
    # A whole path component: the session lab's .state/lab-tests must not match.
    assert not [line for line in Path("/proc/mounts").read_text().splitlines()
                if f"{STATE}/" in line]
    assert not [n for n in executor.list_netns() if n.startswith(PREFIX)]
    assert state_file.claimed_by(PREFIX) is None
    assert not (STATE / "lab.json").exists()
    # What the machines logged stays readable on the box.
    journal = subprocess.run(["journalctl", "-D", str(STATE / "machines/a/upper/var/log/journal"),
                              "--no-pager", "-q", "-u", "ssh.service"],
                             capture_output=True, text=True, timeout=30, check=False).stdout
    assert "Server listening on" in journal


CRASHING_CHILD = """
import sys, time
from pathlib import Path
from heat_wsgi.lab import Lab
Lab({"x": "198.18.0.9"}, prefix="hwlabk-", state_dir=Path(sys.argv[1])).start()
print("up", flush=True)
time.sleep(300)
"""


def test_rerun_after_a_crash_tears_the_leftovers_down_first(tmp_path):
    state_dir = REPO / ".state" / "lab-test-crash"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-c", CRASHING_CHILD, str(state_dir)], env=env,
                             stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "up"
        record = state_file.load(state_dir)
        assert record is not None
        old = record.machines["x"]
    finally:
        child.send_signal(signal.SIGKILL)  # the crash: no finally runs in the child
        child.wait(timeout=10)
    try:
        assert is_alive(old.nspawn_pid) and is_alive(old.leader_pid)
        assert "hwlabk-x" in executor.list_netns()
        with booted_lab({"x": "198.18.0.9"}, prefix="hwlabk-", state_dir=state_dir) as again:
            assert not is_alive(old.nspawn_pid) and not is_alive(old.leader_pid)
            assert again.ssh("x", "systemctl is-system-running").stdout.strip() == "running"
            assert again._require().machines["x"].nspawn_pid != old.nspawn_pid
    finally:
        # Should the rerun have failed early: the same cleanup it does, once more.
        Lab({"x": "198.18.0.9"}, prefix="hwlabk-", state_dir=state_dir).clean_leftovers()
    assert leftovers("hwlabk-", state_dir, [old.nspawn_pid, old.leader_pid]) == []


def test_a_boot_that_fails_is_torn_down_before_the_error(tmp_path):
    state_dir = REPO / ".state" / "lab-test-fail"
    lab = Lab({"y": "198.18.0.10"}, prefix="hwlabf-", state_dir=state_dir, boot_timeout=0)
    with pytest.raises(LabError, match="machine y") as caught:
        lab.start()
    assert "in 0s" in str(caught.value) or "in time" in str(caught.value)
    assert leftovers("hwlabf-", state_dir, lab.started_pids) == []
    assert not (state_dir / "lab.json").exists()


def test_cli_lab_up_status_down(tmp_path):
    state_dir = REPO / ".state" / "lab-test-cli"
    cli = [sys.executable, "-m", "heat_wsgi.cli", "lab"]
    where = ["--state-dir", str(state_dir)]
    env = dict(os.environ, PYTHONPATH=str(REPO))

    def heat_wsgi_lab(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args, *where], capture_output=True, text=True, env=env,
                              timeout=120, stdin=subprocess.DEVNULL, check=False)

    pids: list[int] = []
    try:
        up = heat_wsgi_lab("up", "--prefix", "hwlabc-", "--machine", "a=198.18.0.1")
        assert up.returncode == 0, up.stdout + up.stderr
        record = state_file.load(state_dir)
        assert record is not None
        pids = [record.machines["a"].nspawn_pid, record.machines["a"].leader_pid]
        (ssh_line,) = [line.strip() for line in up.stdout.splitlines()
                       if line.strip().startswith("ip netns exec hwlabc-ctl ssh ")]
        reached = subprocess.run([*shlex.split(ssh_line), "hostname"], capture_output=True,
                                 text=True, timeout=30, stdin=subprocess.DEVNULL, check=False)
        assert reached.stdout.strip() == "a", reached.stderr
        status = heat_wsgi_lab("status")
        assert status.returncode == 0 and " running" in status.stdout, status.stdout
        again = heat_wsgi_lab("up")
        assert again.returncode == 0 and "already running" in again.stdout
    finally:
        down = heat_wsgi_lab("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert leftovers("hwlabc-", state_dir, pids) == []
    gone = heat_wsgi_lab("status")
    assert gone.returncode == 3 and "no lab is running" in gone.stdout
