"""What the lab writes into each machine's upper layer before it boots, computed without I/O.

Paths are as the machine sees them; the executor applies each operation
inside the mounted overlay (see ``files``), so the box's own files never change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from heat_wsgi.lab.spec import BoxFacts, LabSpec, MachineSpec

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
ROOT_USER_MANAGER = "user@0.service"
SSHD_DROPIN = PurePosixPath("/etc/ssh/sshd_config.d/heat-wsgi-lab.conf")
HOST_KEY = PurePosixPath("/etc/ssh/ssh_host_ed25519_key")
JOURNAL_DIR = PurePosixPath("/var/log/journal")


# File operations inside a machine's mounted root, paths as the machine sees them.
@dataclass(frozen=True, slots=True, kw_only=True)
class _PathOp:
    path: PurePosixPath


@dataclass(frozen=True, slots=True, kw_only=True)
class _ModeOp(_PathOp):
    mode: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Remove(_PathOp):
    """``rm`` inside the overlay: a whiteout in the upper layer, the box untouched."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Write(_ModeOp):
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Copy(_ModeOp):
    source: PurePosixPath  # a path on the box


@dataclass(frozen=True, slots=True, kw_only=True)
class MakeDir(_ModeOp):
    """A directory with ``mode``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Chmod(_ModeOp):
    """``mode`` set on an existing path."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Symlink(_PathOp):
    target: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InMachine:
    """A command whose path arguments are inside the machine; ``{root}`` marks where."""

    argv: tuple[str, ...]


FileOp = Remove | Write | Copy | MakeDir | Chmod | Symlink | InMachine


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
    # Every SSH login as root would start root's own service manager; the lab
    # has no use for it, and its stop now and then hung a machine's halt until
    # the kill. Logins go on without it (logind logs that and carries on).
    ops.append(Symlink(path=SYSTEMD_ETC / ROOT_USER_MANAGER, target="/dev/null"))
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


def prepare_ops(spec: LabSpec, machine: MachineSpec, facts: BoxFacts) -> tuple[FileOp, ...]:
    """Every file operation for one machine, in order."""
    ident = machine_id(spec, machine.name)
    key = spec.state_dir / "ssh" / "id_ed25519"
    etc = PurePosixPath("/etc")
    ops: list[FileOp] = [
        Write(path=etc / "machine-id", text=ident + "\n", mode=0o444),
        Write(path=etc / "hostname", text=machine.name + "\n", mode=0o644),
        # Own name to own lab address: RabbitMQ's node name rabbit@<host> must resolve.
        Write(path=etc / "hosts", mode=0o644, text=(
            "127.0.0.1\tlocalhost\n"
            f"{machine.address}\t{machine.name}\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n")),
    ]
    if facts.dbus_machine_id:
        ops.append(Write(path=PurePosixPath("/var/lib/dbus/machine-id"),
                         text=ident + "\n", mode=0o444))
    # A persistent journal, in the upper layer: after teardown the box can
    # still read it (journalctl -D .../upper/var/log/journal).
    ops.append(MakeDir(path=JOURNAL_DIR, mode=0o2755))
    ops += _unit_ops(facts)
    ops += _ssh_ops(machine, facts, key)
    # Services run as an unprivileged user from the checkout's venv, whose
    # interpreter may live under /root (0700 on the box): let others pass
    # through, in this machine's upper layer only.
    ops += [Chmod(path=PurePosixPath(d), mode=0o711) for d in sorted(facts.closed_dirs)]
    # Paths a deployment names that the box lacks (a topology's /opt/heat),
    # pointing at the box's own files: the rendered files need no rewriting.
    ops += [Symlink(path=path, target=str(target)) for path, target in spec.links]
    return tuple(ops)


def traversal_dirs(paths: Iterable[PurePosixPath]) -> tuple[PurePosixPath, ...]:
    """Every directory a process must pass through to reach ``paths``, sorted."""
    out: set[PurePosixPath] = set()
    for path in paths:
        out.update(p for p in path.parents if p != PurePosixPath("/"))
    return tuple(sorted(out))
