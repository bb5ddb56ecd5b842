"""heat_wsgi: serve OpenStack Heat's APIs under real web servers, scaled out.

The deployment model is importable without Heat installed::

    from heat_wsgi import Topology, ApiInstance, EngineGroup, ProxyConfig
"""

from heat_wsgi.model import (
    SERVICES, TLS, ApiInstance, ConfOption, Database, EngineGroup, HealthCheck, Host,
    Listener, MessageBus, Paths, ProxyConfig, ProxyTimeouts, StatsListener, Topology,
)

__all__ = [
    "SERVICES", "TLS", "ApiInstance", "ConfOption", "Database", "EngineGroup", "HealthCheck",
    "Host", "Listener", "MessageBus", "Paths", "ProxyConfig", "ProxyTimeouts", "StatsListener",
    "Topology",
]
