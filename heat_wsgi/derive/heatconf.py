"""What each rendered heat.conf means: the options heat_wsgi sets, and what oslo.config reads.

Validation and the heat.conf renderer share these. :func:`host_edits` is the
one place that decides the values a host's heat.conf gets (the database and
broker URLs with loopback rewritten for remote hosts, the proxy's CFN URLs,
``num_engine_workers``, the legacy options carried over, the Heat <= 24 bind
options); :func:`effective_settings` is what oslo.config will then read.
"""

from __future__ import annotations

import urllib.parse

from heat_wsgi.derive.addresses import format_host, is_wildcard, rewrite_url_loopback, split_hostport
from heat_wsgi.derive.index import Index
from heat_wsgi.derive.ini import Key, parse_ini
from heat_wsgi.derive.layout import instance_address
from heat_wsgi.model import HEARTBEAT_KEY, ApiInstance, ConfOption, Host, Topology
from heat_wsgi.services import SERVICES, ServiceName

__all__ = [
    "DB_URL_KEYS", "AMQP_URL_KEYS", "AMQP_HOST_KEYS", "HOST_KEY", "DATABASE_KEY",
    "TRANSPORT_KEY", "LEGACY_DB_KEYS", "LEGACY_AMQP_KEYS", "LEGACY_KEYS",
    "legacy_transport_url", "is_amqp_key", "base_settings", "host_edits", "bind_edits",
    "instance_edits", "instance_host_value", "effective_settings", "apply_edits", "bind_group", "bind_groups",
]

#: The option that names the Heat "host" (engines register under it).
HOST_KEY: Key = ("DEFAULT", "host")

#: The option Heat 27 (oslo.db) reads the database URL from.
DATABASE_KEY: Key = ("database", "connection")
#: The option Heat 27 (oslo.messaging) reads the AMQP broker from.
TRANSPORT_KEY: Key = ("DEFAULT", "transport_url")
#: Old names of ``[database] connection``; oslo.db dropped them, Heat 27
#: ignores them. The renderer carries their value over and comments them out.
LEGACY_DB_KEYS: tuple[Key, ...] = (("DEFAULT", "sql_connection"), ("database", "sql_connection"))
_LEGACY_RABBIT = ("rabbit_host", "rabbit_hosts", "rabbit_port", "rabbit_userid",
                  "rabbit_password", "rabbit_virtual_host")
#: Broker options oslo.messaging removed in favour of ``transport_url``.
LEGACY_AMQP_KEYS: tuple[Key, ...] = tuple(
    (section, name) for section in ("DEFAULT", "oslo_messaging_rabbit") for name in _LEGACY_RABBIT)
#: Every legacy option, and the one that replaces it.
LEGACY_KEYS: dict[Key, Key] = {
    **{key: DATABASE_KEY for key in LEGACY_DB_KEYS},
    **{key: TRANSPORT_KEY for key in LEGACY_AMQP_KEYS}}
#: Options that hold the database URL, the current name first.
DB_URL_KEYS: tuple[Key, ...] = (DATABASE_KEY,) + LEGACY_DB_KEYS
#: Options that hold an AMQP URL.
AMQP_URL_KEYS: tuple[Key, ...] = (TRANSPORT_KEY,)
#: Legacy options that hold AMQP host names (``host`` or ``host:port,...``).
AMQP_HOST_KEYS: tuple[Key, ...] = (
    ("DEFAULT", "rabbit_host"), ("DEFAULT", "rabbit_hosts"),
    ("oslo_messaging_rabbit", "rabbit_host"), ("oslo_messaging_rabbit", "rabbit_hosts"))
_AMQP_SECTIONS = ("DEFAULT", "oslo_messaging_rabbit", "oslo_messaging_kombu")


def legacy_transport_url(settings: dict[Key, str]) -> str:
    """A ``transport_url`` equivalent to the legacy ``rabbit_*`` options in ``settings``.

    Each option is read from ``[oslo_messaging_rabbit]``, else ``[DEFAULT]``,
    with oslo.messaging's old defaults (localhost:5672, guest/guest, ``/``).
    """
    def get(name: str, default: str) -> str:
        for section in ("oslo_messaging_rabbit", "DEFAULT"):
            value = settings.get((section, name))
            if value is not None and value.strip():
                return value.strip()
        return default

    port = get("rabbit_port", "5672")
    user = urllib.parse.quote(get("rabbit_userid", "guest"), safe="")
    password = urllib.parse.quote(get("rabbit_password", "guest"), safe="")
    pieces = []
    for item in get("rabbit_hosts", get("rabbit_host", "localhost")).split(","):
        if not item.strip():
            continue
        name, its_port = split_hostport(item.strip())
        pieces.append(f"{user}:{password}@{format_host(name)}{its_port or ':' + port}")
    vhost = get("rabbit_virtual_host", "/")
    path = "/" if vhost == "/" else "/" + urllib.parse.quote(vhost, safe="")
    return "rabbit://" + ",".join(pieces) + path


def is_amqp_key(key: Key) -> bool:
    """Whether an option belongs to the AMQP settings engines must share."""
    section, name = key
    if key in AMQP_URL_KEYS:
        return True
    return section in _AMQP_SECTIONS and name.startswith(("rabbit_", "kombu_", "amqp_"))


def _options(options: tuple[ConfOption, ...]) -> dict[Key, str]:
    return {(o.section, o.key): o.value for o in options}


def base_settings(topology: Topology) -> dict[Key, str]:
    """The base heat.conf's values with the topology-wide options applied."""
    settings = parse_ini(topology.base_config)
    settings.update(_options(topology.heat_conf))
    return settings


def host_edits(topology: Topology, host: Host, index: Index,
               base: dict[Key, str] | None = None) -> dict[Key, str | None]:
    """The unquoted values heat_wsgi sets in ``host``'s heat.conf."""
    if base is None:
        base = base_settings(topology)
    edits: dict[Key, str | None] = dict(_options(topology.heat_conf))
    edits[HOST_KEY] = host.name

    db = topology.database
    db_server = index.hosts.get(db.host) if db and db.host else None
    remote_db = db_server is not None and db_server.name != host.name
    if db is not None:
        url = db.url
        if remote_db and db_server is not None:
            url = rewrite_url_loopback(url, db_server.address)
        edits[DATABASE_KEY] = url
        if db.pool_size is not None:
            edits[("database", "max_pool_size")] = str(db.pool_size)
        if db.max_overflow is not None:
            edits[("database", "max_overflow")] = str(db.max_overflow)
    elif DATABASE_KEY not in base:
        # Heat 27 reads only [database] connection: carry a legacy value over
        # (loopback stays: without a database section no host is known to
        # serve it, and validation reports that).
        legacy = next((base[key] for key in LEGACY_DB_KEYS if key in base), None)
        if legacy is not None:
            edits[DATABASE_KEY] = legacy

    bus = topology.message_bus
    bus_server = index.hosts.get(bus.host) if bus and bus.host else None
    remote_bus = bus_server is not None and bus_server.name != host.name
    if bus is not None:
        url = bus.transport_url
        edits[TRANSPORT_KEY] = (rewrite_url_loopback(url, bus_server.address)
                                if remote_bus and bus_server else url)
        edits.update(_options(bus.options))
        if bus.heartbeat_timeout is not None:
            edits[HEARTBEAT_KEY] = str(bus.heartbeat_timeout)
    elif TRANSPORT_KEY not in base and any(key in base for key in LEGACY_AMQP_KEYS):
        # Likewise: the rabbit_* options become the transport_url they meant.
        edits[TRANSPORT_KEY] = legacy_transport_url(base)
    # Options oslo.db and oslo.messaging no longer read are commented out
    # (render_heat_conf): their values live on in the options above.
    for key in LEGACY_KEYS:
        if key in base:
            edits[key] = None

    edits[("oslo_middleware", "enable_proxy_headers_parsing")] = "true"
    proxy = topology.proxy
    proxy_host = index.hosts.get(proxy.host) if proxy else None
    cfn = next((l for l in proxy.listeners if l.service == "cfn"), None) if proxy else None
    if proxy is not None and proxy_host is not None and cfn is not None:
        # Instances get these URLs for metadata and wait conditions: they
        # must reach the CFN API through the proxy, not one instance.
        address = cfn.address or proxy.address or proxy_host.address
        if is_wildcard(address):
            address = proxy_host.address
        if ":" in address:
            address = f"[{address}]"
        url = f"{'https' if proxy.tls else 'http'}://{address}:{cfn.effective_port}"
        edits[("DEFAULT", "heat_metadata_server_url")] = url
        edits[("DEFAULT", "heat_waitcondition_server_url")] = f"{url}/v1/waitcondition"
    groups = index.engines_by_host.get(host.name, [])
    if groups:
        edits[("DEFAULT", "num_engine_workers")] = str(groups[0].workers)
    if topology.heat_version >= 25:
        # Heat 25 dropped these options; stale copies would only mislead.
        for info in SERVICES.values():
            for name in ("bind_host", "bind_port"):
                if info.conf_group is not None and (info.conf_group, name) in base:
                    edits[(info.conf_group, name)] = None
    else:
        # The host's file carries the bind options of its only instance of a
        # service, as the scaling guide's machine B does; each instance's own
        # copy carries its own (instance_edits). With none or several, the
        # base file's values (the controller's address) would be wrong here.
        for service, info in SERVICES.items():
            if info.conf_group is None:
                continue   # heat-api-cloudwatch left Heat long before 24
            for name in ("bind_host", "bind_port"):
                if (info.conf_group, name) in base:
                    edits[(info.conf_group, name)] = None
        for instance in index.instances_by_host.get(host.name, []):
            if (instance.info.conf_group is not None
                    and index.service_count.get((host.name, instance.service), 0) == 1):
                edits.update(bind_edits(instance, host))
    edits.update(_options(host.heat_conf))
    return edits


def bind_edits(instance: ApiInstance, host: Host) -> dict[Key, str]:
    """``instance``'s own ``bind_host``/``bind_port`` (Heat <= 24), if its service has a group."""
    group = instance.info.conf_group
    if group is None:
        return {}
    return {(group, "bind_host"): instance_address(instance, host),
            (group, "bind_port"): str(instance.effective_port)}


def instance_host_value(host_value: str, instance: ApiInstance) -> str:
    """An API instance's ``[DEFAULT] host``: ``<host's value>-<instance name>``."""
    return f"{host_value}-{instance.name}"


def instance_edits(topology: Topology, instance: ApiInstance, host: Host, index: Index,
                   base: dict[Key, str] | None = None,
                   host_level: dict[Key, str | None] | None = None) -> dict[Key, str | None]:
    """The unquoted values set in ``instance``'s own copy of ``host``'s heat.conf.

    :param host_level: :func:`host_edits` of ``host``, when the caller has them.
    """
    if host_level is None:
        host_level = host_edits(topology, host, index, base)
    edits = dict(host_level)
    edits[HOST_KEY] = instance_host_value(edits.get(HOST_KEY) or host.name, instance)
    if bind_group(topology, instance.service) is not None:
        edits.update(bind_edits(instance, host))
    return edits


def effective_settings(topology: Topology, host: Host, index: Index,
                       base: dict[Key, str] | None = None) -> dict[Key, str]:
    """What oslo.config will read from ``host``'s rendered heat.conf."""
    if base is None:
        base = base_settings(topology)
    return apply_edits(base, host_edits(topology, host, index, base))


def apply_edits(base: dict[Key, str], edits: dict[Key, str | None]) -> dict[Key, str]:
    """``base`` with ``edits`` set (``None`` removes an option)."""
    settings = dict(base)
    for key, value in edits.items():
        if value is None:
            settings.pop(key, None)
        else:
            settings[key] = value
    return settings


def bind_groups(topology: Topology) -> tuple[str | None, ...]:
    """Every value :func:`bind_group` can take in ``topology``, in service order."""
    return tuple(dict.fromkeys(bind_group(topology, service) for service in SERVICES))


def bind_group(topology: Topology, service: ServiceName) -> str | None:
    """The heat.conf group of the bind options an instance of ``service`` sets, if any."""
    # Heat 25 dropped the bind options; a service Heat never had has no group.
    return SERVICES[service].conf_group if topology.heat_version <= 24 else None
