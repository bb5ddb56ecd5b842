"""Render a topology into every file of the deployment, without touching disk.

:func:`render_all` walks the renderer table (:mod:`heat_wsgi.render.table`):
every per-host renderer for every host, then every deployment-wide one, and
returns a mapping from a relative key to a :class:`RenderedFile`
(:mod:`heat_wsgi.files` explains the two kinds of key). Writing them is
:func:`heat_wsgi.writer.write_tree`'s job.
"""

from __future__ import annotations

from operator import itemgetter
from pathlib import PurePosixPath

from heat_wsgi.callable_module import make_callable
from heat_wsgi.derive import Derived
from heat_wsgi.errors import RenderError, TopologyError
from heat_wsgi.files import DEPLOYMENT_DIRS, FileKind, RenderedFile, host_file_key, render_manifest
from heat_wsgi.model import Topology
from heat_wsgi.quoting import UnsafeValue
from heat_wsgi.render.table import DEPLOYMENT_RENDERERS, HOST_RENDERERS, HostView
from heat_wsgi.validate import validate

__all__ = ["FileKind", "RenderedFile", "render_all", "render_manifest", "host_file_key",
           "DEPLOYMENT_DIRS"]


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
    """Every file of the deployment, per host and deployment-wide, sorted by key.

    Unless ``validated`` says the caller already looked at
    :func:`heat_wsgi.validate.validate`, the topology is validated first and
    the first error is raised as :class:`~heat_wsgi.errors.TopologyError`.

    :raises TopologyError: the topology has errors.
    :raises RenderError: a value cannot be written in its file's format, or
        two files would go to the same path.
    """
    derived = Derived(topology)
    if not validated:
        errors = [p for p in validate(topology, derived) if p.severity == "error"]
        if errors:
            first = errors[0]
            more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
            raise TopologyError(first.path, first.message + more, first.value, first.source)
    try:
        return _render_all(topology, derived)
    except UnsafeValue as exc:
        raise RenderError(topology.name, str(exc)) from exc


def _render_all(topology: Topology, derived: Derived) -> dict[PurePosixPath, RenderedFile]:
    files = _Files()
    for host in derived.index.hosts.values():
        view = HostView(topology, derived, host)
        for renderer in HOST_RENDERERS:
            for item in renderer(view):
                files.add(item)
    if DEPLOYMENT_RENDERERS:
        per_host = files.sorted()
        for deployment_renderer in DEPLOYMENT_RENDERERS:
            for item in deployment_renderer(topology, derived, per_host):
                files.add(item)
    return files.sorted()


# heat_wsgi.render(topology) is render_all(topology): the facade's name for it.
make_callable(__name__, render_all)
