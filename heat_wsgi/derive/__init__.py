"""What validation and rendering both derive from a topology, in one place.

``index`` (lookups), ``layout`` (paths and sockets per instance),
``addresses`` (loopback, wildcards, URLs), ``ini`` (heat.conf as oslo.config
reads it) and ``heatconf`` (the options each rendered heat.conf sets);
:class:`Derived` holds them for one topology. Pure: imports only the model.
"""

from heat_wsgi.derive.context import Derived
from heat_wsgi.derive.index import Index, build_index
from heat_wsgi.derive.layout import InstanceLayout, instance_layout

__all__ = ["Derived", "Index", "build_index", "InstanceLayout", "instance_layout"]
