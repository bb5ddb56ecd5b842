"""Carry a lab plan out on this box, and take down exactly what its state file recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath

from heat_wsgi.errors import LabError
from heat_wsgi.lab import files
from heat_wsgi.lab.plan import (
    Command, LabPlan, MachinePlan, Resource, teardown as plan_teardown)
from heat_wsgi.lab.prepare import traversal_dirs
from heat_wsgi.lab.spec import BoxFacts
from heat_wsgi.lab.state import LabState, MachineState
from heat_wsgi.runtime.process import is_alive, log_tail, proc_starttime, spawn

Progress = Callable[[str], None]
POLL = 0.1
# A graceful halt of a bare machine takes well under a second here; one
# running MariaDB and RabbitMQ about 12 s. Past this it is killed: a lab
# machine has nothing to lose.
HALT_TIMEOUT = 10.0
KILL_TIMEOUT = 10.0
LEADER_TIMEOUT = 10.0


def _quiet(_: str) -> None:
    pass


def run(argv: Sequence[str], *, where: str, timeout: float = 30.0,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one command of the plan; a failure names the command and quotes its stderr."""
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError as exc:
        raise LabError(where, f"cannot run {argv[0]}: not installed "
                              "(bash scripts/install.sh installs the lab's packages)") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(where, f"{' '.join(argv)}: no answer in {timeout:g}s") from exc
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().replace("\n", "; ")
        raise LabError(where, f"{' '.join(argv)} failed with status {result.returncode}: "
                              f"{detail or 'no output'}")
    return result


def gather_facts(needed: Iterable[Path]) -> BoxFacts:
    """Read what the plan needs from the box: enabled units, host keys, closed dirs.

    :param needed: paths services in the machines must reach as another user
        (the checkout, its venv, the venv's interpreter); symlinks are
        followed, so only real directories are ever named.
    """
    etc = Path("/etc/systemd/system")
    enabled = sorted(f"{wants.name}/{link.name}" for wants in etc.glob("*.wants")
                     if wants.is_dir() for link in wants.iterdir())
    host_keys = sorted(p.name for p in Path("/etc/ssh").glob("ssh_host_*"))
    real: list[PurePosixPath] = []
    for path in needed:
        real.append(PurePosixPath(os.path.realpath(path)) / "x")
    closed = [str(d) for d in traversal_dirs(real)
              if Path(d).is_dir() and not os.stat(d).st_mode & 0o001]
    dbus = Path("/var/lib/dbus/machine-id")
    return BoxFacts(enabled_units=tuple(enabled), host_keys=tuple(host_keys),
                    closed_dirs=tuple(closed),
                    dbus_machine_id=dbus.is_file() and not dbus.is_symlink(),
                    needed=tuple(str(p.parent) for p in real),
                    cgroup_roots=tuple(files.cgroup_roots()))


def run_step(command: Command, state: LabState, where: str) -> None:
    if command.creates is not None:
        state.add(command.creates)
    run(command.argv, where=where)


def ensure_key(plan: LabPlan) -> None:
    """The lab's own key pair, made once per state dir."""
    key = Path(plan.key)
    if not key.is_file() or not key.with_name(key.name + ".pub").is_file():
        key.parent.mkdir(parents=True, exist_ok=True)
        key.parent.chmod(0o700)
        key.unlink(missing_ok=True)
        key.with_name(key.name + ".pub").unlink(missing_ok=True)
        run(plan.keygen, where="ssh key")


def make_root(machine: MachinePlan, state: LabState) -> str:
    """Mount the machine's overlay and write its files; return its sshd host key line."""
    where = f"machine {machine.name}"
    for path in (machine.upper, machine.work):
        files.remove_tree(Path(path), inside=state.state_dir)
        Path(path).mkdir(parents=True)
    Path(machine.root).mkdir(parents=True, exist_ok=True)
    run_step(machine.mount, state, where)
    root = Path(machine.root)
    for op in machine.prepare:
        files.apply(root, op, where=where, run=run)
    return files.read_inside(root, PurePosixPath("/etc/ssh/ssh_host_ed25519_key.pub")).strip()


def _leader(nspawn_pid: int) -> int | None:
    """The machine's PID 1 as the box sees it: nspawn's child that is 1 in its pid namespace."""
    try:
        tasks = os.listdir(f"/proc/{nspawn_pid}/task")
    except OSError:
        return None
    for task in tasks:
        try:
            children = Path(f"/proc/{nspawn_pid}/task/{task}/children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                status = Path(f"/proc/{child}/status").read_text()
            except OSError:
                continue
            nspid = [line.split()[1:] for line in status.splitlines()
                     if line.startswith("NSpid:")]
            if nspid and nspid[0][-1] == "1" and len(nspid[0]) > 1:
                return int(child)
    return None


def boot(machine: MachinePlan, state: LabState, host_key: str, deadline: float) -> MachineState:
    """Start systemd-nspawn in the background, record its pid and the machine's PID 1."""
    where = f"machine {machine.name}"
    entry = MachineState(name=machine.name, address=machine.address, netns=machine.netns,
                         port=machine.port, root=str(machine.root), log=str(machine.log),
                         host_key=host_key)
    proc = spawn(f"lab-{machine.name}", machine.boot, state_dir=state.state_dir,
                 log=Path(machine.log))
    entry.nspawn_pid, entry.nspawn_starttime = proc.pid, proc.starttime
    state.machines[machine.name] = entry
    state.add(Resource(kind="machine", name=machine.name))
    # The machine's PID 1 appears within milliseconds; it is waited for even
    # past the boot deadline, since stopping a machine needs it.
    until = max(deadline, time.monotonic() + LEADER_TIMEOUT)
    while (leader := _leader(proc.pid)) is None:
        if not is_alive(proc.pid):
            raise LabError(where, "systemd-nspawn ended before the machine started"
                           + log_tail(machine.log))
        if time.monotonic() > until:
            raise LabError(where, f"systemd-nspawn started no machine in {LEADER_TIMEOUT:g}s"
                           + log_tail(machine.log))
        time.sleep(POLL)
    entry.leader_pid, entry.leader_starttime = leader, proc_starttime(leader) or 0
    state.save()
    return entry


def _signal(pid: int, starttime: int, sig: int) -> None:
    # The start time guards against a recycled pid that is somebody else's now.
    if pid and is_alive(pid, starttime or None):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _wait_gone(entries: Sequence[MachineState], timeout: float) -> list[MachineState]:
    """Wait until every nspawn of ``entries`` has ended; return those still alive."""
    deadline = time.monotonic() + timeout
    while True:
        left = [e for e in entries if is_alive(e.nspawn_pid, e.nspawn_starttime or None)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(POLL / 2)


def stop_machines(state: LabState, entries: Sequence[MachineState], *, abrupt: bool,
                  halt_timeout: float = HALT_TIMEOUT) -> list[str]:
    """Stop machines by their recorded pids, all at once; return what would not stop.

    Graceful: SIGTERM to systemd-nspawn, which asks the machine's systemd to
    halt. Abrupt, like a pulled plug: its bridge port goes down first (so the
    dying machine sends no FIN or RST to anyone), then SIGKILL to the
    machine's PID 1 ends its whole pid namespace at once.
    """
    live = [e for e in entries if not e.powered_off]
    for entry in live:
        if not entry.leader_pid and is_alive(entry.nspawn_pid, entry.nspawn_starttime or None):
            # It was stopped before its PID 1 was seen: look once more.
            leader = _leader(entry.nspawn_pid)
            if leader is not None:
                entry.leader_pid, entry.leader_starttime = leader, proc_starttime(leader) or 0
        if abrupt:
            run(("ip", "-n", state.net_ns, "link", "set", entry.port, "down"),
                where=f"machine {entry.name}", check=False)
            _signal(entry.leader_pid, entry.leader_starttime, signal.SIGKILL)
        else:
            _signal(entry.nspawn_pid, entry.nspawn_starttime, signal.SIGTERM)
    left = _wait_gone(live, KILL_TIMEOUT if abrupt else halt_timeout)
    for entry in left:
        _signal(entry.leader_pid, entry.leader_starttime, signal.SIGKILL)
    left = _wait_gone(left, KILL_TIMEOUT)
    for entry in left:
        _signal(entry.nspawn_pid, entry.nspawn_starttime, signal.SIGKILL)
    left = _wait_gone(left, KILL_TIMEOUT)
    for entry in live:
        if entry not in left:
            entry.powered_off = True
            # nspawn leaves this directory behind when its machine is killed.
            files.rmdir_quiet(Path("/run/systemd/nspawn/propagate") / entry.netns)
            pidfile = state.state_dir / "run" / f"lab-{entry.name}.pid"
            if pidfile.is_file() and pidfile.read_text().strip() == str(entry.nspawn_pid):
                pidfile.unlink()
    state.save()
    return [f"machine {e.name}: systemd-nspawn pid {e.nspawn_pid} would not end" for e in left]


def netns_pids(name: str) -> list[int]:
    result = run(("ip", "netns", "pids", name), where=f"namespace {name}", check=False)
    return [int(p) for p in result.stdout.split() if p.isdigit()]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def empty_netns(name: str, progress: Progress = _quiet) -> list[str]:
    """End whatever still runs in one of the lab's namespaces (e.g. ssh ControlPersist
    masters Ansible left in the control namespace): only processes inside a namespace
    the lab made and named, so nothing of anybody else's is touched."""
    pids = netns_pids(name)
    if pids:
        progress(f"lab: ending what still runs in namespace {name}: "
                 + ", ".join(f"{p} ({_comm(p)})" for p in pids))
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while (pids := [p for p in pids if is_alive(p)]) and time.monotonic() < deadline:
            time.sleep(POLL / 2)
        if not pids:
            return []
    return [f"namespace {name}: pids {pids} would not end"]


def remove_resource(resource: Resource, progress: Progress = _quiet) -> str | None:
    """Remove one recorded mount or namespace; None when it is gone, else the problem."""
    if resource.kind == "mount":
        if resource.name not in files.overlay_mounts():
            return None
        deadline = time.monotonic() + 5.0
        while True:
            (command,) = plan_teardown([resource])
            result = run(command.argv, where="teardown", check=False)
            if result.returncode == 0 or resource.name not in files.overlay_mounts():
                return None
            if time.monotonic() >= deadline:  # busy: a process still has a file open there
                return f"{' '.join(command.argv)}: {result.stderr.strip()}"
            time.sleep(POLL)
    if resource.kind == "cgroup":
        # The machine's systemd made cgroups inside; a stopped machine leaves
        # them empty, and they go deepest first.
        deadline = time.monotonic() + 5.0
        while (problem := files.remove_cgroup(Path(resource.name))) is not None:
            if time.monotonic() >= deadline:
                return problem
            time.sleep(POLL)
        return None
    if resource.kind == "netns":
        if resource.name not in list_netns():
            return None
        problems = empty_netns(resource.name, progress)
        (command,) = plan_teardown([resource])
        result = run(command.argv, where="teardown", check=False)
        if result.returncode != 0 and resource.name in list_netns():
            problems.append(f"{' '.join(command.argv)}: {result.stderr.strip()}")
        return "; ".join(problems) or None
    return None


def teardown(state: LabState, progress: Progress = _quiet, *, abrupt: bool = False,
             halt_timeout: float = HALT_TIMEOUT) -> None:
    """End the clients in the control namespace, stop every recorded machine
    (a clean halt, or ``abrupt``: killed at once), unmount every recorded
    mount, delete every recorded namespace, last made first; keep going past
    failures, then raise one LabError naming all that is left."""
    # Clients first, as before a real shutdown: an SSH session still open
    # while a machine halts (an Ansible ControlPersist master) can hold the
    # halt up until the kill.
    problems = (empty_netns(state.control_ns, progress)
                if state.control_ns in list_netns() else [])
    problems += stop_machines(state, list(state.machines.values()), abrupt=abrupt,
                              halt_timeout=halt_timeout)
    for resource in reversed(list(state.resources)):
        if resource.kind == "machine":
            entry = state.machines.get(resource.name)
            if entry is None or entry.powered_off:
                state.drop(resource)
            continue
        problem = remove_resource(resource, progress)
        if problem is None:
            progress(f"lab: removed {resource.kind} {resource.name}")
            state.drop(resource)
        else:
            problems.append(problem)
    if problems:
        raise LabError("teardown", "left behind: " + "; ".join(problems))
    state.remove_file()


def list_netns() -> list[str]:
    result = run(("ip", "netns", "list"), where="namespaces", check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def leftovers(prefix: str, state_dir: Path) -> list[Resource]:
    """The lab's namespaces and cgroups (by prefix) and overlay mounts (under
    ``state_dir``) still there."""
    found = [Resource(kind="mount", name=target) for target in files.overlay_mounts()
             if Path(target).is_relative_to(state_dir)]
    found += [Resource(kind="cgroup", name=str(path)) for root in files.cgroup_roots()
              for path in Path(root).glob(f"{prefix}*") if path.is_dir()]
    found += [Resource(kind="netns", name=name) for name in list_netns()
              if name.startswith(prefix)]
    return found
