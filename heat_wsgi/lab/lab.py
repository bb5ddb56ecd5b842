"""The lab as tests and Ansible use it: boot machines, reach them, power them off, stop."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any

from heat_wsgi.errors import LabError
from heat_wsgi.lab import executor, state as state_file
from heat_wsgi.lab.plan import MachinePlan, Resource, plan_lab, plan_machine
from heat_wsgi.lab.spec import (
    DEFAULT_CONTROL_ADDRESS, DEFAULT_PREFIX, BoxFacts, LabSpec, MachineSpec, make_spec,
    validate_machines)
from heat_wsgi.lab.state import LabState
from heat_wsgi.runtime.process import is_alive, log_tail

STATE_ENV = "HEAT_WSGI_LAB_STATE"
POLL = 0.1
TOOLS = ("ip", "mount", "umount", "systemd-nspawn", "ssh", "ssh-keygen")


def checkout() -> Path:
    """The checkout heat_wsgi runs from (else the current directory)."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "setup.cfg").is_file() else Path.cwd()


def default_state_dir() -> Path:
    """``$HEAT_WSGI_LAB_STATE`` or ``<checkout>/.state/lab``."""
    env = os.environ.get(STATE_ENV)
    return Path(env).absolute() if env else checkout() / ".state" / "lab"


def _needed_paths() -> list[Path]:
    """What services in a machine reach as another user: checkout, venv, interpreter."""
    python = Path(sys.executable)
    return [checkout(), Path(sys.prefix), python, Path(os.path.realpath(python)),
            Path(sys.base_prefix) / "lib", Path(__file__).resolve().parents[1]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Machine:
    """A running machine: ``root`` is its filesystem as the box sees it (the overlay)."""

    name: str
    address: str
    netns: str
    root: Path
    log: Path
    host_key: str


class Lab:
    """Machines booted with systemd-nspawn, reached over SSH from a control namespace.

    ``with Lab() as lab:`` boots machines a, b, c on 198.18.0.1-3 and tears
    everything down on the way out, however the block ends. ``Lab.attach()``
    takes over a lab that ``heat-wsgi lab up`` left running. ``links``
    (``{"/opt/heat": "/work/co/.venv"}``) gives every machine, and every one
    added later, those symlinks.
    """

    def __init__(self, machines: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
                 *, state_dir: Path | None = None, prefix: str = DEFAULT_PREFIX,
                 control_address: str = DEFAULT_CONTROL_ADDRESS, boot_timeout: float = 60.0,
                 halt_timeout: float = executor.HALT_TIMEOUT,
                 progress: Callable[[str], None] | None = None,
                 links: Mapping[str, str] | None = None) -> None:
        directory = (state_dir or default_state_dir()).absolute()
        self.spec: LabSpec = make_spec(PurePosixPath(directory), machines, prefix=prefix,
                                       control_address=control_address, links=links)
        self.state_dir = directory
        self.boot_timeout = boot_timeout
        self.halt_timeout = halt_timeout
        self.progress = progress or (lambda _: None)
        self.boot_seconds = 0.0
        # Every systemd-nspawn pid and machine PID 1 this object started, for
        # a test to check none is left after stop().
        self.started_pids: list[int] = []
        self._state: LabState | None = None
        self._facts: BoxFacts | None = None

    # -- life cycle -------------------------------------------------------

    @classmethod
    def attach(cls, state_dir: Path | None = None) -> Lab:
        """The lab running from ``state_dir`` (e.g. one ``heat-wsgi lab up`` started)."""
        directory = (state_dir or default_state_dir()).absolute()
        found = state_file.load(directory)
        if found is None:
            raise LabError("state", f"no lab is running from {directory}")
        pairs = [(m.name, m.address) for m in found.machines.values()]
        lab = cls(pairs or None, state_dir=directory, prefix=found.prefix,
                  control_address=found.control_address)
        lab._state = found
        return lab

    def start(self) -> Lab:
        """Tear down leftovers of an earlier run, then set up, boot and wait; on any
        failure everything made so far is torn down before the error propagates."""
        missing = [t for t in TOOLS if shutil.which(t) is None]
        if not Path("/usr/sbin/sshd").is_file():
            missing.append("sshd")
        if missing:
            raise LabError("tools", f"missing {', '.join(missing)}: run bash scripts/install.sh "
                                    "(apt packages systemd-container, openssh-server)")
        if os.geteuid() != 0:
            raise LabError("start", f"needs root for namespaces and mounts (uid {os.geteuid()})")
        self.clean_leftovers()
        self._facts = executor.gather_facts(_needed_paths())
        plan = plan_lab(self.spec, self._facts)
        current = LabState(state_dir=self.state_dir, prefix=self.spec.prefix,
                           net_ns=plan.net_ns, control_ns=plan.control_ns,
                           control_address=self.spec.control_address, key=str(plan.key),
                           known_hosts=str(plan.known_hosts))
        state_file.claim(self.spec.prefix, self.state_dir)
        current.save()
        self._state = current
        try:
            executor.ensure_key(plan)
            for command in plan.network:
                executor.run_step(command, current, "network")
            self._boot(plan.machines)
        except BaseException:
            self._teardown_after_failure()
            raise
        return self

    def stop(self, *, abrupt: bool = False) -> None:
        """Stop every machine (a clean halt, or killed at once when ``abrupt``) and
        remove every mount and namespace the lab recorded."""
        if self._state is None:
            return
        current, self._state = self._state, None
        executor.teardown(current, self.progress, abrupt=abrupt,
                          halt_timeout=self.halt_timeout)
        state_file.release(self.spec.prefix, self.state_dir)

    def __enter__(self) -> Lab:
        return self if self._state is not None else self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def _teardown_after_failure(self) -> None:
        try:
            self.stop(abrupt=True)  # half-booted machines have nothing to save
        except LabError as exc:  # the first error is the one to see; this one follows it
            print(f"heat-wsgi: {exc}", file=sys.stderr)

    def clean_leftovers(self, *, abrupt: bool = True) -> None:
        """Remove what an earlier, crashed run of this lab left: its recorded
        machines (killed at once, unless not ``abrupt``), mounts and
        namespaces, then any namespace with the lab's prefix and any overlay
        mounted under the state dir."""
        prefix, directory = self.spec.prefix, self.state_dir
        owner = state_file.claimed_by(prefix)
        if owner is not None and owner != directory:
            other = state_file.load(owner) if owner.is_dir() else None
            if other is not None and any(is_alive(m.nspawn_pid, m.nspawn_starttime or None)
                                         for m in other.machines.values()):
                raise LabError("prefix", f"{prefix!r} is in use by the lab running from {owner}: "
                                         f"stop it (heat-wsgi lab down --state-dir {owner}) "
                                         "or choose another prefix")
            if other is not None:
                executor.teardown(other, self.progress, abrupt=True)
        old = state_file.load(directory)
        if old is not None:
            self.progress(f"lab: tearing down the lab recorded in {directory}")
            executor.teardown(old, self.progress, abrupt=abrupt)
        # Namespaces first: killing what runs in a machine's namespace ends a
        # machine whose pid was never recorded, and frees its mount and cgroups.
        order = {"netns": 0, "mount": 1, "cgroup": 2}
        found = sorted(executor.leftovers(prefix, directory), key=lambda r: order[r.kind])
        problems = []
        for resource in found:
            self.progress(f"lab: removing leftover {resource.kind} {resource.name}")
            problem = executor.remove_resource(resource, self.progress)
            if problem:
                problems.append(problem)
        if problems:
            raise LabError("leftovers", "; ".join(problems))
        state_file.release(prefix, owner or directory)

    def _boot(self, machines: Sequence[MachinePlan]) -> None:
        current = self._require()
        started = time.monotonic()
        deadline = started + self.boot_timeout
        keys = {}
        for machine in machines:
            self.progress(f"lab: machine {machine.name} on {machine.address}")
            for command in (*machine.network, *machine.cgroups):
                executor.run_step(command, current, f"machine {machine.name}")
            keys[machine.name] = executor.make_root(machine, current)
        for machine in machines:
            try:
                executor.boot(machine, current, keys[machine.name], deadline)
            finally:
                entry = current.machines.get(machine.name)
                if entry is not None:
                    self.started_pids += [p for p in (entry.nspawn_pid, entry.leader_pid) if p]
        self._write_known_hosts()
        for machine in machines:
            self._wait_ready(machine.name, deadline)
            current.machines[machine.name].boot_seconds = round(time.monotonic() - started, 2)
        current.save()
        self.boot_seconds = round(time.monotonic() - started, 2)
        self.progress(f"lab: {len(machines)} machine(s) up in {self.boot_seconds:.1f}s")

    def _write_known_hosts(self) -> None:
        current = self._require()
        lines = [f"{m.address} {m.host_key}\n" for m in current.machines.values()]
        path = Path(current.known_hosts)
        path.write_text("".join(lines))

    def _wait_ready(self, name: str, deadline: float) -> None:
        """Until sshd answers from the control namespace and systemd says running."""
        entry = self._require().machines[name]
        where = f"machine {name}"
        last = ""
        while True:
            probe = subprocess.run(self.ssh_argv(name, "true", connect_timeout=1),
                                   capture_output=True, text=True, timeout=10,
                                   stdin=subprocess.DEVNULL, check=False)
            if probe.returncode == 0:
                break
            last = probe.stderr.strip()
            if not is_alive(entry.nspawn_pid, entry.nspawn_starttime or None):
                raise LabError(where, "stopped while booting" + log_tail(entry.log))
            if time.monotonic() >= deadline:
                raise LabError(where, f"sshd on {entry.address} did not answer from the control "
                                      f"namespace in {self.boot_timeout:g}s (last: {last})"
                               + log_tail(entry.log))
            time.sleep(POLL)
        left = max(1, int(deadline - time.monotonic()))
        answer = self.ssh(name, f"timeout {left} systemctl is-system-running --wait",
                          check=False).stdout.strip()
        if answer != "running":
            failed = self.ssh(name, "systemctl --failed --no-legend --plain",
                              check=False).stdout.strip().replace("\n", "; ")
            raise LabError(where, f"systemctl is-system-running says {answer!r}, failed units: "
                                  f"{failed or 'none'} (see journalctl -b in the machine)")

    # -- reaching the machines -------------------------------------------

    def _require(self) -> LabState:
        if self._state is None:
            raise LabError("api", "the lab is not running (call start() or use `with Lab()`)")
        return self._state

    @property
    def machines(self) -> dict[str, Machine]:
        """Running machines by (lowercase) name."""
        return {n: Machine(name=n, address=m.address, netns=m.netns, root=Path(m.root),
                           log=Path(m.log), host_key=m.host_key)
                for n, m in self._require().machines.items()}

    @property
    def control_namespace(self) -> str:
        return self._require().control_ns

    @property
    def control_address(self) -> str:
        return self._require().control_address

    @property
    def key_path(self) -> Path:
        return Path(self._require().key)

    @property
    def known_hosts(self) -> Path:
        return Path(self._require().known_hosts)

    def machine(self, name: str) -> Machine:
        found = self.machines.get(name.lower())
        if found is None:
            raise LabError("api", f"no running machine {name!r} "
                                  f"(have: {', '.join(self.machines) or 'none'})")
        return found

    def control_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the control namespace, where clients of the lab run."""
        return ["ip", "netns", "exec", self.control_namespace, *argv]

    def control_run(self, argv: Sequence[str], *, check: bool = True, timeout: float = 600.0,
                    **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the control namespace (output captured as text unless
        ``kwargs`` say otherwise); ``check`` turns a failure into a LabError."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        if "stdout" not in kwargs and "stderr" not in kwargs:
            kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        full = self.control_argv(argv)
        result: subprocess.CompletedProcess[str] = subprocess.run(
            full, timeout=timeout, check=False, **kwargs)
        if check and result.returncode != 0:
            tail = (str(result.stderr or "") + str(result.stdout or "")).strip()[-2000:]
            raise LabError("control", f"{shlex.join(argv)} exited with status "
                                      f"{result.returncode}: {tail or 'no output'}")
        return result

    def control_popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[str]:
        """Start ``argv`` in the control namespace in the background (the caller stops it)."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("text", True)
        return subprocess.Popen(self.control_argv(argv), **kwargs)

    def ssh_options(self) -> list[str]:
        """ssh options for the machines: the lab's key, its known_hosts, no prompts.

        The machines' host keys are generated by the lab and written to its
        known_hosts, so host key checking stays on.
        """
        return ["-i", str(self.key_path), "-o", "IdentitiesOnly=yes",
                "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                # A powered-off machine is noticed in seconds, not minutes.
                "-o", "ServerAliveInterval=2", "-o", "ServerAliveCountMax=3"]

    def ansible_vars(self) -> dict[str, str]:
        """Connection variables for an inventory (Ansible runs in the control namespace)."""
        common = [o for o in self.ssh_options()[2:] if o not in ("-o", "BatchMode=yes")
                  and not o.startswith("ServerAlive")]
        # A playbook's connections ride out a busy machine (a task may keep
        # the other end silent for a while); ssh() keeps its quick verdicts.
        common += ["ServerAliveInterval=5", "ServerAliveCountMax=12", "ConnectTimeout=30"]
        return {"ansible_user": "root", "ansible_ssh_private_key_file": str(self.key_path),
                "ansible_ssh_common_args": " ".join(f"-o {o}" for o in common),
                "ansible_python_interpreter": "/usr/bin/python3",
                # Ansible's default adds -C: compressing what crosses a veth
                # pair only costs CPU. The masters outlive the gaps between
                # one test's playbooks and the next (its default is 60 s).
                "ansible_ssh_args": "-o ControlMaster=auto -o ControlPersist=900s",
                # ssh's ControlPersist masters are unix sockets named after
                # user@address:port: shared by default, two labs (or a lab and
                # real machines on the same addresses) would reach each other's
                # machines through them. Each lab keeps its own.
                "ansible_control_path_dir": str(self.state_dir / "ssh-control")}

    def inventory(self) -> dict[str, Any]:
        """A YAML-ready inventory of the running machines with :meth:`ansible_vars`."""
        return {"all": {"vars": self.ansible_vars(),
                        "hosts": {n: {"ansible_host": m.address}
                                  for n, m in self.machines.items()}}}

    def ssh_argv(self, name: str, command: str | Sequence[str], *,
                 connect_timeout: int = 5) -> list[str]:
        text = command if isinstance(command, str) else shlex.join(command)
        return self.control_argv(["ssh", *self.ssh_options(), "-o",
                                  f"ConnectTimeout={connect_timeout}",
                                  f"root@{self.machine(name).address}", "--", text])

    def ssh(self, name: str, command: str | Sequence[str], *, check: bool = True,
            timeout: float = 300.0, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``command`` (a shell line, or an argv quoted for you) as root on ``name``."""
        result = subprocess.run(self.ssh_argv(name, command), capture_output=True, text=True,
                                timeout=timeout, input=input, check=False,
                                stdin=None if input is not None else subprocess.DEVNULL)
        if check and result.returncode != 0:
            tail = (result.stderr + result.stdout).strip()[-2000:]
            raise LabError(f"machine {name}", f"{command!r} exited with status "
                                              f"{result.returncode}: {tail or 'no output'}")
        return result

    # -- changing the lab while it runs ---------------------------------------

    def add_machine(self, name: str, address: str) -> Machine:
        """Boot one more machine on the lab network and wait until it is ready."""
        current = self._require()
        taken = [current.control_address, *(m.address for m in current.machines.values())]
        (spec,) = validate_machines([(name, address)], taken_names=current.machines,
                                    taken_addresses=taken)
        facts = self._facts or executor.gather_facts(_needed_paths())
        self._facts = facts
        self._boot([plan_machine(self.spec, MachineSpec(name=spec.name, address=spec.address),
                                 facts)])
        return self.machine(spec.name)

    def power_off(self, name: str, *, abrupt: bool = True) -> None:
        """Make machine ``name`` vanish: abrupt is a pulled plug (no shutdown, no
        goodbye packets), else a clean ``poweroff``. Its processes, mount and
        namespace are gone afterwards; its name and address are free again."""
        current = self._require()
        machine = self.machine(name)
        entry = current.machines[machine.name]
        problems = executor.stop_machines(current, [entry], abrupt=abrupt)
        for resource in (Resource(kind="mount", name=entry.root),
                         Resource(kind="netns", name=entry.netns)):
            problem = executor.remove_resource(resource)
            if problem is None:
                current.drop(resource)
            else:
                problems.append(problem)
        if problems:
            raise LabError(f"machine {machine.name}", "power off left behind: "
                           + "; ".join(problems))
        del current.machines[machine.name]
        current.drop(Resource(kind="machine", name=machine.name))
        self._write_known_hosts()

    def is_running(self, name: str) -> bool:
        entry = self._require().machines.get(name.lower())
        return entry is not None and is_alive(entry.nspawn_pid, entry.nspawn_starttime or None)

    def status(self) -> dict[str, str]:
        """Per machine: ``running`` / ``degraded`` / ... as its systemd says, or why not."""
        out = {}
        for name in self.machines:
            if not self.is_running(name):
                out[name] = "not running (systemd-nspawn has ended)"
                continue
            result = self.ssh(name, "systemctl is-system-running", check=False, timeout=20)
            out[name] = result.stdout.strip() or result.stderr.strip() or "no answer"
        return out


def start_lab(machines: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
              **kwargs: Any) -> Lab:
    """``Lab(machines, **kwargs).start()``: the caller must call ``stop()``."""
    return Lab(machines, **kwargs).start()
