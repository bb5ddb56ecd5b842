"""What a lab is asked for, validated: machine names, addresses, prefix, state dir.

Every name the lab gives a kernel object starts with the prefix (``hwlab-``),
every address lies in 198.18.0.0/24, and every value later written into a
machine comes from a name or address validated here (lowercase letters,
digits, dashes; IPv4 addresses), so none needs quoting in the files it reaches.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from heat_wsgi.errors import LabError

DEFAULT_PREFIX = "hwlab-"
# The range set aside for network test labs (RFC 2544); see the lab rules.
LAB_NETWORK = ipaddress.IPv4Network("198.18.0.0/24")
DEFAULT_MACHINES: tuple[tuple[str, str], ...] = (
    ("a", "198.18.0.1"), ("b", "198.18.0.2"), ("c", "198.18.0.3"))
DEFAULT_CONTROL_ADDRESS = "198.18.0.101"
# Namespace suffixes of the lab's own two namespaces; no machine may take them.
NET_SUFFIX = "net"
CONTROL_SUFFIX = "ctl"
MACHINE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,12}$")
PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,7}-$")
# Overlay mount options are comma-separated and use ":" between lower dirs.
UNSAFE_PATH = re.compile(r"[,:=\\\s\"']")


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
    #: ``(path in the machine, target)`` symlinks every machine gets in its
    #: upper layer, e.g. ``("/opt/heat", "/work/co/.venv")``: a topology's
    #: paths run unchanged while the files behind them are the box's.
    links: tuple[tuple[PurePosixPath, PurePosixPath], ...] = ()


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
    :ivar needed: real paths the machines must see (checkout, venv, interpreter)
    :ivar cgroup_roots: where the box mounts the cgroup hierarchies systemd
        uses (cgroup2, and v1 ``name=systemd`` on a hybrid box)
    """

    enabled_units: tuple[str, ...] = ()
    host_keys: tuple[str, ...] = ()
    closed_dirs: tuple[str, ...] = ()
    dbus_machine_id: bool = False
    needed: tuple[str, ...] = ()
    cgroup_roots: tuple[str, ...] = ()


def _check_address(where: str, value: str) -> ipaddress.IPv4Address:
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        raise LabError(where, f"must be an IPv4 address (got {value!r})") from None
    if address not in LAB_NETWORK or address in (LAB_NETWORK.network_address,
                                                  LAB_NETWORK.broadcast_address):
        raise LabError(where, f"must be a host address in {LAB_NETWORK} (got {value!r})")
    return address


def _check_links(links: Mapping[str, str]) -> tuple[tuple[PurePosixPath, PurePosixPath], ...]:
    out: list[tuple[PurePosixPath, PurePosixPath]] = []
    for raw_path, raw_target in sorted(links.items()):
        path, target = PurePosixPath(raw_path), PurePosixPath(raw_target)
        for what, value in (("path", path), ("target", target)):
            if not value.is_absolute() or ".." in value.parts or len(value.parts) < 2 \
                    or UNSAFE_PATH.search(str(value)):
                raise LabError(f"link {raw_path!r}", f"{what} must be an absolute path below / "
                                                     "without '..', spaces or quotes "
                                                     f"(got {str(value)!r})")
        if any(p in path.parents for p, _ in out) or any(path in p.parents for p, _ in out):
            raise LabError(f"link {raw_path!r}", f"overlaps another link (got {raw_path!r})")
        out.append((path, target))
    return tuple(out)


def make_spec(state_dir: PurePosixPath, machines: Mapping[str, str] | Sequence[tuple[str, str]]
              | None = None, *, prefix: str = DEFAULT_PREFIX,
              control_address: str = DEFAULT_CONTROL_ADDRESS,
              links: Mapping[str, str] | None = None) -> LabSpec:
    """Validate a lab request; machine names are lowercased (``A`` is machine ``a``).

    ``links`` maps a path in every machine to a path on the box it points at
    (see :attr:`LabSpec.links`)."""
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
                   control_address=str(control), links=_check_links(links or {}))


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
