"""The lab's plan: every namespace, link, mount, file and command, computed without I/O.

A lab is a handful of Debian machines booted with systemd-nspawn on this box.
Each machine has its own network namespace with one ``eth0`` whose other end
sits on a bridge; the bridge lives in a namespace of its own, and a control
namespace on the same bridge is where clients (Ansible, the test clients)
run. Nothing is in the box's root namespace and nothing routes to it.

Every name the lab gives a kernel object starts with the prefix (``hwlab-``),
every address lies in 198.18.0.0/24, and every value written into a machine
comes from a name or address validated here (lowercase letters, digits,
dashes; IPv4 addresses), so none needs quoting in the files it reaches.

``plan_lab(spec, facts)`` returns the whole :class:`LabPlan`: what to create,
in order, each step naming the :class:`Resource` it creates, and
``teardown(resources)`` the commands that remove them, in reverse.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from heat_wsgi.errors import HeatWsgiError

DEFAULT_PREFIX = "hwlab-"
# The range set aside for network test labs (RFC 2544); see the lab rules.
LAB_NETWORK = ipaddress.IPv4Network("198.18.0.0/24")
DEFAULT_MACHINES: tuple[tuple[str, str], ...] = (
    ("a", "198.18.0.1"), ("b", "198.18.0.2"), ("c", "198.18.0.3"))
DEFAULT_CONTROL_ADDRESS = "198.18.0.101"
# Namespace suffixes of the lab's own two namespaces; no machine may take them.
NET_SUFFIX = "net"
CONTROL_SUFFIX = "ctl"
BRIDGE = "lab0"
# Linux interface names hold at most 15 characters; the bridge port of a
# machine is "v-" + its name.
IFNAMSIZ = 15
MACHINE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,12}$")
PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,7}-$")
# Overlay mount options are comma-separated and use ":" between lower dirs.
UNSAFE_PATH = re.compile(r"[,:=\\\s\"']")

SSHD_UNIT = "ssh.service"
# Of the units the box enables (links under /etc/systemd/system/*.wants),
# a machine keeps only these: sshd is how the lab reaches it, remote-fs.target
# is a target that starts nothing. Everything else the box enabled (Debian's
# own apache2, mariadb, rabbitmq-server, haproxy, epmd, postgresql, the apt
# and man-db timers, e2scrub) would start servers or busy work in every
# machine, so its link is removed in the machine and it stays startable.
KEEP_ENABLED = frozenset({SSHD_UNIT, "remote-fs.target"})
# Never started at boot, however the box lists them.
MUST_NOT_START = ("apache2.service", "mariadb.service", "rabbitmq-server.service",
                  "haproxy.service")
SYSTEMD_ETC = PurePosixPath("/etc/systemd/system")
SSHD_DROPIN = PurePosixPath("/etc/ssh/sshd_config.d/heat-wsgi-lab.conf")
HOST_KEY = PurePosixPath("/etc/ssh/ssh_host_ed25519_key")


class LabError(HeatWsgiError):
    """The lab cannot be planned, started, reached or torn down; ``where`` names the part."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(where, message)
        self.where = where
        self.message = message

    def __str__(self) -> str:
        return f"lab {self.where}: {self.message}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MachineSpec:
    name: str
    address: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LabSpec:
    """What the caller asked for, validated: see :func:`make_spec`."""

    state_dir: PurePosixPath
    machines: tuple[MachineSpec, ...]
    prefix: str = DEFAULT_PREFIX
    control_address: str = DEFAULT_CONTROL_ADDRESS


@dataclass(frozen=True, slots=True, kw_only=True)
class BoxFacts:
    """What the executor read from the box, the plan's only input from outside.

    :ivar enabled_units: links under ``/etc/systemd/system``, relative, e.g.
        ``multi-user.target.wants/apache2.service``
    :ivar host_keys: file names of the box's ``/etc/ssh/ssh_host_*`` files
    :ivar closed_dirs: directories on the way to the checkout and its venv's
        interpreter that others cannot traverse (``/root`` is 0700)
    :ivar dbus_machine_id: ``/var/lib/dbus/machine-id`` is a file of its own
        (not a link to /etc/machine-id), so it must differ per machine too
    """

    enabled_units: tuple[str, ...] = ()
    host_keys: tuple[str, ...] = ()
    closed_dirs: tuple[str, ...] = ()
    dbus_machine_id: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Resource:
    """One thing the lab made that teardown must remove."""

    kind: Literal["netns", "mount", "machine"]
    name: str  # namespace name, mount target, or machine name


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    argv: tuple[str, ...]
    creates: Resource | None = None  # recorded before it runs, so a crash leaves no orphan


# File operations inside a machine's mounted root, paths as the machine sees them.
@dataclass(frozen=True, slots=True, kw_only=True)
class Remove:
    """``rm`` inside the overlay: a whiteout in the upper layer, the box untouched."""

    path: PurePosixPath


@dataclass(frozen=True, slots=True, kw_only=True)
class Write:
    path: PurePosixPath
    text: str
    mode: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Copy:
    source: PurePosixPath  # a path on the box
    path: PurePosixPath
    mode: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MakeDir:
    path: PurePosixPath
    mode: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Chmod:
    path: PurePosixPath
    mode: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Symlink:
    path: PurePosixPath
    target: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InMachine:
    """A command whose path arguments are inside the machine; ``{root}`` marks where."""

    argv: tuple[str, ...]


FileOp = Remove | Write | Copy | MakeDir | Chmod | Symlink | InMachine


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
    mount: Command
    prepare: tuple[FileOp, ...]
    boot: tuple[str, ...]

    @property
    def resources(self) -> tuple[Resource, ...]:
        made = [c.creates for c in (*self.network, self.mount) if c.creates is not None]
        return (*made, Resource(kind="machine", name=self.name))


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
            out += [*machine.network, machine.mount,
                    Command(argv=machine.boot, creates=Resource(kind="machine", name=machine.name))]
        return tuple(out)

    def resources(self) -> tuple[Resource, ...]:
        return tuple(c.creates for c in self.commands() if c.creates is not None)

    def teardown(self) -> tuple[Command, ...]:
        return teardown(self.resources())


def teardown(resources: Iterable[Resource]) -> tuple[Command, ...]:
    """Commands that remove ``resources``, last made first.

    A machine is stopped by its recorded pids, not by a command, so it adds
    nothing here; the executor stops it at its place in this order, before
    its mount and namespace go.
    """
    out: list[Command] = []
    for resource in reversed(tuple(resources)):
        if resource.kind == "mount":
            out.append(Command(argv=("umount", resource.name)))
        elif resource.kind == "netns":
            out.append(Command(argv=("ip", "netns", "del", resource.name)))
    return tuple(out)


def _check_address(where: str, value: str) -> ipaddress.IPv4Address:
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        raise LabError(where, f"must be an IPv4 address (got {value!r})") from None
    if address not in LAB_NETWORK or address in (LAB_NETWORK.network_address,
                                                  LAB_NETWORK.broadcast_address):
        raise LabError(where, f"must be a host address in {LAB_NETWORK} (got {value!r})")
    return address


def make_spec(state_dir: PurePosixPath, machines: Mapping[str, str] | Sequence[tuple[str, str]]
              | None = None, *, prefix: str = DEFAULT_PREFIX,
              control_address: str = DEFAULT_CONTROL_ADDRESS) -> LabSpec:
    """Validate a lab request; machine names are lowercased (``A`` is machine ``a``)."""
    if not PREFIX_PATTERN.match(prefix):
        raise LabError("prefix", "must be 1-8 lowercase letters or digits, starting with a "
                                 f"letter, then '-' (got {prefix!r})")
    if not state_dir.is_absolute() or UNSAFE_PATH.search(str(state_dir)):
        raise LabError("state dir", "must be an absolute path without spaces, quotes or "
                                    f"any of , : = \\ (overlay options) (got {str(state_dir)!r})")
    pairs = list((machines.items() if isinstance(machines, Mapping) else machines)
                 if machines is not None else DEFAULT_MACHINES)
    control = _check_address("control address", control_address)
    specs = validate_machines(pairs, taken_names=(), taken_addresses=(str(control),))
    return LabSpec(state_dir=state_dir, machines=specs, prefix=prefix,
                   control_address=str(control))


def validate_machines(pairs: Sequence[tuple[str, str]], *, taken_names: Iterable[str],
                      taken_addresses: Iterable[str]) -> tuple[MachineSpec, ...]:
    """Machine specs for ``pairs``, refusing bad, reserved or repeated names and addresses."""
    names, addresses = set(taken_names), set(taken_addresses)
    specs = []
    for raw_name, raw_address in pairs:
        name = str(raw_name).lower()
        where = f"machine {raw_name!r}"
        if not MACHINE_NAME.match(name) or name in (NET_SUFFIX, CONTROL_SUFFIX):
            raise LabError(where, "name must be 1-13 letters, digits or '-', starting with "
                                  f"a letter, and not {NET_SUFFIX!r} or {CONTROL_SUFFIX!r} "
                                  f"(got {raw_name!r})")
        address = str(_check_address(f"{where} address", str(raw_address)))
        if name in names:
            raise LabError(where, f"name is already taken (got {raw_name!r})")
        if address in addresses:
            raise LabError(where, f"address is already taken (got {address!r})")
        names.add(name)
        addresses.add(address)
        specs.append(MachineSpec(name=name, address=address))
    if not specs and not names:
        raise LabError("machines", "need at least one machine (got none)")
    return tuple(specs)


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


def machine_id(spec: LabSpec, name: str) -> str:
    """A stable, unique /etc/machine-id for machine ``name`` of this lab."""
    seed = f"heat-wsgi-lab\0{spec.state_dir}\0{spec.prefix}\0{name}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


def _unit_ops(facts: BoxFacts) -> list[FileOp]:
    ops: list[FileOp] = []
    enabled = set(facts.enabled_units)
    for link in sorted(enabled):
        unit = PurePosixPath(link).name
        if unit not in KEEP_ENABLED or unit in MUST_NOT_START:
            ops.append(Remove(path=SYSTEMD_ETC / link))
    if f"multi-user.target.wants/{SSHD_UNIT}" not in enabled:
        ops.append(Symlink(path=SYSTEMD_ETC / "multi-user.target.wants" / SSHD_UNIT,
                           target=f"/lib/systemd/system/{SSHD_UNIT}"))
    return ops


def _ssh_ops(machine: MachineSpec, facts: BoxFacts, key: PurePosixPath) -> list[FileOp]:
    ops: list[FileOp] = [Remove(path=PurePosixPath("/etc/ssh") / name)
                         for name in sorted(facts.host_keys)]
    ops += [
        InMachine(argv=("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                        f"root@{machine.name}", "-f", "{root}" + str(HOST_KEY))),
        Write(path=SSHD_DROPIN, mode=0o644, text=(
            "# Written by the heat-wsgi lab: only this machine's own host key,\n"
            "# root by key only.\n"
            f"HostKey {HOST_KEY}\n"
            "PermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\n"
            "UseDNS no\n")),
        MakeDir(path=PurePosixPath("/root/.ssh"), mode=0o700),
        Copy(source=key.with_name(key.name + ".pub"),
             path=PurePosixPath("/root/.ssh/authorized_keys"), mode=0o600),
    ]
    return ops


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
    ident = machine_id(spec, machine.name)
    key = spec.state_dir / "ssh" / "id_ed25519"
    etc = PurePosixPath("/etc")
    prepare: list[FileOp] = [
        Write(path=etc / "machine-id", text=ident + "\n", mode=0o444),
        Write(path=etc / "hostname", text=machine.name + "\n", mode=0o644),
        # Own name to own lab address: RabbitMQ's node name rabbit@<host> must resolve.
        Write(path=etc / "hosts", mode=0o644, text=(
            "127.0.0.1\tlocalhost\n"
            f"{machine.address}\t{machine.name}\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n")),
    ]
    if facts.dbus_machine_id:
        prepare.append(Write(path=PurePosixPath("/var/lib/dbus/machine-id"),
                             text=ident + "\n", mode=0o444))
    prepare += _unit_ops(facts)
    prepare += _ssh_ops(machine, facts, key)
    # Services run as an unprivileged user from the checkout's venv, whose
    # interpreter may live under /root (0700 on the box): let others pass
    # through, in this machine's upper layer only.
    prepare += [Chmod(path=PurePosixPath(d), mode=0o711) for d in sorted(facts.closed_dirs)]
    boot = (
        "systemd-nspawn", "-D", str(root), f"--machine={netns}", "-b",
        f"--network-namespace-path=/run/netns/{netns}",
        # No systemd on the box to register with (see the lab note).
        "--register=no", "--keep-unit", "--link-journal=no",
        # The machine sees the box through the overlay, but not the lab's own
        # private key and the other machines' layers (an empty tmpfs covers
        # them; --inaccessible needs systemd on the box), nor the box's /tmp.
        f"--tmpfs={spec.state_dir}:mode=0700", "--tmpfs=/tmp:mode=1777",
    )
    return MachinePlan(
        name=machine.name, address=machine.address, machine=netns, netns=netns, port=port,
        directory=directory, upper=upper, work=work, root=root,
        log=spec.state_dir / "logs" / f"{machine.name}.log", machine_id=ident,
        network=_endpoint(net_ns, netns, port, machine.address),
        mount=Command(argv=("mount", "-t", "overlay", netns, "-o",
                            f"lowerdir=/,upperdir={upper},workdir={work}", str(root)),
                      creates=Resource(kind="mount", name=str(root))),
        prepare=tuple(prepare), boot=boot)


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


def traversal_dirs(paths: Iterable[PurePosixPath]) -> tuple[PurePosixPath, ...]:
    """Every directory a process must pass through to reach ``paths``, sorted."""
    out: set[PurePosixPath] = set()
    for path in paths:
        out.update(p for p in path.parents if p != PurePosixPath("/"))
    return tuple(sorted(out))
