"""heat.conf for each host and for each API instance, derived from the base heat.conf.

Each host with Heat processes gets ``<config_dir>/heat.conf``: its engines
(and ``heat-manage``) read it, and its ``[DEFAULT] host`` is the host's name.
Each API instance gets its own full copy, ``<config_dir>/heat-<instance>.conf``
(the scaling guide's "multiple copies of the heat.conf file"): the host's
file with ``[DEFAULT] host = <host>-<instance>`` and, for Heat <= 24, the
instance's own ``[heat_api]``/``[heat_api_cfn]`` bind_host/bind_port.
"""

from __future__ import annotations

from heat_wsgi.model import SERVICES, ApiInstance, ConfOption, Host, Topology
from heat_wsgi.quoting import ini_key, ini_value
from heat_wsgi.render.common import (
    Index, header, heat_conf_path, instance_address, instance_heat_conf_path, is_wildcard,
    rewrite_hostlist_loopback, rewrite_url_loopback,
)
from heat_wsgi.render.inifile import edit_ini, parse_ini

__all__ = [
    "DB_URL_KEYS", "AMQP_URL_KEYS", "AMQP_HOST_KEYS", "HOST_KEY", "base_settings", "host_edits",
    "instance_edits", "instance_host_value", "effective_settings", "render_heat_conf",
    "render_instance_heat_conf", "is_amqp_key",
]

Key = tuple[str, str]

#: The option that names the Heat "host" (engines register under it).
HOST_KEY: Key = ("DEFAULT", "host")

#: Options that hold the database URL, the current name first.
DB_URL_KEYS: tuple[Key, ...] = (
    ("database", "connection"), ("DEFAULT", "sql_connection"), ("database", "sql_connection"))
#: Options that hold an AMQP URL.
AMQP_URL_KEYS: tuple[Key, ...] = (("DEFAULT", "transport_url"),)
#: Legacy options that hold AMQP host names (``host`` or ``host:port,...``).
AMQP_HOST_KEYS: tuple[Key, ...] = (
    ("DEFAULT", "rabbit_host"), ("DEFAULT", "rabbit_hosts"),
    ("oslo_messaging_rabbit", "rabbit_host"), ("oslo_messaging_rabbit", "rabbit_hosts"))
_AMQP_SECTIONS = ("DEFAULT", "oslo_messaging_rabbit", "oslo_messaging_kombu")


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
    present = [key for key in DB_URL_KEYS if key in base]
    if db is not None:
        target = present[0] if present else DB_URL_KEYS[0]
        url = db.url
        if db_server is not None and db_server.name != host.name:
            url = rewrite_url_loopback(url, db_server.address)
        edits[target] = url
        if db.pool_size is not None:
            edits[("database", "max_pool_size")] = str(db.pool_size)
        if db.max_overflow is not None:
            edits[("database", "max_overflow")] = str(db.max_overflow)
    if db_server is not None and db_server.name != host.name:
        for key in present:
            if key not in edits:
                edits[key] = rewrite_url_loopback(base[key], db_server.address)

    bus = topology.message_bus
    bus_server = index.hosts.get(bus.host) if bus and bus.host else None
    remote_bus = bus_server is not None and bus_server.name != host.name
    if bus is not None:
        url = bus.transport_url
        edits[AMQP_URL_KEYS[0]] = (rewrite_url_loopback(url, bus_server.address)
                                   if remote_bus and bus_server else url)
        edits.update(_options(bus.options))
    if remote_bus and bus_server is not None:
        for key in AMQP_URL_KEYS:
            if key in base and key not in edits:
                edits[key] = rewrite_url_loopback(base[key], bus_server.address)
        for key in AMQP_HOST_KEYS:
            value = edits.get(key, base.get(key))
            if value is not None:
                edits[key] = rewrite_hostlist_loopback(value, bus_server.address)

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
        for service in ("api", "cfn"):
            group = SERVICES[service].conf_group
            for name in ("bind_host", "bind_port"):
                if (group, name) in base:
                    edits[(group, name)] = None
    else:
        # The host's file carries the bind options of its only instance of a
        # service, as the scaling guide's machine B does; each instance's own
        # copy carries its own (instance_edits).
        for instance in index.instances_by_host.get(host.name, []):
            # heat-api-cloudwatch left Heat long before 24: it has no group.
            if (instance.service != "cloudwatch"
                    and index.service_count.get((host.name, instance.service), 0) == 1):
                edits.update(_bind_edits(instance, host))
    edits.update(_options(host.heat_conf))
    return edits


def _bind_edits(instance: ApiInstance, host: Host) -> dict[Key, str | None]:
    group = instance.info.conf_group
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
    if topology.heat_version <= 24 and instance.service != "cloudwatch":
        edits.update(_bind_edits(instance, host))
    return edits


def effective_settings(topology: Topology, host: Host, index: Index,
                       base: dict[Key, str] | None = None) -> dict[Key, str]:
    """What oslo.config will read from ``host``'s rendered heat.conf."""
    if base is None:
        base = base_settings(topology)
    settings = dict(base)
    for key, value in host_edits(topology, host, index, base).items():
        if value is None:
            settings.pop(key, None)
        else:
            settings[key] = value
    return settings


def _quote_edits(edits: dict[Key, str | None]) -> dict[Key, str | None]:
    return {(ini_key(s), ini_key(k)): (None if v is None else ini_value(v))
            for (s, k), v in edits.items()}


def render_heat_conf(topology: Topology, host: Host, index: Index,
                     base: dict[Key, str] | None = None) -> str:
    """``host``'s heat.conf (its engines'): the base text with heat_wsgi's options set."""
    edits = _quote_edits(host_edits(topology, host, index, base))
    body = edit_ini(topology.base_config, edits)
    top = header("#", topology, f"heat.conf for host {host.name!r} and its heat-engines "
                 f"({heat_conf_path(host)})")
    return "\n".join(top) + "\n" + body


def render_instance_heat_conf(topology: Topology, instance: ApiInstance, host: Host,
                              index: Index, base: dict[Key, str] | None = None,
                              host_level: dict[Key, str | None] | None = None) -> str:
    """``instance``'s own full copy of its host's heat.conf."""
    edits = _quote_edits(instance_edits(topology, instance, host, index, base, host_level))
    body = edit_ini(topology.base_config, edits)
    top = header("#", topology, f"heat.conf for {instance.info.program} instance "
                 f"{instance.name!r} on host {host.name!r} "
                 f"({instance_heat_conf_path(instance, host)})")
    return "\n".join(top) + "\n" + body
