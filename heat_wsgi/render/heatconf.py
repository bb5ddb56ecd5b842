"""heat.conf for each host and for each API instance, derived from the base heat.conf.

Each host with Heat processes gets ``<config_dir>/heat.conf``: its engines
(and ``heat-manage``) read it, and its ``[DEFAULT] host`` is the host's name.
Each API instance gets its own full copy, ``<config_dir>/heat-<instance>.conf``
(the scaling guide's "multiple copies of the heat.conf file"): the host's
file with ``[DEFAULT] host = <host>-<instance>`` and, for Heat <= 24, the
instance's own ``[heat_api]``/``[heat_api_cfn]`` bind_host/bind_port.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from heat_wsgi.model import SERVICES, ApiInstance, ConfOption, Host, ServiceName, Topology
from heat_wsgi.quoting import ini_key, ini_value
from heat_wsgi.render.common import (
    Index, format_host, header, heat_conf_path, instance_address, instance_heat_conf_path,
    is_wildcard, rewrite_url_loopback, split_hostport,
)
from heat_wsgi.render.inifile import IniTemplate, edit_shape, ini_template, parse_ini

__all__ = [
    "DB_URL_KEYS", "AMQP_URL_KEYS", "AMQP_HOST_KEYS", "HOST_KEY", "DATABASE_KEY",
    "TRANSPORT_KEY", "LEGACY_DB_KEYS", "LEGACY_AMQP_KEYS", "LEGACY_KEYS", "legacy_transport_url", "base_settings", "host_edits",
    "instance_edits", "instance_host_value", "effective_settings", "render_heat_conf",
    "render_instance_heat_conf", "is_amqp_key", "HostHeatConf",
]

Key = tuple[str, str]

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


def _bind_edits(instance: ApiInstance, host: Host) -> dict[Key, str]:
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
    if _bind_group(topology, instance.service) is not None:
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


def _legacy_comments(edits: dict[Key, str | None]) -> tuple[tuple[Key, str], ...]:
    """The note above each legacy option the rendered file comments out."""
    return tuple((key, f"heat_wsgi: Heat 27 does not read [{key[0]}] {key[1]}; "
                       f"[{LEGACY_KEYS[key][0]}] {LEGACY_KEYS[key][1]} carries its value")
                 for key, value in edits.items() if value is None and key in LEGACY_KEYS)


@dataclass(frozen=True, slots=True)
class _Variant:
    """The instance copies of a host's heat.conf that set the same options."""

    template: IniTemplate     # host values filled in; a slot per option of ``own``
    own: tuple[Key, ...]      # options each instance sets itself, in file order


@dataclass(frozen=True, slots=True)
class HostHeatConf:
    """Everything a host's heat.conf and its instances' copies share, worked out once.

    An instance's copy differs from its host's file only in ``[DEFAULT] host``
    and, on Heat <= 24, its bind options. So the host's edits are quoted once
    here, the base text is laid out once per set of options
    (:func:`~heat_wsgi.render.inifile.ini_template`), and each file only
    quotes and pastes its own few values.
    """

    topology: Topology
    host: Host
    raw: dict[Key, str | None]        #: :func:`host_edits`, unquoted
    quoted: dict[Key, str | None]     #: the same, quoted for the file
    template: IniTemplate             #: the host's own file
    variants: dict[str | None, _Variant]  #: per bind group (``None``: no bind options)

    @classmethod
    def build(cls, topology: Topology, host: Host, index: Index,
              base: dict[Key, str] | None = None,
              host_level: dict[Key, str | None] | None = None) -> HostHeatConf:
        raw = host_edits(topology, host, index, base) if host_level is None else host_level
        quoted = _quote_edits(raw)
        comments = _legacy_comments(raw)
        shape = edit_shape(raw)
        variants: dict[str | None, _Variant] = {}
        for group in _bind_groups(topology):
            # The options an instance sets itself: [DEFAULT] host (in the
            # host's edits already, so it keeps its place) and its bind
            # options, which keep theirs when the host sets them too and
            # come last otherwise -- as in instance_edits.
            own: dict[Key, bool] = {HOST_KEY: True}
            if group is not None:
                own.update({(group, "bind_host"): True, (group, "bind_port"): True})
            order = dict(shape)
            order.update(own)
            # The host's values go in now; each instance fills only its own.
            template = ini_template(topology.base_config, tuple(order.items()), comments)
            variants[group] = _Variant(template.partial(quoted, own),
                                       tuple(key for key in order if key in own))
        return cls(topology, host, raw, quoted,
                   ini_template(topology.base_config, shape, comments), variants)

    def host_text(self) -> str:
        """The host's own heat.conf."""
        top = header("#", self.topology, f"heat.conf for host {self.host.name!r} and its "
                     f"heat-engines ({heat_conf_path(self.host)})")
        return "\n".join(top) + "\n" + self.template.fill(self.quoted)

    def instance_text(self, instance: ApiInstance) -> str:
        """``instance``'s own copy of the host's heat.conf."""
        host = self.host
        group = _bind_group(self.topology, instance.service)
        variant = self.variants[group]
        own: dict[Key, str] = {HOST_KEY: instance_host_value(self.raw.get(HOST_KEY) or host.name,
                                                             instance)}
        if group is not None:
            own.update(_bind_edits(instance, host))
        # Quoted in file order, so the first bad value is the one reported.
        values = {key: ini_value(own[key]) for key in variant.own}
        top = header("#", self.topology, f"heat.conf for {instance.info.program} instance "
                     f"{instance.name!r} on host {host.name!r} "
                     f"({instance_heat_conf_path(instance, host)})")
        return "\n".join(top) + "\n" + variant.template.fill(values)


def _bind_groups(topology: Topology) -> tuple[str | None, ...]:
    """Every value :func:`_bind_group` can take in ``topology``, in service order."""
    return tuple(dict.fromkeys(_bind_group(topology, service) for service in SERVICES))


def _bind_group(topology: Topology, service: ServiceName) -> str | None:
    """The heat.conf group of the bind options an instance of ``service`` sets, if any."""
    # heat-api-cloudwatch left Heat long before 24: it has no group to bind.
    if topology.heat_version <= 24 and service != "cloudwatch":
        return SERVICES[service].conf_group
    return None


def render_heat_conf(topology: Topology, host: Host, index: Index,
                     base: dict[Key, str] | None = None) -> str:
    """``host``'s heat.conf (its engines'): the base text with heat_wsgi's options set."""
    return HostHeatConf.build(topology, host, index, base).host_text()


def render_instance_heat_conf(topology: Topology, instance: ApiInstance, host: Host,
                              index: Index, base: dict[Key, str] | None = None,
                              host_level: dict[Key, str | None] | None = None) -> str:
    """``instance``'s own full copy of its host's heat.conf."""
    return HostHeatConf.build(topology, host, index, base, host_level).instance_text(instance)
