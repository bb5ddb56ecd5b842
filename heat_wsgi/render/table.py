"""The renderer table: which files each format gives each host, instance and deployment.

A per-host renderer is ``(view: HostView) -> Iterable[RenderedFile]`` and is
called for every host; an instance renderer is ``(view, instance, layout) ->
RenderedFile | None`` and is called for every API instance of the host; a
deployment-wide renderer runs after all of them and is ``(topology, derived,
files) -> Iterable[RenderedFile]``, ``files`` being every per-host file by
key. A new output format is one function in its own module plus one entry
in :data:`HOST_RENDERERS`, :data:`INSTANCE_RENDERERS` or
:data:`DEPLOYMENT_RENDERERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import PurePosixPath

from heat_wsgi.derive import Derived, Index
from heat_wsgi.derive.layout import InstanceLayout, engine_unit_path, heat_conf_path
from heat_wsgi.files import RenderedFile
from heat_wsgi.model import ApiInstance, EngineGroup, Host, Topology
from heat_wsgi.render.apache import render_apache_site, render_wsgi_script
from heat_wsgi.render.haproxy import render_haproxy
from heat_wsgi.render.heatconf import HostHeatConf
from heat_wsgi.render.systemd import render_engine_unit, render_uwsgi_unit
from heat_wsgi.render.uwsgi import render_uwsgi_ini

__all__ = ["HostView", "HostRenderer", "InstanceRenderer", "DeploymentRenderer",
           "HOST_RENDERERS", "INSTANCE_RENDERERS", "DEPLOYMENT_RENDERERS"]


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


HostRenderer = Callable[[HostView], Iterable[RenderedFile]]
InstanceRenderer = Callable[[HostView, ApiInstance, InstanceLayout], "RenderedFile | None"]
DeploymentRenderer = Callable[[Topology, Derived, Mapping[PurePosixPath, RenderedFile]],
                              Iterable[RenderedFile]]


# -- per host -------------------------------------------------------------------

def haproxy_files(view: HostView) -> Iterator[RenderedFile]:
    """haproxy.cfg, on the proxy's host."""
    proxy = view.topology.proxy
    if proxy is not None and proxy.host == view.host.name:
        yield RenderedFile(host=view.host.name, path=view.host.paths.haproxy_config,
                           text=render_haproxy(view.topology, view.index), mode=0o644,
                           kind="haproxy", purpose="HAProxy listeners for the Heat APIs")


def heat_conf_files(view: HostView) -> Iterator[RenderedFile]:
    """The host's own heat.conf, read by its engines and heat-manage."""
    if view.runs_heat:
        yield RenderedFile(host=view.host.name, path=heat_conf_path(view.host),
                           text=view.heat_conf.host_text(), mode=0o640, kind="heat.conf",
                           purpose="heat.conf of the host and its heat-engines "
                                   "(holds credentials)")


def instance_files(view: HostView) -> Iterator[RenderedFile]:
    """Every file of every API instance of the host, through :data:`INSTANCE_RENDERERS`."""
    for instance in view.instances:
        layout = view.derived.layout(instance)
        for renderer in INSTANCE_RENDERERS:
            item = renderer(view, instance, layout)
            if item is not None:
                yield item


def engine_units(view: HostView) -> Iterator[RenderedFile]:
    """One systemd unit per heat-engine process of the host."""
    for group in view.engines:
        for number in range(1, group.processes + 1):
            yield RenderedFile(
                host=view.host.name, path=engine_unit_path(view.host, number),
                text=render_engine_unit(view.topology, group, view.host, number), mode=0o644,
                kind="systemd", purpose=f"heat-engine {number} of {group.processes}")


# -- per API instance -----------------------------------------------------------

def _purpose(instance: ApiInstance, what: str) -> str:
    return f"{instance.info.program} {instance.name}: {what}"


def instance_heat_conf(view: HostView, instance: ApiInstance,
                       layout: InstanceLayout) -> RenderedFile:
    return RenderedFile(host=view.host.name, path=layout.heat_conf,
                        text=view.heat_conf.instance_text(instance), mode=0o640,
                        kind="heat.conf",
                        purpose=_purpose(instance, "its own heat.conf (holds credentials)"))


def uwsgi_ini(view: HostView, instance: ApiInstance, layout: InstanceLayout) -> RenderedFile | None:
    if not instance.uses_uwsgi:
        return None
    return RenderedFile(host=view.host.name, path=layout.uwsgi_ini,
                        text=render_uwsgi_ini(view.topology, instance, view.host, layout),
                        mode=0o644, kind="uwsgi", purpose=_purpose(instance, "uwsgi ini"))


def uwsgi_unit(view: HostView, instance: ApiInstance, layout: InstanceLayout) -> RenderedFile | None:
    if not instance.uses_uwsgi:
        return None
    return RenderedFile(host=view.host.name, path=layout.unit_file,
                        text=render_uwsgi_unit(view.topology, instance, view.host, layout),
                        mode=0o644, kind="systemd",
                        purpose=_purpose(instance, "systemd unit for uwsgi"))


def apache_site(view: HostView, instance: ApiInstance, layout: InstanceLayout) -> RenderedFile | None:
    if not instance.uses_apache:
        return None
    return RenderedFile(host=view.host.name, path=layout.apache_site,
                        text=render_apache_site(view.topology, instance, view.host, layout),
                        mode=0o644, kind="apache",
                        purpose=_purpose(instance, f"Apache site ({instance.mode})"))


def wsgi_script(view: HostView, instance: ApiInstance, layout: InstanceLayout) -> RenderedFile | None:
    if instance.mode != "mod_wsgi":
        return None
    return RenderedFile(host=view.host.name, path=layout.wsgi_script,
                        text=render_wsgi_script(view.topology, instance, view.host, layout),
                        mode=0o644, kind="wsgi script", purpose=_purpose(instance, "mod_wsgi script"))


# -- the tables -----------------------------------------------------------------

#: Run for every host, in this order.
HOST_RENDERERS: tuple[HostRenderer, ...] = (
    haproxy_files,
    heat_conf_files,
    instance_files,
    engine_units,
)

#: Run for every API instance, by :func:`instance_files`.
INSTANCE_RENDERERS: tuple[InstanceRenderer, ...] = (
    instance_heat_conf,
    uwsgi_ini,
    uwsgi_unit,
    apache_site,
    wsgi_script,
)

#: Run once, after every per-host file exists; their files have ``host=None``.
DEPLOYMENT_RENDERERS: tuple[DeploymentRenderer, ...] = ()
