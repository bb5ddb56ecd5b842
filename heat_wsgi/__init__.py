"""heat_wsgi: serve OpenStack Heat's APIs under real web servers, scaled out.

The deployment model is importable without Heat installed::

    from heat_wsgi import Topology, ApiInstance, EngineGroup, ProxyConfig
"""

from heat_wsgi.model import (
    SERVICES, TLS, AdminSocket, ApiInstance, ConfOption, Database, EngineGroup, HealthCheck,
    Host, Listener, MessageBus, Paths, ProxyConfig, ProxyLog, ProxyTimeouts, StatsListener,
    Topology,
)

__all__ = [
    "SERVICES", "TLS", "AdminSocket", "ApiInstance", "ConfOption", "Database", "EngineGroup", "HealthCheck",
    "Host", "Listener", "MessageBus", "Paths", "ProxyConfig", "ProxyLog", "ProxyTimeouts", "StatsListener",
    "Topology",
]
