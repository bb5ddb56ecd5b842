"""The one table of Heat API services: every per-service fact, declared once.

The model, validation, the renderers, the diagram, the WSGI boot and the
local runner all read :data:`SERVICES`; none keeps a list of its own. A new
API service is one name in :data:`ServiceName`, one :class:`ServiceInfo`
below, and its WSGI module (``heat_wsgi/<module>.py`` calling
:func:`heat_wsgi.boot.entrypoint`).

This module imports nothing of heat_wsgi: every layer may read it.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["ServiceName", "ServiceInfo", "SERVICES", "SERVICE_NAMES", "by_program"]

ServiceName = Literal["api", "cfn", "cloudwatch"]
"""The Heat API services heat_wsgi can serve."""

SERVICE_NAMES: tuple[ServiceName, ...] = get_args(ServiceName)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceInfo:
    """Fixed facts about one Heat API service."""

    name: ServiceName
    program: str            #: process name, e.g. ``heat-api``
    default_port: int       #: the port deployments have always used
    module: str             #: the heat_wsgi module holding ``application``
    conf_group: str | None  #: heat.conf group of its bind options (Heat <= 24), if Heat had one
    proxy_section: str      #: the HAProxy ``listen`` section in front of it
    label: str              #: how ``heat-wsgi up`` names its endpoint
    diagram_label: str      #: its box in the text diagram, in the scaling guide's words
    probe_path: str         #: a path that answers 200 without auth, for ``up``'s endpoints
    uses_database: bool     #: whether each of its processes opens the database
    own_tables: bool        #: whether it keeps tables of its own (``heat-wsgi cloudwatch db-sync``)
    oslo_log_defaults: bool  #: whether Heat's own entry point resets oslo.log's defaults


SERVICES: Mapping[ServiceName, ServiceInfo] = types.MappingProxyType({
    "api": ServiceInfo(
        name="api", program="heat-api", default_port=8004, module="heat_wsgi.api",
        conf_group="heat_api", proxy_section="rest_api_proxy", label="REST API",
        diagram_label="REST-API", probe_path="/v1/admin", uses_database=False,
        own_tables=False, oslo_log_defaults=False),
    "cfn": ServiceInfo(
        # Heat's CFN routes answer on "/v1/" only; "/v1" is a 404.
        name="cfn", program="heat-api-cfn", default_port=8000, module="heat_wsgi.cfn",
        conf_group="heat_api_cfn", proxy_section="cfn_api_proxy", label="CFN API",
        diagram_label="API-CFN", probe_path="/v1/", uses_database=False,
        own_tables=False, oslo_log_defaults=True),
    "cloudwatch": ServiceInfo(
        # heat-api-cloudwatch left Heat long before 24: no bind group to write.
        name="cloudwatch", program="heat-api-cloudwatch", default_port=8003,
        module="heat_wsgi.cloudwatch", conf_group=None, proxy_section="cloudwatch_api_proxy",
        label="CloudWatch API", diagram_label="API-CW", probe_path="/",
        uses_database=True, own_tables=True, oslo_log_defaults=False),
})


def by_program(program: str) -> ServiceInfo | None:
    """The service whose process is called ``program`` (``heat-api``), or ``None``."""
    return next((info for info in SERVICES.values() if info.program == program), None)
