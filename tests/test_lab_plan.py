"""The lab's pure plan: names, addresses, order of setup and teardown, files written."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import PurePosixPath

import pytest

from heat_wsgi.errors import HeatWsgiError, LabError
from heat_wsgi.lab.plan import JOIN_CGROUPS, Resource, plan_lab, plan_machine, teardown
from heat_wsgi.lab.prepare import (
    MUST_NOT_START, Chmod, Copy, InMachine, MakeDir, Remove, Symlink, Write, traversal_dirs)
from heat_wsgi.lab.spec import BoxFacts, make_spec, validate_machines

STATE = PurePosixPath("/work/co/.state/lab")
BOX = BoxFacts(
    enabled_units=("multi-user.target.wants/apache2.service",
                   "multi-user.target.wants/mariadb.service",
                   "multi-user.target.wants/rabbitmq-server.service",
                   "multi-user.target.wants/haproxy.service",
                   "multi-user.target.wants/ssh.service",
                   "multi-user.target.wants/remote-fs.target",
                   "multi-user.target.wants/postgresql.service",
                   "sockets.target.wants/epmd.socket",
                   "timers.target.wants/apt-daily.timer"),
    host_keys=("ssh_host_rsa_key", "ssh_host_rsa_key.pub", "ssh_host_ed25519_key",
               "ssh_host_ed25519_key.pub"),
    closed_dirs=("/root",), dbus_machine_id=True,
    needed=("/work/co", "/root/.pyenv/versions/3.11.7/bin/python3.11"),
    cgroup_roots=("/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"))


def lab_plan(**kwargs: object):
    return plan_lab(make_spec(STATE, **kwargs), BOX)  # type: ignore[arg-type]


def test_default_lab_is_a_b_c_and_a_control_namespace():
    plan = lab_plan()
    assert [(m.name, m.address) for m in plan.machines] == [
        ("a", "198.18.0.1"), ("b", "198.18.0.2"), ("c", "198.18.0.3")]
    assert plan.spec.control_address == "198.18.0.101"
    assert (plan.net_ns, plan.control_ns) == ("hwlab-net", "hwlab-ctl")
    assert [m.netns for m in plan.machines] == ["hwlab-a", "hwlab-b", "hwlab-c"]
    assert plan.key == STATE / "ssh" / "id_ed25519"
    assert plan.state_file == STATE / "lab.json"


def test_every_kernel_name_has_the_prefix_and_every_address_is_in_the_lab_range():
    plan = lab_plan(prefix="lt-")
    namespaces = [r.name for r in plan.resources() if r.kind == "netns"]
    assert namespaces == ["lt-net", "lt-ctl", "lt-a", "lt-b", "lt-c"]
    for command in plan.commands():
        for arg in command.argv:
            if "/" in arg and arg[0].isdigit():
                network = ipaddress.IPv4Interface(arg).network
                assert network == ipaddress.IPv4Network("198.18.0.0/24"), arg
    mounts = [m.mount.argv for m in plan.machines]
    assert [argv[3] for argv in mounts] == ["lt-a", "lt-b", "lt-c"]  # the mount's source name


def test_setup_order_bridge_first_then_each_machine_namespace_link_mount_boot():
    plan = lab_plan(machines={"a": "198.18.0.1"})
    argvs = [" ".join(c.argv) for c in plan.commands()]
    assert argvs[:4] == ["ip netns add hwlab-net", "ip -n hwlab-net link set lo up",
                         "ip -n hwlab-net link add lab0 type bridge",
                         "ip -n hwlab-net link set lab0 up"]
    assert "ip netns add hwlab-ctl" in argvs
    assert ("ip -n hwlab-net link add v-ctl type veth peer name eth0 netns hwlab-ctl"
            in argvs)
    assert "ip -n hwlab-ctl addr add 198.18.0.101/24 dev eth0 nodad" in argvs
    order = [argvs.index(x) for x in (
        "ip netns add hwlab-a",
        "ip -n hwlab-net link add v-a type veth peer name eth0 netns hwlab-a",
        "ip -n hwlab-net link set v-a master lab0",
        "ip -n hwlab-a addr add 198.18.0.1/24 dev eth0 nodad",
        "mkdir /sys/fs/cgroup/unified/hwlab-a", "mkdir /sys/fs/cgroup/systemd/hwlab-a",
        f"mount -t overlay hwlab-a -o lowerdir=/,upperdir={STATE}/machines/a/upper,"
        f"workdir={STATE}/machines/a/work {STATE}/machines/a/root")]
    assert order == sorted(order)
    boot = plan.commands()[-1].argv
    # systemd-nspawn starts in the machine's own cgroups, with the pid recorded.
    assert boot[:7] == ("sh", "-c", JOIN_CGROUPS, "sh",
                        "/sys/fs/cgroup/unified/hwlab-a/cgroup.procs",
                        "/sys/fs/cgroup/systemd/hwlab-a/cgroup.procs", "--")
    boot = boot[7:]
    assert boot[:5] == ("systemd-nspawn", "-D", f"{STATE}/machines/a/root",
                        "--machine=hwlab-a", "-b")
    for flag in ("--network-namespace-path=/run/netns/hwlab-a", "--register=no",
                 "--keep-unit", f"--tmpfs={STATE}:mode=0700", "--tmpfs=/tmp:mode=1777"):
        assert flag in boot


def test_box_tmp_stays_visible_when_the_checkout_lives_there():
    facts = BoxFacts(needed=("/tmp/ci/checkout",))
    spec = make_spec(PurePosixPath("/tmp/ci/checkout/.state/lab"))
    boot = plan_machine(spec, spec.machines[0], facts).boot
    assert "--tmpfs=/tmp:mode=1777" not in boot
    assert "--tmpfs=/tmp/ci/checkout/.state/lab:mode=0700" in boot


def test_join_cgroups_moves_itself_then_execs_with_the_same_pid(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    out = subprocess.run(["sh", "-c", JOIN_CGROUPS, "sh", str(first), str(second), "--",
                          "sh", "-c", "echo $$"], capture_output=True, text=True, check=True)
    assert first.read_text() == second.read_text() == out.stdout
    failed = subprocess.run(["sh", "-c", JOIN_CGROUPS, "sh", str(tmp_path / "no" / "x"), "--",
                             "true"], capture_output=True, text=True, check=False)
    assert failed.returncode == 125


def test_teardown_is_the_reverse_of_setup():
    plan = lab_plan(machines={"a": "198.18.0.1", "b": "198.18.0.2"})
    machine = ["netns", "cgroup", "cgroup", "mount", "machine"]
    assert [r.kind for r in plan.resources()] == ["netns", "netns", *machine, *machine]
    assert [" ".join(c.argv) for c in plan.teardown()] == [
        f"umount {STATE}/machines/b/root", "rmdir /sys/fs/cgroup/systemd/hwlab-b",
        "rmdir /sys/fs/cgroup/unified/hwlab-b", "ip netns del hwlab-b",
        f"umount {STATE}/machines/a/root", "rmdir /sys/fs/cgroup/systemd/hwlab-a",
        "rmdir /sys/fs/cgroup/unified/hwlab-a", "ip netns del hwlab-a",
        "ip netns del hwlab-ctl", "ip netns del hwlab-net"]
    # What a state file recorded is removed the same way, machines by pid only.
    assert teardown([Resource(kind="machine", name="a")]) == ()


def test_machine_files_make_each_machine_its_own():
    plan = lab_plan()
    writes = {m.name: {op.path: op for op in m.prepare if isinstance(op, Write)}
              for m in plan.machines}
    ids = {n: w[PurePosixPath("/etc/machine-id")].text for n, w in writes.items()}
    assert len(set(ids.values())) == 3 and all(len(i.strip()) == 32 for i in ids.values())
    assert writes["a"][PurePosixPath("/var/lib/dbus/machine-id")].text == ids["a"]
    assert writes["b"][PurePosixPath("/etc/hostname")].text == "b\n"
    assert "198.18.0.2\tb\n" in writes["b"][PurePosixPath("/etc/hosts")].text
    assert MakeDir(path=PurePosixPath("/var/log/journal"), mode=0o2755) in plan.machines[0].prepare
    # The same lab plans the same ids again: a rerun boots the same machines.
    assert lab_plan().machines[0].machine_id == plan.machines[0].machine_id


def test_ssh_keys_box_host_keys_hidden_own_key_made_lab_key_authorized():
    machine = lab_plan().machines[0]
    ops = list(machine.prepare)
    removed = {op.path for op in ops if isinstance(op, Remove)}
    assert {PurePosixPath("/etc/ssh/ssh_host_rsa_key"),
            PurePosixPath("/etc/ssh/ssh_host_ed25519_key")} <= removed
    keygen = [op for op in ops if isinstance(op, InMachine)]
    assert keygen[0].argv[-1] == "{root}/etc/ssh/ssh_host_ed25519_key"
    # the box's key goes before the machine's own is made in its place
    assert ops.index(Remove(path=PurePosixPath("/etc/ssh/ssh_host_ed25519_key"))) < \
        ops.index(keygen[0])
    copy = [op for op in ops if isinstance(op, Copy)]
    assert copy == [Copy(source=STATE / "ssh" / "id_ed25519.pub",
                         path=PurePosixPath("/root/.ssh/authorized_keys"), mode=0o600)]


def test_box_units_are_unlinked_not_masked_and_sshd_kept():
    ops = lab_plan().machines[0].prepare
    removed = {str(op.path) for op in ops if isinstance(op, Remove)}
    for unit in MUST_NOT_START:
        assert f"/etc/systemd/system/multi-user.target.wants/{unit}" in removed
    assert "/etc/systemd/system/sockets.target.wants/epmd.socket" in removed
    assert "/etc/systemd/system/timers.target.wants/apt-daily.timer" in removed
    assert "/etc/systemd/system/multi-user.target.wants/ssh.service" not in removed
    # Only root's own user manager is masked, none of the box's units.
    assert [op for op in ops if isinstance(op, Symlink)] == [
        Symlink(path=PurePosixPath("/etc/systemd/system/user@0.service"), target="/dev/null")]


def test_sshd_is_enabled_when_the_box_has_not():
    facts = BoxFacts(enabled_units=("multi-user.target.wants/haproxy.service",))
    machine = plan_machine(make_spec(STATE), make_spec(STATE).machines[0], facts)
    links = [op for op in machine.prepare if isinstance(op, Symlink)]
    assert links[:1] == [Symlink(
        path=PurePosixPath("/etc/systemd/system/multi-user.target.wants/ssh.service"),
        target="/lib/systemd/system/ssh.service")]


def test_closed_dirs_opened_for_others_in_the_machine_only():
    ops = lab_plan().machines[0].prepare
    assert [op for op in ops if isinstance(op, Chmod)] == [
        Chmod(path=PurePosixPath("/root"), mode=0o711)]


def test_traversal_dirs_are_every_parent():
    assert traversal_dirs([PurePosixPath("/root/.pyenv/versions/3.11/bin/python3.11"),
                           PurePosixPath("/work/co/x")]) == tuple(PurePosixPath(p) for p in (
        "/root", "/root/.pyenv", "/root/.pyenv/versions", "/root/.pyenv/versions/3.11",
        "/root/.pyenv/versions/3.11/bin", "/work", "/work/co"))


@pytest.mark.parametrize(("machines", "message"), [
    ({"a": "10.0.0.1"}, "must be a host address in 198.18.0.0/24 (got '10.0.0.1')"),
    ({"a": "198.18.0.255"}, "must be a host address in 198.18.0.0/24"),
    ({"a": "192.168.1.1"}, "must be a host address in 198.18.0.0/24"),
    ({"a": "not-an-ip"}, "must be an IPv4 address (got 'not-an-ip')"),
    ({"a": "198.18.0.1", "b": "198.18.0.1"}, "address is already taken (got '198.18.0.1')"),
    ({"a": "198.18.0.101"}, "address is already taken"),
    ({"ctl": "198.18.0.5"}, "not 'net' or 'ctl'"),
    ({"a_b": "198.18.0.5"}, "name must be"),
    ({"averyveryverylongname": "198.18.0.5"}, "name must be"),
    ({}, "need at least one machine"),
])
def test_bad_machines_are_refused_with_what_was_received(machines, message):
    with pytest.raises(LabError) as caught:
        make_spec(STATE, machines)
    assert message in str(caught.value)
    assert isinstance(caught.value, HeatWsgiError)


def test_names_are_lowercased_and_duplicates_across_case_refused():
    assert [m.name for m in make_spec(STATE, {"A": "198.18.0.1"}).machines] == ["a"]
    with pytest.raises(LabError, match="name is already taken"):
        make_spec(STATE, [("A", "198.18.0.1"), ("a", "198.18.0.2")])


def test_adding_a_machine_checks_against_the_running_ones():
    with pytest.raises(LabError, match="address is already taken"):
        validate_machines([("d", "198.18.0.3")], taken_names=["a", "b", "c"],
                          taken_addresses=["198.18.0.3"])
    (d,) = validate_machines([("D", "198.18.0.4")], taken_names=["a"], taken_addresses=[])
    assert (d.name, d.address) == ("d", "198.18.0.4")


@pytest.mark.parametrize("state_dir", ["relative/lab", "/has space/lab", "/a,b/lab", "/a:b"])
def test_state_dir_must_be_safe_in_overlay_options(state_dir):
    with pytest.raises(LabError, match="state dir"):
        make_spec(PurePosixPath(state_dir))


@pytest.mark.parametrize("prefix", ["HW-", "hw", "toolongprefix-", "-x-", "hw_lab-"])
def test_prefix_is_checked(prefix):
    with pytest.raises(LabError, match="prefix"):
        make_spec(STATE, prefix=prefix)


def test_links_are_symlinks_in_every_machine_and_checked():
    plan = lab_plan(links={"/opt/heat": "/work/co/.venv"})
    for machine in plan.machines:
        assert [op for op in machine.prepare if isinstance(op, Symlink)
                and op.path == PurePosixPath("/opt/heat")] == [
            Symlink(path=PurePosixPath("/opt/heat"), target="/work/co/.venv")]
    added = plan_machine(plan.spec, validate_machines([("d", "198.18.0.4")], taken_names=(),
                                                      taken_addresses=())[0], BOX)
    assert Symlink(path=PurePosixPath("/opt/heat"), target="/work/co/.venv") in added.prepare
    assert not [op for op in lab_plan().machines[0].prepare
                if isinstance(op, Symlink) and op.path.is_relative_to("/opt")]
    for bad in ({"opt/heat": "/x/y"}, {"/opt/heat": "../venv"}, {"/": "/x/y"},
                {"/opt/my heat": "/x/y"}, {"/opt": "/x/y", "/opt/heat": "/x/z"}):
        with pytest.raises(LabError, match="link"):
            make_spec(STATE, links=bad)


def test_the_session_lab_closes_after_its_last_user_only():
    # conftest's hooks drive labfixture.SessionLab: the lab must go right after
    # the last collected test that needs it, not at the session's end.
    from contextlib import ExitStack
    from types import SimpleNamespace

    from labfixture import SessionLab

    items = [SimpleNamespace(nodeid=name, fixturenames=fixtures) for name, fixtures in (
        ("t::boot", ["lab"]), ("t::deploy", ["deployment", "lab"]), ("t::other", ["tmp_path"]),
        ("u::last", ["rolling_restart", "deployment", "lab"]), ("v::after", []))]
    closed: list[str] = []
    session = SessionLab()
    session.find_last_user(items)  # type: ignore[arg-type]
    session._stack = ExitStack()
    session._stack.callback(lambda: closed.append("lab"))
    for item in items:
        closed.append(item.nodeid)   # the test and its own teardown ran
        session.close_after(item)  # type: ignore[arg-type]
    assert closed == ["t::boot", "t::deploy", "t::other", "u::last", "lab", "v::after"]
    session.close()  # the fixture's own finalizer: a no-op now
    assert closed.count("lab") == 1
