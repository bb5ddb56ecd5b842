"""One host as its renderers see it: the topology, what is derived, what runs there."""

from __future__ import annotations

from heat_wsgi.derive import Derived, Index
from heat_wsgi.model import ApiInstance, EngineGroup, Host, Topology
from heat_wsgi.render.heatconf import HostHeatConf

__all__ = ["HostView"]


class HostView:
    """One host as its renderers see it: the topology, what is derived, what runs there.

    :ivar topology: the whole topology
    :ivar derived: its :class:`~heat_wsgi.derive.Derived` facts
    :ivar host: the host whose files are rendered
    """

    def __init__(self, topology: Topology, derived: Derived, host: Host) -> None:
        self.topology = topology
        self.derived = derived
        self.host = host
        self._heat_conf: HostHeatConf | None = None

    @property
    def index(self) -> Index:
        return self.derived.index

    @property
    def instances(self) -> list[ApiInstance]:
        """The API instances on this host, in topology order."""
        return self.derived.index.instances_by_host.get(self.host.name, [])

    @property
    def engines(self) -> list[EngineGroup]:
        """The engine groups on this host (validation allows one)."""
        return self.derived.index.engines_by_host.get(self.host.name, [])

    @property
    def runs_heat(self) -> bool:
        """Whether the host runs API instances or engines, and so gets a heat.conf."""
        return bool(self.instances or self.engines)

    @property
    def heat_conf(self) -> HostHeatConf:
        """The host's heat.conf, laid out once for it and all its instances."""
        if self._heat_conf is None:
            self._heat_conf = HostHeatConf.build(self.topology, self.host, self.index,
                                                 self.derived.base,
                                                 self.derived.host_edits(self.host))
        return self._heat_conf
