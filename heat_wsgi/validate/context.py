"""What every validation rule works with: the :class:`RuleContext`, and the :class:`Problem` it reports."""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from heat_wsgi.derive import Derived, Index
from heat_wsgi.derive.addresses import is_wildcard
from heat_wsgi.derive.heatconf import AMQP_URL_KEYS, DB_URL_KEYS
from heat_wsgi.derive.ini import Key
from heat_wsgi.errors import located
from heat_wsgi.model import Host, Topology, source_at

__all__ = ["Severity", "Problem", "RuleContext", "item_path", "check_port", "valid_address",
           "duration_seconds"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong with a topology."""

    severity: Severity
    path: str               #: the field, e.g. ``api_instances[api-1].port``
    message: str            #: what is wrong, in the form "must ..."
    value: object = None    #: what was found
    source: str | None = None  #: ``file:line`` when loaded from YAML

    def __str__(self) -> str:
        return f"{self.severity}: {located(self.path, self.message, self.value, self.source)}"


class RuleContext:
    """What a rule reads and where it reports.

    A rule is ``rule_x(ctx: RuleContext) -> None``. It reads the topology
    (:attr:`topology`) and what is derived from it once for every rule
    (:attr:`derived`: the index, each host's heat.conf settings, layouts),
    and reports through :meth:`error` and :meth:`warning` with the field's
    path; the context adds the ``file:line`` the loader recorded. A rule
    never raises on purpose: :func:`heat_wsgi.validate.validate` turns an
    exception into an ``<internal>`` error and runs the other rules.

    :ivar topology: the topology under validation
    :ivar derived: its :class:`~heat_wsgi.derive.Derived` facts
    :ivar problems: what the rules reported so far, in order
    """

    def __init__(self, topology: Topology, derived: Derived | None = None) -> None:
        self.topology = topology
        self.derived = derived if derived is not None else Derived(topology)
        self.problems: list[Problem] = []
        self.sources = topology.source_map()

    @property
    def index(self) -> Index:
        """Hosts by name and what runs on each."""
        return self.derived.index

    # -- reporting ----------------------------------------------------------
    def source(self, path: str) -> str | None:
        """``file:line`` of the field ``path`` (or of the nearest one around it)."""
        return source_at(self.sources, path)

    def add(self, severity: Severity, path: str, message: str, value: object = None) -> None:
        self.problems.append(Problem(severity=severity, path=path, message=message,
                                     value=value, source=self.source(path)))

    def error(self, path: str, message: str, value: object = None) -> None:
        """Report a setting that cannot work."""
        self.add("error", path, message, value)

    def warning(self, path: str, message: str, value: object = None) -> None:
        """Report a setting that is legal but risky."""
        self.add("warning", path, message, value)

    def base_line(self, lineno: int) -> str | None:
        """``file:line`` of line ``lineno`` (1-based) of the base heat.conf."""
        start = self.sources.get("base_config")
        if start and ":" in start:
            file, _, line = start.rpartition(":")
            if line.isdigit():
                return f"{file}:{int(line) + lineno - 1}"
        return None

    # -- heat.conf views ----------------------------------------------------
    @property
    def base(self) -> dict[Key, str]:
        """The base heat.conf's values with the topology-wide options applied."""
        return self.derived.base

    def settings(self, host: Host) -> dict[Key, str]:
        """What oslo.config reads from ``host``'s rendered heat.conf."""
        return self.derived.settings(host)

    def heat_hosts(self) -> Iterator[Host]:
        """The hosts that run API instances or engines."""
        return self.derived.heat_hosts()

    def origin(self, host: Host, key: Key) -> str:
        """The field a heat.conf value on ``host`` comes from."""
        section, name = key
        if any(o.section == section and o.key == name for o in host.heat_conf):
            return f"hosts[{host.name}].heat_conf.{section}.{name}"
        bus = self.topology.message_bus
        if bus is not None and any(o.section == section and o.key == name for o in bus.options):
            return f"message_bus.options.{section}.{name}"
        if any(o.section == section and o.key == name for o in self.topology.heat_conf):
            return f"heat_conf.{section}.{name}"
        if key in DB_URL_KEYS and self.topology.database is not None:
            return "database.url"
        if key == AMQP_URL_KEYS[0] and bus is not None:
            return "message_bus.transport_url"
        return f"base_config.{section}.{name}"


def item_path(collection: str, key: object, index: int) -> str:
    """How item ``index`` of ``collection`` is named: by its key, else by position."""
    return f"{collection}[{key}]" if isinstance(key, str) else f"{collection}[#{index}]"


def check_port(ctx: RuleContext, path: str, port: int | None) -> None:
    """Report ``port`` unless it is None or in 1..65535."""
    if port is not None and not 1 <= port <= 65535:
        ctx.error(path, "must be a port in 1..65535", port)


_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*")
_DURATION = re.compile(r"([0-9]{1,12})(us|ms|s|m|h|d)?")
_UNITS = {"us": 1e-6, "ms": 1e-3, None: 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
#: HAProxy keeps timers in milliseconds in a signed 32-bit int: about 24.8 days.
MAX_DURATION_SECONDS = (2 ** 31 - 1) / 1000


@functools.lru_cache(maxsize=4096)
def valid_address(address: str, wildcard_ok: bool) -> bool:
    """Whether ``address`` is an IP address or host name (or, if allowed, a wildcard).

    Refused: IPv6 scope IDs (``fe80::1%eth0``: HAProxy, Apache and uwsgi
    disagree on them), half or misplaced brackets, bracketed IPv4, and names
    whose last label is all digits (``10.0.0.256`` is a malformed address,
    not a host name; RFC 1123 keeps top-level labels non-numeric).
    """
    if is_wildcard(address):
        return wildcard_ok and address != ""
    inner = address
    if address.startswith("[") or address.endswith("]"):
        if not (address.startswith("[") and address.endswith("]")):
            return False
        inner = address[1:-1]
        if ":" not in inner:
            return False
    if "%" in inner or "[" in inner or "]" in inner:
        return False
    try:
        ipaddress.ip_address(inner)
        return True
    except ValueError:
        if inner is not address:
            return False
    if len(address) > 253 or not _HOSTNAME.fullmatch(address):
        return False
    return not address.rsplit(".", 1)[-1].isdigit()


def duration_seconds(text: str) -> float | None:
    """An HAProxy duration (``10s``, ``1m``, ``500`` = ms) in seconds, or None.

    None as well for what HAProxy refuses or misreads: a digit outside ASCII,
    zero, and more than its 32-bit millisecond timers hold.
    """
    match = _DURATION.fullmatch(text)
    if not match:
        return None
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0 or seconds > MAX_DURATION_SECONDS:
        return None
    return seconds
