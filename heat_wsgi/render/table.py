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
from dataclasses import dataclass
from pathlib import PurePosixPath

from heat_wsgi.derive import Derived, Index
from heat_wsgi.derive.layout import InstanceLayout, engine_unit_path, heat_conf_path
from heat_wsgi.files import FileKind, RenderedFile
from heat_wsgi.model import ApiInstance, EngineGroup, Host, Topology
from heat_wsgi.render.ansible import render_ansible
from heat_wsgi.render.apache import render_apache_site, render_wsgi_script
from heat_wsgi.render.haproxy import render_haproxy
from heat_wsgi.render.machine import machine_files
from heat_wsgi.render.view import HostView
from heat_wsgi.render.systemd import render_engine_unit, render_uwsgi_unit
from heat_wsgi.render.uwsgi import render_uwsgi_ini

__all__ = ["HostView", "HostRenderer", "InstanceRenderer", "InstanceFile", "DeploymentRenderer",
           "HOST_RENDERERS", "INSTANCE_RENDERERS", "DEPLOYMENT_RENDERERS"]


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

@dataclass(frozen=True, slots=True)
class InstanceFile:
    """One file an API instance gets: when, where, in which format, and its text."""

    kind: FileKind
    applies: Callable[[ApiInstance], bool]      #: whether this instance gets it
    path: Callable[[InstanceLayout], str]       #: where on its host
    text: Callable[[HostView, ApiInstance, InstanceLayout], str]
    mode: int
    purpose: str                                #: for the manifest; ``{mode}`` is the instance's

    def __call__(self, view: HostView, instance: ApiInstance,
                 layout: InstanceLayout) -> RenderedFile | None:
        if not self.applies(instance):
            return None
        return RenderedFile(
            host=view.host.name, path=self.path(layout), text=self.text(view, instance, layout),
            mode=self.mode, kind=self.kind,
            purpose=f"{instance.info.program} {instance.name}: "
                    + self.purpose.format(mode=instance.mode))


def _always(instance: ApiInstance) -> bool:
    return True


def _uses_uwsgi(instance: ApiInstance) -> bool:
    return instance.uses_uwsgi


def _uses_apache(instance: ApiInstance) -> bool:
    return instance.uses_apache


def _mod_wsgi(instance: ApiInstance) -> bool:
    return instance.mode == "mod_wsgi"


# -- the tables -----------------------------------------------------------------

#: Run for every host, in this order.
HOST_RENDERERS: tuple[HostRenderer, ...] = (
    haproxy_files,
    heat_conf_files,
    instance_files,
    engine_units,
    machine_files,
)

#: Run for every API instance, by :func:`instance_files`.
INSTANCE_RENDERERS: tuple[InstanceRenderer, ...] = (
    InstanceFile("heat.conf", _always, lambda layout: layout.heat_conf,
                 lambda view, inst, layout: view.heat_conf.instance_text(inst),
                 0o640, "its own heat.conf (holds credentials)"),
    InstanceFile("uwsgi", _uses_uwsgi, lambda layout: layout.uwsgi_ini,
                 lambda view, inst, layout: render_uwsgi_ini(view.topology, inst, view.host, layout),
                 0o644, "uwsgi ini"),
    InstanceFile("systemd", _uses_uwsgi, lambda layout: layout.unit_file,
                 lambda view, inst, layout: render_uwsgi_unit(view.topology, inst, view.host, layout),
                 0o644, "systemd unit for uwsgi"),
    InstanceFile("apache", _uses_apache, lambda layout: layout.apache_site,
                 lambda view, inst, layout: render_apache_site(view.topology, inst, view.host,
                                                               layout),
                 0o644, "Apache site ({mode})"),
    InstanceFile("wsgi script", _mod_wsgi, lambda layout: layout.wsgi_script,
                 lambda view, inst, layout: render_wsgi_script(view.topology, inst, view.host,
                                                               layout),
                 0o644, "mod_wsgi script"),
)

#: Run once, after every per-host file exists; their files have ``host=None``.
DEPLOYMENT_RENDERERS: tuple[DeploymentRenderer, ...] = (
    render_ansible,
)
