"""heat_wsgi: serve OpenStack Heat's APIs under real web servers, scaled out.

The facade for deployment tools: describe, check, render and write a
deployment without importing Heat::

    import heat_wsgi

    topology = heat_wsgi.load_topology("etc/heat/topology.sample.yaml")
    problems = heat_wsgi.validate(topology)          # list of Problem, never raises
    files = heat_wsgi.render(topology)               # key -> RenderedFile
    heat_wsgi.write_tree(files, "out/")

:func:`load_topology`, :func:`validate`, :func:`render` and
:func:`write_tree` are loaded on first use, so ``import heat_wsgi`` (which
every WSGI process does) costs no more than the model. ``validate`` and
``render`` are the packages :mod:`heat_wsgi.validate` and
:mod:`heat_wsgi.render`, callable as their :func:`~heat_wsgi.validate.validate`
and :func:`~heat_wsgi.render.render_all`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from heat_wsgi.errors import BootError, HeatWsgiError, RenderError, ServiceError, TopologyError
from heat_wsgi.files import DEPLOYMENT_DIRS, RenderedFile
from heat_wsgi.model import (
    SERVICES, TLS, AdminSocket, ApiInstance, ConfOption, Database, EngineGroup, HealthCheck,
    Host, Listener, MessageBus, Paths, ProxyConfig, ProxyLog, ProxyTimeouts, ServiceInfo,
    StatsListener,
    Topology,
)
from heat_wsgi.quoting import UnsafeValue

if TYPE_CHECKING:
    from heat_wsgi.loader import load_topology, loads_topology
    from heat_wsgi.render import render_all as render
    from heat_wsgi.validate import Problem, validate
    from heat_wsgi.writer import write_tree

__all__ = [
    # the four steps
    "load_topology", "loads_topology", "validate", "render", "write_tree",
    # what they return
    "Problem", "RenderedFile", "DEPLOYMENT_DIRS",
    # errors
    "HeatWsgiError", "TopologyError", "RenderError", "UnsafeValue", "ServiceError", "BootError",
    # the model
    "Topology", "Host", "Paths", "ConfOption", "Database", "MessageBus", "TLS", "Listener",
    "HealthCheck", "ProxyTimeouts", "StatsListener", "AdminSocket", "ProxyLog", "ProxyConfig",
    "ApiInstance", "EngineGroup", "SERVICES", "ServiceInfo",
]

_LAZY: dict[str, tuple[str, str | None]] = {
    "load_topology": ("heat_wsgi.loader", "load_topology"),
    "loads_topology": ("heat_wsgi.loader", "loads_topology"),
    # The packages themselves, callable as validate() and render_all().
    "validate": ("heat_wsgi.validate", None),
    "render": ("heat_wsgi.render", None),
    "Problem": ("heat_wsgi.validate", "Problem"),
    "write_tree": ("heat_wsgi.writer", "write_tree"),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)
