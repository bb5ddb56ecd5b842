"""Render a topology into every file of the deployment, without touching disk.

:func:`render_all` returns a mapping from a relative key to a
:class:`RenderedFile`; :func:`render_manifest` lists them. Writing them is
:func:`heat_wsgi.writer.write_tree`'s job. Two kinds of file share the
mapping:

* per-host files: ``host`` is a host name, ``path`` the absolute path on that
  host, and the key ``<host>/<path without its leading slash>``;
* deployment-wide files (an inventory, a playbook): ``host`` is ``None``,
  ``path`` is relative and starts with one of :data:`DEPLOYMENT_DIRS`, and
  the key is ``path`` itself. Validation keeps host names out of those
  directories, so the two kinds never collide.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from pathlib import PurePosixPath
from typing import Literal

from heat_wsgi.errors import RenderError, TopologyError
from heat_wsgi.model import ApiInstance, Host, Topology
from heat_wsgi.quoting import UnsafeValue
from heat_wsgi.render.apache import render_apache_site, render_wsgi_script
from heat_wsgi.render.common import GENERATOR, Index, build_index, engine_unit_name, heat_conf_path, instance_layout
from heat_wsgi.render.haproxy import render_haproxy
from heat_wsgi.render.heatconf import HostHeatConf, base_settings
from heat_wsgi.render.systemd import render_engine_unit, render_uwsgi_unit
from heat_wsgi.render.uwsgi import render_uwsgi_ini

__all__ = ["FileKind", "RenderedFile", "render_all", "render_manifest", "host_file_key",
           "DEPLOYMENT_DIRS"]

FileKind = Literal["haproxy", "heat.conf", "uwsgi", "apache", "wsgi script", "systemd",
                   "mariadb", "rabbitmq", "sql", "tmpfiles", "ansible"]

DEPLOYMENT_DIRS: tuple[str, ...] = ("ansible",)
"""Top-level directories of deployment-wide files; no host may be named so."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderedFile:
    """One rendered file: where it goes, what it holds and its permissions."""

    host: str | None     #: host name the file belongs to; None: deployment-wide
    path: str            #: absolute path on that host, or relative when deployment-wide
    text: str            #: the content, ending in exactly one newline
    mode: int            #: permission bits, e.g. ``0o640``
    kind: FileKind       #: which format it is
    purpose: str         #: one line for the manifest

    @property
    def key(self) -> PurePosixPath:
        return host_file_key(self.host, self.path)


def host_file_key(host: str | None, path: str) -> PurePosixPath:
    """``<host>/<path without its leading slash>``, or ``path`` when deployment-wide."""
    if host is None:
        return PurePosixPath(path)
    return PurePosixPath(f"{host}/{path.lstrip('/')}")


class _Files:
    """The files rendered so far: one per path, handed back sorted by host and path."""

    def __init__(self) -> None:
        self._keys: dict[PurePosixPath, RenderedFile] = {}
        self._by_host: dict[str | None, list[tuple[str, PurePosixPath, RenderedFile]]] = {}

    def add(self, item: RenderedFile) -> None:
        key = host_file_key(item.host, item.path)
        if self._keys.setdefault(key, item) is not item:
            raise RenderError(str(key), "two files would be written to the same path")
        self._by_host.setdefault(item.host, []).append((item.path, key, item))

    def sorted(self) -> dict[PurePosixPath, RenderedFile]:
        # Hosts are sorted, then each host's (few dozen) paths: the order of
        # sorting every file by (host, path), without building 10**5 tuples.
        result: dict[PurePosixPath, RenderedFile] = {}
        # Deployment-wide files (host None) come last.
        for host in sorted(self._by_host, key=lambda h: (h is None, h or "")):
            for _, key, item in sorted(self._by_host[host], key=itemgetter(0)):
                result[key] = item
        return result


def render_all(topology: Topology, *, validated: bool = False) -> dict[PurePosixPath, RenderedFile]:
    """Every file of the deployment, per host, sorted by path.

    Unless ``validated`` says the caller already looked at
    :func:`heat_wsgi.validate.validate`, the topology is validated first and
    the first error is raised as :class:`~heat_wsgi.errors.TopologyError`.
    """
    if not validated:
        from heat_wsgi.validate import validate
        errors = [p for p in validate(topology) if p.severity == "error"]
        if errors:
            first = errors[0]
            more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
            raise TopologyError(first.path, first.message + more, first.value, first.source)
    try:
        return _render_all(topology)
    except UnsafeValue as exc:
        raise RenderError(topology.name, str(exc)) from exc


def _render_all(topology: Topology) -> dict[PurePosixPath, RenderedFile]:
    index = build_index(topology)
    base = base_settings(topology)
    files = _Files()
    if topology.proxy is not None:
        proxy_host = index.hosts[topology.proxy.host]
        files.add(RenderedFile(
            host=proxy_host.name, path=proxy_host.paths.haproxy_config,
            text=render_haproxy(topology, index), mode=0o644, kind="haproxy",
            purpose="HAProxy listeners for the Heat APIs"))
    for host_name in index.heat_hosts:
        host = index.hosts[host_name]
        heat_conf = HostHeatConf.build(topology, host, index, base)
        files.add(RenderedFile(
            host=host.name, path=heat_conf_path(host),
            text=heat_conf.host_text(), mode=0o640,
            kind="heat.conf", purpose="heat.conf of the host and its heat-engines "
                                      "(holds credentials)"))
        for instance in index.instances_by_host.get(host_name, []):
            _render_instance(topology, instance, host, index, files, heat_conf)
        for group in index.engines_by_host.get(host_name, []):
            for number in range(1, group.processes + 1):
                files.add(RenderedFile(
                    host=host.name,
                    path=f"{host.paths.systemd_dir.rstrip('/')}/{engine_unit_name(number)}",
                    text=render_engine_unit(topology, group, host, number), mode=0o644,
                    kind="systemd", purpose=f"heat-engine {number} of {group.processes}"))
    # Imported here: these modules build RenderedFile, defined above.
    from heat_wsgi.render.ansible import render_ansible
    from heat_wsgi.render.machine import machine_files
    for item in machine_files(topology, index):
        files.add(item)
    result = files.sorted()
    # Deployment-wide renderers see every per-host file (they sort last).
    for item in render_ansible(topology, index, result):
        result[item.key] = item
    return result


def _render_instance(topology: Topology, instance: ApiInstance, host: Host, index: Index,
                     files: _Files, heat_conf: HostHeatConf) -> None:
    layout = instance_layout(topology, instance, host, index)
    program = instance.info.program
    files.add(RenderedFile(
        host=host.name, path=layout.heat_conf,
        text=heat_conf.instance_text(instance),
        mode=0o640, kind="heat.conf",
        purpose=f"{program} {instance.name}: its own heat.conf (holds credentials)"))
    if instance.uses_uwsgi:
        files.add(RenderedFile(
            host=host.name, path=layout.uwsgi_ini,
            text=render_uwsgi_ini(topology, instance, host, layout), mode=0o644,
            kind="uwsgi", purpose=f"{program} {instance.name}: uwsgi ini"))
        files.add(RenderedFile(
            host=host.name, path=layout.unit_file,
            text=render_uwsgi_unit(topology, instance, host, layout), mode=0o644,
            kind="systemd", purpose=f"{program} {instance.name}: systemd unit for uwsgi"))
    if instance.uses_apache:
        files.add(RenderedFile(
            host=host.name, path=layout.apache_site,
            text=render_apache_site(topology, instance, host, layout), mode=0o644,
            kind="apache", purpose=f"{program} {instance.name}: Apache site ({instance.mode})"))
    if instance.mode == "mod_wsgi":
        files.add(RenderedFile(
            host=host.name, path=layout.wsgi_script,
            text=render_wsgi_script(topology, instance, host, layout), mode=0o644,
            kind="wsgi script", purpose=f"{program} {instance.name}: mod_wsgi script"))


def render_manifest(files: dict[PurePosixPath, RenderedFile]) -> str:
    """A tab-separated list: host, path on the host, mode, kind, purpose."""
    lines = [f"# Generated by {GENERATOR}: every rendered file, one per line.",
             "# host\tpath\tmode\tkind\tpurpose"]
    for key in sorted(files):
        item = files[key]
        host = "-" if item.host is None else item.host
        lines.append(f"{host}\t{item.path}\t{item.mode:04o}\t{item.kind}\t{item.purpose}")
    return "\n".join(lines) + "\n"
