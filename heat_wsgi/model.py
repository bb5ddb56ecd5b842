"""The deployment model: one immutable description of a scaled-out Heat.

A :class:`Topology` names the machines (:class:`Host`), the API instances that
run on them (:class:`ApiInstance`), the heat-engine processes per machine
(:class:`EngineGroup`), the HAProxy in front (:class:`ProxyConfig`), the shared
database and message bus, and the base ``heat.conf`` every machine's own
``heat.conf`` is derived from. It can be loaded from YAML
(:func:`heat_wsgi.loader.load_topology`) or built in Python::

    import heat_wsgi
    from heat_wsgi import (ApiInstance, Database, EngineGroup, Host,
                           Listener, MessageBus, ProxyConfig, Topology)

    topology = Topology(
        hosts=(Host(name="a", address="10.0.0.1"),
               Host(name="b", address="10.0.0.2")),
        database=Database(url="mysql+pymysql://heat:pw@127.0.0.1/heat", host="a"),
        message_bus=MessageBus(transport_url="rabbit://heat:pw@127.0.0.1:5672/", host="a"),
        api_instances=(ApiInstance(name="api-b", service="api", host="b"),),
        engines=(EngineGroup(host="b", processes=2),),
        proxy=ProxyConfig(host="a", listeners=(Listener(service="api"),)),
        base_config=open("/etc/heat/heat.conf").read(),
    )
    problems = heat_wsgi.validate(topology)   # list of Problem, never raises
    files = heat_wsgi.render(topology)        # {PurePosixPath("b/etc/heat/heat.conf"): RenderedFile, ...}

Every class is a frozen, slotted, keyword-only dataclass; collections are
tuples; change a topology with :func:`dataclasses.replace`. Constructors check
each field's type and closed set of values and raise
:class:`~heat_wsgi.errors.TopologyError` naming the field and the value. Rules
that involve a range of values or several objects (ports in 1..65535, unique
names, clashes, safe characters, ...) are checked by :func:`heat_wsgi.validate`,
which reports every problem at once.

This module imports neither Heat nor oslo.messaging.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin

from heat_wsgi.errors import TopologyError
from heat_wsgi.services import SERVICE_NAMES, SERVICES, ServiceInfo, ServiceName

__all__ = [
    "ServiceName", "ServerMode", "Balance", "ServiceInfo", "SERVICES",
    "SERVICE_NAMES", "SERVER_MODES", "Host", "Paths", "ConfOption", "Database",
    "MessageBus", "TLS", "Listener", "HealthCheck", "ProxyTimeouts", "StatsListener",
    "AdminSocket", "ProxyLog", "ProxyConfig", "ApiInstance", "EngineGroup", "Topology", "DEFAULT_HEAT_VERSION",
]

ServerMode = Literal["uwsgi", "mod_wsgi", "mod_proxy", "mod_proxy_uwsgi"]
"""How one API instance is served.

``uwsgi``: uwsgi on an ``http-socket``, reached directly by HAProxy.
``mod_wsgi``: Apache runs the application in a mod_wsgi daemon process group.
``mod_proxy``: Apache (``mod_proxy_http``) in front of uwsgi on a loopback
``http-socket`` (``backend_port``).
``mod_proxy_uwsgi``: Apache (``mod_proxy_uwsgi``) in front of uwsgi on a unix
socket speaking the uwsgi protocol.
"""

Balance = Literal["roundrobin", "leastconn", "source"]
"""HAProxy's balancing algorithms heat_wsgi offers."""

SERVER_MODES: tuple[ServerMode, ...] = get_args(ServerMode)
DEFAULT_HEAT_VERSION = 27
#: The Heat major versions heat_wsgi renders for and is tested against.
SUPPORTED_HEAT_VERSIONS = range(23, 28)


def doc(text: str, **extra: Any) -> dict[str, Any]:
    """Field metadata: the description used by the JSON Schema and the docs."""
    return {"doc": text, **extra}


# -- generic field checks -----------------------------------------------------

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _type_ok(value: object, hint: Any) -> bool:
    origin = get_origin(hint)
    if hint is Any:
        return True
    if origin is Literal:
        return isinstance(value, str) and value in get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in get_args(hint))
    if hint is type(None):
        return value is None
    if origin is tuple:
        args = get_args(hint)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_type_ok(item, args[0]) for item in value)
        return len(args) == len(value) and all(map(_type_ok, value, args))
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(hint))
    if hint is type(None):
        return "None"
    if origin is tuple:
        return f"a tuple of {_describe(get_args(hint)[0])}"
    return getattr(hint, "__name__", str(hint))


def _check_fields(obj: Any, where: str) -> None:
    """Raise TopologyError unless every field of ``obj`` has its declared type."""
    for name, hint in _hints(type(obj)).items():
        value = getattr(obj, name)
        if not _type_ok(value, hint):
            raise TopologyError(f"{where}.{name}" if where else name,
                                f"must be {_describe(hint)}", value)


def _key(value: object) -> str:
    """How a collection item is named in a field path."""
    return value if isinstance(value, str) else "?"


def _check_min(where: str, name: str, value: int | None, minimum: int) -> None:
    if value is not None and value < minimum:
        raise TopologyError(f"{where}.{name}", f"must be at least {minimum}", value)


# -- value types --------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class Paths:
    """Where heat_wsgi's files live on one host."""

    config_dir: str = field(default="/etc/heat", metadata=doc(
        "Directory holding heat.conf, api-paste.ini and the uwsgi ini files."))
    log_dir: str = field(default="/var/log/heat", metadata=doc("Log directory."))
    run_dir: str = field(default="/run/heat", metadata=doc(
        "Directory for unix sockets and pid files."))
    state_dir: str = field(default="/var/lib/heat", metadata=doc(
        "Home directory of the service user (created by the Ansible playbook)."))
    venv: str | None = field(default=None, metadata=doc(
        "Virtualenv with heat_wsgi and Heat installed; used for uwsgi, heat-engine "
        "and mod_wsgi's python-home."))
    python_path: str | None = field(default=None, metadata=doc(
        "Extra site-packages for mod_wsgi's python-path when there is no venv."))
    wsgi_dir: str = field(default="/var/www/heat", metadata=doc(
        "Directory for the .wsgi scripts that mod_wsgi loads."))
    apache_site_dir: str = field(default="/etc/apache2/sites-available", metadata=doc(
        "Where Apache site files go (/etc/httpd/conf.d on Red Hat)."))
    systemd_dir: str = field(default="/etc/systemd/system", metadata=doc(
        "Where systemd unit files go."))
    haproxy_config: str = field(default="/etc/haproxy/haproxy.cfg", metadata=doc(
        "Path of the rendered haproxy.cfg on the proxy host."))

    def __post_init__(self) -> None:
        _check_fields(self, "paths")

    @property
    def bin_dir(self) -> str:
        """Directory of the uwsgi and heat-engine executables."""
        return f"{self.venv.rstrip('/')}/bin" if self.venv else "/usr/bin"


@dataclass(frozen=True, slots=True, kw_only=True)
class Host:
    """One machine, with the address other machines reach it on."""

    name: str = field(metadata=doc("Unique host name; also written as [DEFAULT] host."))
    address: str = field(metadata=doc("Address the other hosts reach this one on."))
    paths: Paths = field(default_factory=Paths, metadata=doc("File layout on this host."))
    user: str = field(default="heat", metadata=doc("System user running the services."))
    group: str = field(default="heat", metadata=doc("System group of that user."))
    web_group: str = field(default="www-data", metadata=doc(
        "Group Apache's workers run as (www-data on Debian, apache on Red Hat). "
        "uwsgi unix sockets are given to it, mode 0660, so mod_proxy_uwsgi can "
        "connect without the socket being world-writable."))
    heat_conf: tuple[ConfOption, ...] = field(default=(), metadata=doc(
        "heat.conf options set on this host only, as {section: {key: value}}.",
        yaml="sections"))

    def __post_init__(self) -> None:
        _check_fields(self, f"hosts[{_key(self.name)}]")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfOption:
    """One ``[section] key = value`` to set in a rendered heat.conf."""

    section: str = field(metadata=doc("The heat.conf section, e.g. DEFAULT or database."))
    key: str = field(metadata=doc("The option's name in that section."))
    value: str = field(metadata=doc(
        "The value as oslo.config should read it; heat_wsgi quotes it for the file."))

    def __post_init__(self) -> None:
        _check_fields(self, "heat_conf")


@dataclass(frozen=True, slots=True, kw_only=True)
class Database:
    """The SQL database every engine (and the cloudwatch API) connects to."""

    url: str = field(metadata=doc(
        "SQLAlchemy URL written as [database] connection; a loopback address in it "
        "is rewritten to the serving host's address on the other hosts."))
    host: str | None = field(default=None, metadata=doc(
        "Name of the host that serves the database."))
    max_connections: int | None = field(default=None, metadata=doc(
        "The server's max_connections, to check the connection budget against."))
    pool_size: int | None = field(default=None, metadata=doc(
        "[database] max_pool_size per process (oslo.db default 5)."))
    max_overflow: int | None = field(default=None, metadata=doc(
        "[database] max_overflow per process (oslo.db default 50)."))
    dead_client_within: int | None = field(default=None, metadata=doc(
        "Seconds within which MariaDB drops the session of a client machine that "
        "went silent (lost power), rendered as TCP keepalive settings "
        "(tcp_keepalive_time, _interval, _probes). Such a session keeps the row "
        "locks of its open transaction, and the engines that wait on them, until "
        "the kernel's 2 h keepalive or MariaDB's 8 h wait_timeout; at least 8."))

    def __post_init__(self) -> None:
        _check_fields(self, "database")
        _check_min("database", "dead_client_within", self.dead_client_within, 8)
        _check_min("database", "max_connections", self.max_connections, 1)
        _check_min("database", "pool_size", self.pool_size, 1)
        _check_min("database", "max_overflow", self.max_overflow, 0)


#: The heat.conf option message_bus.heartbeat_timeout is written as.
HEARTBEAT_KEY = ("oslo_messaging_rabbit", "heartbeat_timeout_threshold")


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageBus:
    """The AMQP broker that carries RPC between the APIs and the engines."""

    transport_url: str = field(metadata=doc(
        "oslo.messaging transport URL written as [DEFAULT] transport_url."))
    host: str | None = field(default=None, metadata=doc(
        "Name of the host that runs the broker."))
    options: tuple[ConfOption, ...] = field(default=(), metadata=doc(
        "rabbit_*/kombu_* options, as {section: {key: value}} "
        "(usually oslo_messaging_rabbit).", yaml="sections"))
    heartbeat_timeout: int | None = field(default=None, metadata=doc(
        "Seconds of silence after which the broker and oslo.messaging drop a "
        "connection: [oslo_messaging_rabbit] heartbeat_timeout_threshold, and the "
        "broker host's rabbitmq.conf heartbeat (oslo.messaging and RabbitMQ default "
        "60). RabbitMQ keeps a powered-off engine's consumers, and routes RPC calls "
        "to them, until this expires (up to twice it)."))

    def __post_init__(self) -> None:
        _check_fields(self, "message_bus")
        _check_min("message_bus", "heartbeat_timeout", self.heartbeat_timeout, 1)
        if self.heartbeat_timeout is not None and any(
                (o.section, o.key) == HEARTBEAT_KEY for o in self.options):
            raise TopologyError("message_bus.options.oslo_messaging_rabbit."
                                "heartbeat_timeout_threshold",
                                "is set by message_bus.heartbeat_timeout; set only that",
                                self.heartbeat_timeout)


@dataclass(frozen=True, slots=True, kw_only=True)
class TLS:
    """TLS termination on the proxy."""

    certificate: str = field(metadata=doc(
        "PEM file with certificate and key, as HAProxy's 'crt' expects."))

    def __post_init__(self) -> None:
        _check_fields(self, "proxy.tls")


@dataclass(frozen=True, slots=True, kw_only=True)
class Listener:
    """One HAProxy listener: a service's public address."""

    service: ServiceName = field(metadata=doc("Which API service this listener fronts."))
    port: int | None = field(default=None, metadata=doc(
        "Port to bind; defaults to the service's usual port (heat-api 8004, heat-api-cfn "
        "8000, ...: its default_port in heat_wsgi.services.SERVICES)."))
    address: str | None = field(default=None, metadata=doc(
        "Address to bind; defaults to the proxy's bind address."))

    def __post_init__(self) -> None:
        _check_fields(self, f"proxy.listeners[{_key(self.service)}]")

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else SERVICES[self.service].default_port


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthCheck:
    """HTTP health checks HAProxy runs against every API instance."""

    enabled: bool = field(default=True, metadata=doc(
        "Send 'GET /healthcheck' and expect 200 (option httpchk)."))
    server_check: bool = field(default=True, metadata=doc(
        "Put 'check' on the server lines; without it HAProxy never runs the probe."))
    uri: str = field(default="/healthcheck", metadata=doc("Path probed."))
    inter: str = field(default="2s", metadata=doc("Interval between probes."))
    fall: int = field(default=3, metadata=doc("Failed probes before a server is down."))
    rise: int = field(default=2, metadata=doc("Passed probes before it is up again."))
    fastinter: str | None = field(default=None, metadata=doc(
        "Interval between probes while a server is up but has started failing them "
        "(from the first failure until 'fall' is reached); defaults to inter. A short "
        "one marks a dead machine down sooner without probing healthy ones more often."))
    downinter: str | None = field(default=None, metadata=doc(
        "Interval between probes while a server is down; defaults to inter."))
    down_within: str | None = field(default=None, metadata=doc(
        "What the timing must achieve: validation checks that a machine that stops "
        "answering (powered off: packets vanish, no RST) is marked down within this "
        "time, counting inter + fall probes that each wait min(inter, timeout connect) "
        "+ (fall - 1) x fastinter."))

    def __post_init__(self) -> None:
        _check_fields(self, "proxy.health_check")
        _check_min("proxy.health_check", "fall", self.fall, 1)
        _check_min("proxy.health_check", "rise", self.rise, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyTimeouts:
    """HAProxy timeouts; the defaults are the scaling guide's sample values."""

    http_request: str = field(default="10s", metadata=doc(
        "timeout http-request: how long a client may take to send a whole request."))
    queue: str = field(default="1m", metadata=doc(
        "timeout queue: how long a request may wait for a free server slot."))
    connect: str = field(default="10s", metadata=doc(
        "timeout connect: how long a connection to an API instance may take."))
    client: str = field(default="1m", metadata=doc(
        "timeout client: how long a client may stay silent."))
    server: str = field(default="1m", metadata=doc(
        "timeout server: how long an API instance may take to answer; keep it at or "
        "above Heat's rpc_response_timeout."))
    check: str = field(default="10s", metadata=doc(
        "timeout check: how long a health check may take once connected."))

    def __post_init__(self) -> None:
        _check_fields(self, "proxy.timeouts")


@dataclass(frozen=True, slots=True, kw_only=True)
class StatsListener:
    """HAProxy's statistics page."""

    port: int = field(default=8404, metadata=doc("Port of the stats page."))
    address: str | None = field(default=None, metadata=doc(
        "Address to bind; defaults to the proxy host's loopback (the host's own address "
        "when that is a loopback one, else 127.0.0.1), so only that machine reaches the "
        "page. Any other address (a wildcard too) exposes it, and then credentials_file "
        "is required."))
    uri: str = field(default="/", metadata=doc("Path of the stats page."))
    credentials_file: str | None = field(default=None, metadata=doc(
        "File holding one line 'user:password' the stats page asks for (HTTP basic "
        "auth), on the machine that renders, relative to the topology file. It must be a "
        "regular file that others cannot read (mode 0600 or 0640). Required when the page "
        "is exposed; the rendered haproxy.cfg then holds the password and is written 0640."))
    credentials: str | None = field(default=None, repr=False, metadata=doc(
        "The 'user:password' read from credentials_file (the loader fills it in; in "
        "Python, heat_wsgi.secretfile.read_stats_credentials). Never printed.",
        internal=True))

    def __post_init__(self) -> None:
        _check_fields(self, "proxy.stats")


AdminSocketMode = Literal["0600", "0660"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminSocket:
    """HAProxy's admin socket (``stats socket ... level admin``): drain and enable servers."""

    path: str | None = field(default=None, metadata=doc(
        "Unix socket path; defaults to haproxy.sock in the proxy host's run_dir."))
    mode: AdminSocketMode = field(default="0600", metadata=doc(
        "Permissions of the socket, a quoted string: '0600' (root only) or '0660' "
        "(also the members of 'group'). Never world-accessible: level admin can stop "
        "every server."))
    group: str | None = field(default=None, metadata=doc(
        "Group given the socket; required with mode '0660'."))

    def __post_init__(self) -> None:
        _check_fields(self, "proxy.admin_socket")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyLog:
    """Where HAProxy logs requests (option httplog) and health-check changes."""

    target: str = field(default="/dev/log", metadata=doc(
        "A unix socket such as /dev/log (journald or rsyslog on a systemd host), "
        "'stdout' or 'stderr' (raw lines, for a foreground haproxy), or host:port of "
        "a syslog server (UDP)."))
    facility: str = field(default="local0", metadata=doc("Syslog facility."))
    health_checks: bool = field(default=True, metadata=doc(
        "Log every change of a server's check result (option log-health-checks), "
        "not only the transitions to up and down."))

    def __post_init__(self) -> None:
        _check_fields(self, "proxy.log")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyConfig:
    """The HAProxy that spreads requests over the API instances."""

    host: str = field(metadata=doc("Name of the host HAProxy runs on."))
    address: str | None = field(default=None, metadata=doc(
        "Address the listeners bind; defaults to the host's address."))
    listeners: tuple[Listener, ...] = field(default=(), metadata=doc(
        "One listener per API service."))
    balance: Balance = field(default="leastconn", metadata=doc(
        "Balancing algorithm. leastconn sends each request to the instance with the fewest "
        "in flight, which suits Heat's calls: they wait on RPC for anything from milliseconds "
        "to seconds. With queue_in_proxy it is also the one that never strands queued "
        "requests while a server is drained (roundrobin did, with HAProxy 2.6)."))
    queue_in_proxy: bool = field(default=True, metadata=doc(
        "Give each server line 'maxconn' = its instance's processes x threads, the calls "
        "it can run at once. Requests beyond that wait in HAProxy's queue and go to "
        "whichever instance frees first, not into one instance's listen backlog, where a "
        "health check would wait behind them too. timeout queue bounds the wait."))
    retries: int = field(default=3, metadata=doc("Connection retries per request."))
    redispatch: bool = field(default=True, metadata=doc(
        "Retry on another server when one is down (option redispatch)."))
    retry_on: str | None = field(default=None, metadata=doc(
        "HAProxy 'retry-on' conditions (layer 7 retries), e.g. 'conn-failure "
        "empty-response response-timeout': a request that met an instance as it "
        "stopped is retried on another one instead of failing with 502."))
    maxconn: int = field(default=4000, metadata=doc("Global connection limit."))
    timeouts: ProxyTimeouts = field(default_factory=ProxyTimeouts, metadata=doc("Timeouts."))
    health_check: HealthCheck = field(default_factory=HealthCheck, metadata=doc(
        "Health checks against the instances."))
    tls: TLS | None = field(default=None, metadata=doc(
        "Terminate TLS on the listeners with this certificate."))
    stats: StatsListener | None = field(default_factory=StatsListener, metadata=doc(
        "Statistics page; null for none."))
    admin_socket: AdminSocket | None = field(default_factory=AdminSocket, metadata=doc(
        "The admin socket rolling restarts drain servers through; null for none."))
    log: ProxyLog | None = field(default_factory=ProxyLog, metadata=doc(
        "Request and health-check logging; null for none."))

    def __post_init__(self) -> None:
        _check_fields(self, "proxy")
        _check_min("proxy", "retries", self.retries, 0)
        _check_min("proxy", "maxconn", self.maxconn, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiInstance:
    """One running copy of a Heat API service."""

    name: str = field(metadata=doc("Unique instance name; used in file and unit names."))
    service: ServiceName = field(metadata=doc(
        "Which API service it runs (see heat_wsgi.services.SERVICES)."))
    host: str = field(metadata=doc("Name of the host it runs on."))
    mode: ServerMode = field(default="uwsgi", metadata=doc("How it is served."))
    port: int | None = field(default=None, metadata=doc(
        "Port HAProxy reaches it on (uwsgi's or Apache's); defaults to the service's port."))
    address: str | None = field(default=None, metadata=doc(
        "Address it binds; defaults to the host's address."))
    backend_port: int | None = field(default=None, metadata=doc(
        "mod_proxy only: uwsgi's loopback http-socket port; defaults to port + 10000."))
    socket: str | None = field(default=None, metadata=doc(
        "uwsgi unix socket: required path for mod_proxy_uwsgi (defaults to "
        "<run_dir>/<name>.sock); an extra listener in the other uwsgi modes."))
    processes: int = field(default=2, metadata=doc("Worker processes."))
    threads: int = field(default=1, metadata=doc("Threads per worker process."))

    def __post_init__(self) -> None:
        where = f"api_instances[{_key(self.name)}]"
        _check_fields(self, where)
        _check_min(where, "processes", self.processes, 1)
        _check_min(where, "threads", self.threads, 1)

    @property
    def info(self) -> ServiceInfo:
        return SERVICES[self.service]

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else SERVICES[self.service].default_port

    @property
    def effective_backend_port(self) -> int:
        return self.backend_port if self.backend_port is not None else self.effective_port + 10000

    @property
    def uses_uwsgi(self) -> bool:
        return self.mode != "mod_wsgi"

    @property
    def uses_apache(self) -> bool:
        return self.mode != "uwsgi"


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineGroup:
    """The heat-engine processes of one host."""

    host: str = field(metadata=doc("Name of the host they run on."))
    processes: int = field(default=1, metadata=doc(
        "heat-engine processes (one systemd unit each)."))
    workers: int = field(default=1, metadata=doc(
        "num_engine_workers: worker processes each heat-engine forks."))

    def __post_init__(self) -> None:
        where = f"engines[{_key(self.host)}]"
        _check_fields(self, where)
        _check_min(where, "processes", self.processes, 1)
        _check_min(where, "workers", self.workers, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Topology:
    """A whole deployment: hosts, API instances, engines, proxy and shared services."""

    name: str = field(default="heat", metadata=doc("Name of the deployment."))
    heat_version: int = field(default=DEFAULT_HEAT_VERSION, metadata=doc(
        "Target Heat major version; <= 24 also writes [heat_api] bind options."))
    hosts: tuple[Host, ...] = field(default=(), metadata=doc("The machines."))
    api_instances: tuple[ApiInstance, ...] = field(default=(), metadata=doc(
        "The API instances."))
    engines: tuple[EngineGroup, ...] = field(default=(), metadata=doc(
        "heat-engine processes, one group per host."))
    proxy: ProxyConfig | None = field(default=None, metadata=doc("The HAProxy in front."))
    database: Database | None = field(default=None, metadata=doc(
        "The database; when absent the base heat.conf's setting is kept."))
    message_bus: MessageBus | None = field(default=None, metadata=doc(
        "The AMQP broker; when absent the base heat.conf's setting is kept."))
    base_config: str = field(default="", metadata=doc(
        "Text of the base heat.conf every host's heat.conf is derived from. "
        "In YAML give base_config_file (a path, relative to the YAML file) or "
        "base_config (the text)."))
    heat_conf: tuple[ConfOption, ...] = field(default=(), metadata=doc(
        "heat.conf options set on every host, as {section: {key: value}}.",
        yaml="sections"))
    sources: tuple[tuple[str, str], ...] = field(
        default=(), compare=False, repr=False,
        metadata=doc("file:line of each field, filled in by the loader.", internal=True))

    def __post_init__(self) -> None:
        _check_fields(self, "")

    # -- lookups -----------------------------------------------------------
    def host(self, name: str) -> Host | None:
        """The host called ``name``, or ``None``."""
        for host in self.hosts:
            if host.name == name:
                return host
        return None

    def host_map(self) -> dict[str, Host]:
        """Hosts by name (the first one wins when names repeat)."""
        result: dict[str, Host] = {}
        for host in self.hosts:
            result.setdefault(host.name, host)
        return result

    def source_map(self) -> dict[str, str]:
        """``field path -> file:line`` as recorded by the loader."""
        return dict(self.sources)


def model_classes() -> tuple[type, ...]:
    """Every dataclass of the model, for the schema and the docs."""
    return (Topology, Host, Paths, ConfOption, Database, MessageBus, TLS, Listener,
            HealthCheck, ProxyTimeouts, StatsListener, AdminSocket, ProxyLog, ProxyConfig,
            ApiInstance, EngineGroup)


def source_at(sources: Mapping[str, str], path: str) -> str | None:
    """The ``file:line`` of field ``path``, else of the nearest field around it that has one."""
    while path:
        if path in sources:
            return sources[path]
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            return None
        path = path[:cut]
    return None


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> description, from the field metadata."""
    return {f.name: str(f.metadata.get("doc", "")) for f in dataclasses.fields(cls)}
