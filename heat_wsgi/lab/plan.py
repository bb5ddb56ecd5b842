"""The lab's plan: every namespace, link, mount, file and command, computed without I/O.

A lab is a handful of Debian machines booted with systemd-nspawn on this box.
Each machine has its own network namespace with one ``eth0`` whose other end
sits on a bridge; the bridge lives in a namespace of its own, and a control
namespace on the same bridge is where clients (Ansible, the test clients)
run. Nothing is in the box's root namespace and nothing routes to it.

The request is validated in ``spec``, the files each machine gets are
computed in ``prepare``.

``plan_lab(spec, facts)`` returns the whole :class:`LabPlan`: what to create,
in order, each step naming the :class:`Resource` it creates, and
``teardown(resources)`` the commands that remove them, in reverse.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from heat_wsgi.errors import LabError
from heat_wsgi.lab.prepare import FileOp, machine_id, prepare_ops
from heat_wsgi.lab.spec import (
    CONTROL_SUFFIX, LAB_NETWORK, NET_SUFFIX, BoxFacts, LabSpec, MachineSpec)

BRIDGE = "lab0"
# Linux interface names hold at most 15 characters; the bridge port of a
# machine is "v-" + its name.
IFNAMSIZ = 15
# Moves itself into each cgroup named before "--", then becomes the command
# after it (same pid, so the recorded pid is systemd-nspawn's).
JOIN_CGROUPS = ('while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; '
                'shift; exec "$@"')


@dataclass(frozen=True, slots=True, kw_only=True)
class Resource:
    """One thing the lab made that teardown must remove."""

    kind: Literal["netns", "cgroup", "mount", "machine"]
    name: str  # namespace name, cgroup or mount path, or machine name


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    argv: tuple[str, ...]
    creates: Resource | None = None  # recorded before it runs, so a crash leaves no orphan


@dataclass(frozen=True, slots=True, kw_only=True)
class MachinePlan:
    name: str
    address: str
    machine: str  # systemd-nspawn --machine, also its namespace name
    netns: str
    port: str  # its veth end on the bridge
    directory: PurePosixPath
    upper: PurePosixPath
    work: PurePosixPath
    root: PurePosixPath
    log: PurePosixPath
    machine_id: str
    network: tuple[Command, ...]
    cgroups: tuple[Command, ...]
    mount: Command
    prepare: tuple[FileOp, ...]
    boot: tuple[str, ...]

    @property
    def setup(self) -> tuple[Command, ...]:
        """What comes before the files and the boot: namespace, link, cgroups, mount."""
        return (*self.network, *self.cgroups, self.mount)


@dataclass(frozen=True, slots=True, kw_only=True)
class LabPlan:
    spec: LabSpec
    net_ns: str
    control_ns: str
    key: PurePosixPath
    known_hosts: PurePosixPath
    state_file: PurePosixPath
    keygen: tuple[str, ...]
    network: tuple[Command, ...]  # the bridge's and the control namespace's
    machines: tuple[MachinePlan, ...]

    def commands(self) -> tuple[Command, ...]:
        """Every command of the setup, in the order the executor runs them."""
        out = list(self.network)
        for machine in self.machines:
            boot = Command(argv=machine.boot, creates=Resource(kind="machine", name=machine.name))
            out += [*machine.setup, boot]
        return tuple(out)

    def resources(self) -> tuple[Resource, ...]:
        return tuple(c.creates for c in self.commands() if c.creates is not None)

    def teardown(self) -> tuple[Command, ...]:
        return teardown(self.resources())


def teardown(resources: Iterable[Resource]) -> tuple[Command, ...]:
    """Commands that remove ``resources``, last made first.

    A machine is stopped by its recorded pids, not by a command, so it adds
    nothing here; the executor stops it at its place in this order, before
    its mount, cgroups and namespace go. Before a cgroup's ``rmdir`` the
    executor removes the cgroups the machine's systemd made inside it.
    """
    out: list[Command] = []
    for resource in reversed(tuple(resources)):
        if resource.kind == "mount":
            out.append(Command(argv=("umount", resource.name)))
        elif resource.kind == "cgroup":
            out.append(Command(argv=("rmdir", resource.name)))
        elif resource.kind == "netns":
            out.append(Command(argv=("ip", "netns", "del", resource.name)))
    return tuple(out)


def _endpoint(net_ns: str, netns: str, port: str, address: str) -> tuple[Command, ...]:
    """A namespace with ``eth0`` at ``address``, its peer ``port`` on the bridge."""
    cidr = f"{address}/{LAB_NETWORK.prefixlen}"
    return (
        Command(argv=("ip", "netns", "add", netns), creates=Resource(kind="netns", name=netns)),
        Command(argv=("ip", "-n", netns, "link", "set", "lo", "up")),
        Command(argv=("ip", "-n", net_ns, "link", "add", port, "type", "veth",
                      "peer", "name", "eth0", "netns", netns)),
        Command(argv=("ip", "-n", net_ns, "link", "set", port, "master", BRIDGE)),
        Command(argv=("ip", "-n", net_ns, "link", "set", port, "up")),
        # nodad: the address is usable at once, no duplicate-detection wait.
        Command(argv=("ip", "-n", netns, "addr", "add", cidr, "dev", "eth0", "nodad")),
        Command(argv=("ip", "-n", netns, "link", "set", "eth0", "up")),
    )


def plan_machine(spec: LabSpec, machine: MachineSpec, facts: BoxFacts) -> MachinePlan:
    """Everything for one machine: its namespace and link, its root, its files, its boot."""
    net_ns = spec.prefix + NET_SUFFIX
    netns = spec.prefix + machine.name
    port = f"v-{machine.name}"
    if len(port) > IFNAMSIZ:
        raise LabError(f"machine {machine.name!r}", f"name too long for an interface "
                                                    f"(got {machine.name!r})")
    directory = spec.state_dir / "machines" / machine.name
    upper, work, root = directory / "upper", directory / "work", directory / "root"
    # systemd-nspawn --keep-unit puts itself and the machine below its own
    # cgroup; on a box without systemd that is the root cgroup, which every
    # machine would then share (one machine's systemd removing another's
    # cgroups). So each one starts in a cgroup of its own, per hierarchy.
    cgroups = tuple(PurePosixPath(r) / netns for r in facts.cgroup_roots)
    boot: tuple[str, ...] = (
        "sh", "-c", JOIN_CGROUPS, "sh", *(str(c / "cgroup.procs") for c in cgroups), "--",
        "systemd-nspawn", "-D", str(root), f"--machine={netns}", "-b",
        f"--network-namespace-path=/run/netns/{netns}",
        # No systemd on the box to register with (see the lab note).
        "--register=no", "--keep-unit", "--link-journal=no",
        # The machine sees the box through the overlay, but not the lab's own
        # private key and the other machines' layers (an empty tmpfs covers
        # them; --inaccessible needs systemd on the box).
        f"--tmpfs={spec.state_dir}:mode=0700",
    )
    # Nor the box's /tmp (other programs' files and sockets), unless what the
    # machines need lives there.
    if not any(PurePosixPath(p).is_relative_to("/tmp") for p in facts.needed):
        boot += ("--tmpfs=/tmp:mode=1777",)
    return MachinePlan(
        name=machine.name, address=machine.address, machine=netns, netns=netns, port=port,
        directory=directory, upper=upper, work=work, root=root,
        log=spec.state_dir / "logs" / f"{machine.name}.log",
        machine_id=machine_id(spec, machine.name),
        network=_endpoint(net_ns, netns, port, machine.address),
        cgroups=tuple(Command(argv=("mkdir", str(c)), creates=Resource(kind="cgroup", name=str(c)))
                      for c in cgroups),
        mount=Command(argv=("mount", "-t", "overlay", netns, "-o",
                            f"lowerdir=/,upperdir={upper},workdir={work}", str(root)),
                      creates=Resource(kind="mount", name=str(root))),
        prepare=prepare_ops(spec, machine, facts), boot=boot)


def plan_lab(spec: LabSpec, facts: BoxFacts) -> LabPlan:
    net_ns = spec.prefix + NET_SUFFIX
    control_ns = spec.prefix + CONTROL_SUFFIX
    key = spec.state_dir / "ssh" / "id_ed25519"
    network = (
        Command(argv=("ip", "netns", "add", net_ns), creates=Resource(kind="netns", name=net_ns)),
        Command(argv=("ip", "-n", net_ns, "link", "set", "lo", "up")),
        Command(argv=("ip", "-n", net_ns, "link", "add", BRIDGE, "type", "bridge")),
        Command(argv=("ip", "-n", net_ns, "link", "set", BRIDGE, "up")),
        *_endpoint(net_ns, control_ns, f"v-{CONTROL_SUFFIX}", spec.control_address),
    )
    return LabPlan(
        spec=spec, net_ns=net_ns, control_ns=control_ns, key=key,
        known_hosts=spec.state_dir / "ssh" / "known_hosts",
        state_file=spec.state_dir / "lab.json",
        keygen=("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                f"heat-wsgi-lab@{spec.prefix}", "-f", str(key)),
        network=network,
        machines=tuple(plan_machine(spec, m, facts) for m in spec.machines))


