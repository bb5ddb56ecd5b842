"""One topology's derived facts, each worked out once and shared by validation and rendering."""

from __future__ import annotations

from collections.abc import Iterator

from heat_wsgi.derive.heatconf import apply_edits, base_settings, host_edits
from heat_wsgi.derive.index import Index, build_index
from heat_wsgi.derive.ini import Key
from heat_wsgi.derive.layout import InstanceLayout, instance_layout
from heat_wsgi.model import ApiInstance, Host, Topology

__all__ = ["Derived"]


class Derived:
    """What a topology implies, computed on first use and kept.

    :ivar topology: the topology it was derived from
    :ivar index: hosts by name and what runs on each (:class:`~heat_wsgi.derive.index.Index`)

    Validation rules and renderers take one of these instead of recomputing
    lookups per rule or per file, so both stay linear in the topology's size.
    It never raises for a topology that passed its constructors' checks.
    """

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.index: Index = build_index(topology)
        self._base: dict[Key, str] | None = None
        self._edits: dict[str, dict[Key, str | None]] = {}
        self._settings: dict[str, dict[Key, str]] = {}

    @property
    def base(self) -> dict[Key, str]:
        """The base heat.conf's values with the topology-wide options applied."""
        if self._base is None:
            self._base = base_settings(self.topology)
        return self._base

    def host_edits(self, host: Host) -> dict[Key, str | None]:
        """The options heat_wsgi sets in ``host``'s heat.conf (``None``: removed)."""
        found = self._edits.get(host.name)
        if found is None:
            found = self._edits[host.name] = host_edits(self.topology, host, self.index, self.base)
        return found

    def settings(self, host: Host) -> dict[Key, str]:
        """What oslo.config reads from ``host``'s rendered heat.conf."""
        found = self._settings.get(host.name)
        if found is None:
            found = self._settings[host.name] = apply_edits(self.base, self.host_edits(host))
        return found

    def heat_hosts(self) -> Iterator[Host]:
        """The hosts that run API instances or engines, in topology order."""
        for name in self.index.heat_hosts:
            yield self.index.hosts[name]

    def layout(self, instance: ApiInstance) -> InstanceLayout:
        """Where ``instance``'s files and sockets are; its host must exist."""
        return instance_layout(self.topology, instance, self.index.hosts[instance.host])
