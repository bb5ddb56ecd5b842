"""Cross-object validation: every problem of a topology, not just the first.

:func:`validate` returns a list of :class:`Problem`. Errors are settings that
cannot work (a port clash, a loopback database address on a remote host);
warnings are legal but risky (a proxy timeout shorter than Heat's RPC
timeout). It never raises: a rule that breaks on odd input reports an
``internal`` error instead.

Each rule runs in time linear in the size of the topology (lookups go through
dictionaries built once), so validating 10,000 instances stays fast.

Database connection budget
--------------------------
Every process that opens the database holds its own SQLAlchemy pool of up to
``max_pool_size + max_overflow`` connections (oslo.db defaults: 5 + 50).
Threads in one process share that pool, forked processes do not. So:

* each heat-engine *worker* process counts once: an engine group on a host
  contributes ``processes * workers`` pools (the engine's parent process only
  supervises its workers and is not counted);
* heat-api and heat-api-cfn do not open the database in Heat 27: they turn
  each request into an RPC call to an engine;
* heat_wsgi's cloudwatch API stores alarms and metrics in the database, so
  each of its worker processes (uwsgi ``processes`` or mod_wsgi daemon
  processes) counts once.

The sum is compared with ``database.max_connections`` when the topology
gives it.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from heat_wsgi.model import (
    SERVICE_NAMES, SERVICES, ApiInstance, ConfOption, Host, Paths, Topology,
)
from heat_wsgi.quoting import NAME_PATTERN, unsafe_reason
from heat_wsgi.render import DEPLOYMENT_DIRS
from heat_wsgi.render.common import (
    Index, build_index, hostlist_hosts, is_loopback, is_wildcard,
    mask_password, rewrite_hostlist_loopback, rewrite_url_loopback, url_hosts, uwsgi_sockets,
)
from heat_wsgi.render.heatconf import (
    AMQP_HOST_KEYS, AMQP_URL_KEYS, DATABASE_KEY, DB_URL_KEYS, HOST_KEY, LEGACY_KEYS,
    TRANSPORT_KEY, base_settings, effective_settings, instance_host_value, is_amqp_key,
)
from heat_wsgi.render.inifile import option_lines, parse_ini, syntax_errors

__all__ = ["Severity", "Problem", "validate", "duration_seconds", "OSLO_DB_POOL_SIZE",
           "OSLO_DB_MAX_OVERFLOW", "RPC_RESPONSE_TIMEOUT"]

Severity = Literal["error", "warning"]
Key = tuple[str, str]

OSLO_DB_POOL_SIZE = 5
OSLO_DB_MAX_OVERFLOW = 50
RPC_RESPONSE_TIMEOUT = 60
MAX_JSON_BODY_SIZE = 1048576
MAX_TEMPLATE_SIZE = 524288


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong with a topology."""

    severity: Severity
    path: str               #: the field, e.g. ``api_instances[api-1].port``
    message: str            #: what is wrong, in the form "must ..."
    value: object = None    #: what was found
    source: str | None = None  #: ``file:line`` when loaded from YAML

    def __str__(self) -> str:
        text = f"{self.severity}: {self.path}: {self.message}"
        if self.value is not None:
            text += f" (got {self.value!r})"
        return f"{text} in {self.source}" if self.source else text


_DURATION = re.compile(r"(\d+)(us|ms|s|m|h|d)?")
_UNITS = {"us": 1e-6, "ms": 1e-3, None: 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_RETRY_ON = frozenset({"none", "conn-failure", "empty-response", "junk-response",
                       "response-timeout", "0rtt-rejected", "all-retryable-errors"})
_RETRY_STATUS = frozenset({"401", "403", "404", "408", "425", "500", "501", "502", "503", "504"})
_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*")
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")


def duration_seconds(text: str) -> float | None:
    """An HAProxy duration (``10s``, ``1m``, ``500`` = ms) in seconds, or None."""
    match = _DURATION.fullmatch(text)
    if not match:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]


@functools.lru_cache(maxsize=4096)
def _valid_address(address: str, wildcard_ok: bool) -> bool:
    if is_wildcard(address):
        return wildcard_ok and address != ""
    try:
        ipaddress.ip_address(address.strip("[]") if address.startswith("[") else address)
        return True
    except ValueError:
        return bool(_HOSTNAME.fullmatch(address)) and len(address) <= 253


class _Context:
    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.problems: list[Problem] = []
        self.sources = topology.source_map()
        self.index: Index = build_index(topology)
        self._base: dict[Key, str] | None = None
        self._effective: dict[str, dict[Key, str]] = {}

    # -- reporting ----------------------------------------------------------
    def source(self, path: str) -> str | None:
        while path:
            if path in self.sources:
                return self.sources[path]
            cut = max(path.rfind("."), path.rfind("["))
            if cut <= 0:
                break
            path = path[:cut]
        return self.sources.get(path)

    def add(self, severity: Severity, path: str, message: str, value: object = None) -> None:
        self.problems.append(Problem(severity=severity, path=path, message=message,
                                     value=value, source=self.source(path)))

    def base_line(self, lineno: int) -> str | None:
        """``file:line`` of line ``lineno`` (1-based) of the base heat.conf."""
        start = self.sources.get("base_config")
        if start and ":" in start:
            file, _, line = start.rpartition(":")
            if line.isdigit():
                return f"{file}:{int(line) + lineno - 1}"
        return None

    def error(self, path: str, message: str, value: object = None) -> None:
        self.add("error", path, message, value)

    def warning(self, path: str, message: str, value: object = None) -> None:
        self.add("warning", path, message, value)

    # -- heat.conf views ----------------------------------------------------
    @property
    def base(self) -> dict[Key, str]:
        if self._base is None:
            self._base = base_settings(self.topology)
        return self._base

    def settings(self, host: Host) -> dict[Key, str]:
        found = self._effective.get(host.name)
        if found is None:
            found = self._effective[host.name] = effective_settings(
                self.topology, host, self.index, self.base)
        return found

    def heat_hosts(self) -> Iterator[Host]:
        for name in self.index.heat_hosts:
            yield self.index.hosts[name]

    def origin(self, host: Host, key: Key) -> str:
        """The field a heat.conf value on ``host`` comes from."""
        section, name = key
        if any(o.section == section and o.key == name for o in host.heat_conf):
            return f"hosts[{host.name}].heat_conf.{section}.{name}"
        bus = self.topology.message_bus
        if bus is not None and any(o.section == section and o.key == name for o in bus.options):
            return f"message_bus.options.{section}.{name}"
        if any(o.section == section and o.key == name for o in self.topology.heat_conf):
            return f"heat_conf.{section}.{name}"
        if key in DB_URL_KEYS and self.topology.database is not None:
            return "database.url"
        if key == AMQP_URL_KEYS[0] and bus is not None:
            return "message_bus.transport_url"
        return f"base_config.{section}.{name}"


def _item(collection: str, key: object, index: int) -> str:
    return f"{collection}[{key}]" if isinstance(key, str) else f"{collection}[#{index}]"


# -- rules ----------------------------------------------------------------------

def _rule_safe_strings(ctx: _Context) -> None:
    """No value may hold a newline or another control character."""
    for path, value in _unprintable(ctx.topology):
        reason = unsafe_reason(value)
        if reason:
            ctx.error(path, f"cannot be written safely: {reason}", value)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _unprintable(obj: object) -> Iterator[tuple[str, str]]:
    """``(path, value)`` of each string in ``obj`` that is not printable, in field order.

    Paths are relative to ``obj`` ("" for ``obj`` itself) and are only built
    for the strings found: a large topology has 10**5 fine ones.
    """
    if isinstance(obj, str):
        if not obj.isprintable():
            yield "", obj
        return
    if not dataclasses.is_dataclass(obj):
        return
    names = _FIELD_NAMES.get(type(obj))
    if names is None:
        names = _FIELD_NAMES[type(obj)] = tuple(
            f.name for f in dataclasses.fields(obj) if f.name not in ("sources", "base_config"))
    for name in names:
        value = getattr(obj, name)
        if value is None or isinstance(value, (int, bool)):
            continue
        if isinstance(value, str):
            if not value.isprintable():
                yield name, value
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                if isinstance(item, ConfOption):
                    for part in (item.section, item.key, item.value):
                        if not part.isprintable():
                            yield f"{name}.{item.section}.{item.key}", part
                else:
                    for sub, found in _unprintable(item):
                        key = getattr(item, "name", None) or getattr(item, "host", None) \
                            or getattr(item, "service", None)
                        where = _item(name, key, i)
                        yield (f"{where}.{sub}" if sub else where), found
        else:
            for sub, found in _unprintable(value):
                yield (f"{name}.{sub}" if sub else name), found


def _rule_names(ctx: _Context) -> None:
    """Names are safe, unique and refer to hosts that exist."""
    t = ctx.topology
    if not NAME_PATTERN.fullmatch(t.name):
        ctx.error("name", "must be letters, digits, '_', '.' or '-' (at most 63)", t.name)
    if t.heat_version < 1:
        ctx.error("heat_version", "must be a Heat major version such as 27", t.heat_version)
    seen: dict[str, int] = {}
    for i, host in enumerate(t.hosts):
        path = f"hosts[{host.name}]"
        if host.name in seen:
            ctx.error(f"hosts[#{i}].name", f"must be unique: hosts[#{seen[host.name]}] has the same name", host.name)
        else:
            seen[host.name] = i
        if not NAME_PATTERN.fullmatch(host.name):
            ctx.error(f"{path}.name", "must be letters, digits, '_', '.' or '-' (at most 63)", host.name)
        elif host.name in DEPLOYMENT_DIRS:
            ctx.error(f"{path}.name", "is reserved: the rendered tree keeps deployment-wide "
                      f"files in {host.name}/", host.name)
        if not _valid_address(host.address, wildcard_ok=False):
            ctx.error(f"{path}.address", "must be an IP address or host name other hosts can reach", host.address)
        for field_name in ("user", "group"):
            value = getattr(host, field_name)
            if not _USER.fullmatch(value):
                ctx.error(f"{path}.{field_name}", "must be a system user or group name", value)
        _check_paths(ctx, f"{path}.paths", host.paths)
        for option in host.heat_conf:
            _check_option(ctx, f"{path}.heat_conf", option)
    for option in t.heat_conf:
        _check_option(ctx, "heat_conf", option)
    if t.message_bus is not None:
        for option in t.message_bus.options:
            _check_option(ctx, "message_bus.options", option)

    hosts = ctx.index.hosts
    names: dict[str, int] = {}
    for i, inst in enumerate(t.api_instances):
        path = f"api_instances[{inst.name}]"
        if inst.name in names:
            ctx.error(f"api_instances[#{i}].name",
                      f"must be unique: api_instances[#{names[inst.name]}] has the same name", inst.name)
        else:
            names[inst.name] = i
        if not NAME_PATTERN.fullmatch(inst.name):
            ctx.error(f"{path}.name", "must be letters, digits, '_', '.' or '-' (at most 63)", inst.name)
        if inst.host not in hosts:
            ctx.error(f"{path}.host", "must name a host defined under hosts", inst.host)
    groups: dict[str, int] = {}
    for i, group in enumerate(t.engines):
        if group.host in groups:
            ctx.error(f"engines[#{i}].host", "must be unique: one engine group per host "
                      "(num_engine_workers is per host)", group.host)
        else:
            groups[group.host] = i
        if group.host not in hosts:
            ctx.error(f"engines[{group.host}].host", "must name a host defined under hosts", group.host)
    for path, ref in (("proxy.host", t.proxy.host if t.proxy else None),
                      ("database.host", t.database.host if t.database else None),
                      ("message_bus.host", t.message_bus.host if t.message_bus else None)):
        if ref is not None and ref not in hosts:
            ctx.error(path, "must name a host defined under hosts", ref)


def _check_paths(ctx: _Context, path: str, paths: Paths) -> None:
    for f in dataclasses.fields(paths):
        value = getattr(paths, f.name)
        if value is None:
            continue
        if not value.startswith("/"):
            ctx.error(f"{path}.{f.name}", "must be an absolute path", value)
        elif _PATH_UNSAFE.search(value):
            ctx.error(f"{path}.{f.name}", "must not contain whitespace, quotes, '%', '$', '\\' "
                      "or ';' (uwsgi and systemd would split or expand it)", value)


_PATH_UNSAFE = re.compile(r"[\s%$\"'\\;]")
_INI_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def _check_option(ctx: _Context, path: str, option: ConfOption) -> None:
    where = f"{path}.{option.section}.{option.key}"
    if not _INI_NAME.fullmatch(option.section):
        ctx.error(where, "section must be letters, digits, '_', '.' or '-'", option.section)
    if not _INI_NAME.fullmatch(option.key):
        ctx.error(where, "key must be letters, digits, '_', '.' or '-'", option.key)


def _port(ctx: _Context, path: str, port: int | None) -> None:
    if port is not None and not 1 <= port <= 65535:
        ctx.error(path, "must be a port in 1..65535", port)


def _rule_instances(ctx: _Context) -> None:
    """Ports in range, addresses and sockets well formed, options that apply."""
    for inst in ctx.topology.api_instances:
        path = f"api_instances[{inst.name}]"
        _port(ctx, f"{path}.port", inst.port)
        _port(ctx, f"{path}.backend_port", inst.backend_port)
        if inst.mode == "mod_proxy":
            _port(ctx, f"{path}.backend_port", None if inst.backend_port is not None
                  else inst.effective_backend_port)
        elif inst.backend_port is not None:
            ctx.warning(f"{path}.backend_port", f"is only used in mode mod_proxy, not {inst.mode}",
                        inst.backend_port)
        if inst.address is not None and not _valid_address(inst.address, wildcard_ok=True):
            ctx.error(f"{path}.address", "must be an IP address or host name", inst.address)
        if inst.socket is not None:
            if inst.mode == "mod_wsgi":
                ctx.warning(f"{path}.socket", "is ignored in mode mod_wsgi (no uwsgi runs)", inst.socket)
            elif not inst.socket.startswith("/") or any(c.isspace() for c in inst.socket):
                ctx.error(f"{path}.socket", "must be an absolute path without whitespace", inst.socket)


def _rule_bindings(ctx: _Context) -> None:
    """No two listeners share a host:port or a unix socket."""
    t = ctx.topology
    tcp: dict[tuple[str, int], list[tuple[str, str]]] = {}
    unix: dict[tuple[str, str], str] = {}

    def bind(host: str, address: str, port: int, owner: str, path: str, proxy: bool) -> None:
        bucket = tcp.setdefault((host, port), [])
        for other_address, other in bucket:
            if other_address == address or is_wildcard(other_address) or is_wildcard(address):
                if proxy:
                    ctx.error(path, f"binds {address}:{port} on host {host}, which {other} "
                              "also uses; that address must be left free for the proxy", port)
                else:
                    ctx.error(path, f"clashes with {other} on {address}:{port} (host {host})", port)
                return
        bucket.append((address, owner))

    for inst in t.api_instances:
        host = ctx.index.hosts.get(inst.host)
        if host is None:
            continue
        path = f"api_instances[{inst.name}]"
        socket, http_socket = uwsgi_sockets(inst, host)
        address = inst.address if inst.address is not None else host.address
        if inst.mode == "mod_proxy" and http_socket is not None:
            bind(host.name, address, inst.effective_port, f"instance {inst.name}", f"{path}.port", False)
            backend_address, backend_port = http_socket
            bind(host.name, backend_address, backend_port, f"instance {inst.name} (uwsgi backend)",
                 f"{path}.backend_port", False)
        else:
            bind(host.name, address, inst.effective_port, f"instance {inst.name}", f"{path}.port", False)
        if socket is not None:
            key = (host.name, socket)
            if key in unix:
                ctx.error(f"{path}.socket", f"unix socket is also used by {unix[key]} "
                          f"on host {host.name}", socket)
            else:
                unix[key] = f"instance {inst.name}"

    proxy = t.proxy
    if proxy is None:
        return
    proxy_host = ctx.index.hosts.get(proxy.host)
    if proxy_host is None:
        return
    if proxy.address is not None and not _valid_address(proxy.address, wildcard_ok=True):
        ctx.error("proxy.address", "must be an IP address or host name", proxy.address)
    bind_address = proxy.address if proxy.address is not None else proxy_host.address
    for listener in proxy.listeners:
        path = f"proxy.listeners[{listener.service}]"
        _port(ctx, f"{path}.port", listener.port)
        if listener.address is not None and not _valid_address(listener.address, wildcard_ok=True):
            ctx.error(f"{path}.address", "must be an IP address or host name", listener.address)
        address = listener.address if listener.address is not None else bind_address
        bind(proxy_host.name, address, listener.effective_port, f"proxy listener {listener.service}",
             f"{path}.port", True)
    if proxy.stats is not None:
        _port(ctx, "proxy.stats.port", proxy.stats.port)
        address = proxy.stats.address if proxy.stats.address is not None else bind_address
        bind(proxy_host.name, address, proxy.stats.port, "proxy stats", "proxy.stats.port", True)


def _rule_proxy(ctx: _Context) -> None:
    """Listeners match the services that have instances; proxy settings are sane."""
    t = ctx.topology
    counts = {s: 0 for s in SERVICE_NAMES}
    for inst in t.api_instances:
        counts[inst.service] += 1
    proxy = t.proxy
    if proxy is None:
        for service, count in counts.items():
            if count > 1:
                ctx.warning("proxy", f"is not set, but service {service} has {count} instances "
                            "that nothing balances")
        return
    listened: dict[str, int] = {}
    for i, listener in enumerate(proxy.listeners):
        if listener.service in listened:
            ctx.error(f"proxy.listeners[#{i}].service", "must be unique: one listener per service",
                      listener.service)
        listened[listener.service] = i
        if counts[listener.service] == 0:
            ctx.error(f"proxy.listeners[{listener.service}]",
                      f"has no instances: no api_instances entry has service {listener.service}",
                      listener.service)
    for service, count in counts.items():
        if count and service not in listened:
            ctx.error("proxy.listeners", f"must include service {service}, which has {count} "
                      f"instance(s) (e.g. {{service: {service}, port: "
                      f"{SERVICES[service].default_port}}})")
    for f in dataclasses.fields(proxy.timeouts):
        value = getattr(proxy.timeouts, f.name)
        if duration_seconds(value) is None:
            ctx.error(f"proxy.timeouts.{f.name}", "must be an HAProxy duration such as 10s or 1m", value)
    if proxy.retry_on is not None:
        for word in proxy.retry_on.split() or [""]:
            if word not in _RETRY_ON and not (word.isdigit() and word in _RETRY_STATUS):
                ctx.error("proxy.retry_on", "must be HAProxy retry-on keywords such as "
                          "'conn-failure empty-response response-timeout'", word)
    hc = proxy.health_check
    if duration_seconds(hc.inter) is None:
        ctx.error("proxy.health_check.inter", "must be an HAProxy duration such as 2s", hc.inter)
    if not hc.uri.startswith("/") or any(c.isspace() for c in hc.uri):
        ctx.error("proxy.health_check.uri", "must be a path starting with '/'", hc.uri)
    if hc.enabled and not hc.server_check:
        ctx.warning("proxy.health_check.server_check", "is false, so HAProxy never runs the "
                    "configured health check and keeps sending traffic to dead instances", False)
    if proxy.stats is not None and not proxy.stats.uri.startswith("/"):
        ctx.error("proxy.stats.uri", "must be a path starting with '/'", proxy.stats.uri)
    if proxy.tls is not None and not proxy.tls.certificate.startswith("/"):
        ctx.error("proxy.tls.certificate", "must be an absolute path", proxy.tls.certificate)


def _rule_base_config(ctx: _Context) -> None:
    """The base heat.conf must be readable by oslo.config; key settings exist."""
    t = ctx.topology
    for err in syntax_errors(t.base_config)[:20]:
        source = ctx.base_line(err.lineno)
        ctx.problems.append(Problem(severity="error", path=f"base_config line {err.lineno}",
                                    message=f"oslo.config cannot read this: {err.message}",
                                    value=err.line, source=source))
    if not ctx.index.heat_hosts:
        return
    base = ctx.base
    if t.database is None and not any(key in base for key in DB_URL_KEYS):
        ctx.warning("database", "is not set and the base heat.conf has no [database] connection")
    if t.message_bus is None and not any(key in base for key in AMQP_URL_KEYS + AMQP_HOST_KEYS):
        ctx.warning("message_bus", "is not set and the base heat.conf has no transport_url")


def _rule_legacy_options(ctx: _Context) -> None:
    """Options of the base heat.conf that Heat 27 no longer reads.

    ``sql_connection`` left oslo.db for ``[database] connection`` and the
    ``rabbit_*`` broker options left oslo.messaging for ``transport_url``.
    Alone, such a file leaves every host on the library defaults (an error);
    next to the current option it is dead text (a warning). The renderer
    writes the current option from them and comments them out.
    """
    t = ctx.topology
    if not ctx.index.heat_hosts:
        return
    given = {DATABASE_KEY: t.database is not None or DATABASE_KEY in ctx.base,
             TRANSPORT_KEY: t.message_bus is not None or TRANSPORT_KEY in ctx.base}
    where = {DATABASE_KEY: "database.url", TRANSPORT_KEY: "message_bus.transport_url"}
    values = parse_ini(t.base_config)
    for key, lineno in sorted(option_lines(t.base_config).items(), key=lambda kv: kv[1]):
        modern = LEGACY_KEYS.get(key)
        if modern is None:
            continue
        old, new = f"[{key[0]}] {key[1]}", f"[{modern[0]}] {modern[1]}"
        value = values[key]
        shown = "***" if key[1] == "rabbit_password" else mask_password(value)
        if given[modern]:
            source = "the topology's " + where[modern] if (
                modern not in ctx.base) else "the base heat.conf"
            message = (f"{old} is not read by Heat 27; {new} from {source} is used instead "
                       f"(the rendered files keep {old} only as a comment)")
            severity: Severity = "warning"
        else:
            message = (f"{old} is not read by Heat 27, and nothing sets {new}: hosts would "
                       f"use the library default instead; replace it with {new} (or set "
                       f"{where[modern]}); the rendered files carry it over to {new}")
            severity = "error"
        ctx.problems.append(Problem(severity=severity, path=f"base_config.{key[0]}.{key[1]}",
                                    message=message, value=shown,
                                    source=ctx.base_line(lineno)))


def _rule_host_values(ctx: _Context) -> None:
    """Every heat.conf names a different ``[DEFAULT] host``.

    Engines register in Heat's service table under it, and the scaling guide
    asks for a unique one per API instance: a clash makes two processes one.
    """
    owners: dict[str, str] = {}
    for host in ctx.heat_hosts():
        value = ctx.settings(host).get(HOST_KEY, host.name)
        own = any((o.section, o.key) == HOST_KEY for o in host.heat_conf)
        entries = [(value, ctx.origin(host, HOST_KEY) if own else f"hosts[{host.name}].name",
                    f"host {host.name}")]
        entries += [(instance_host_value(value, inst), f"api_instances[{inst.name}].name",
                     f"instance {inst.name}")
                    for inst in ctx.index.instances_by_host.get(host.name, [])]
        for found, path, who in entries:
            other = owners.get(found)
            if other is None:
                owners[found] = who
            elif other != who:
                ctx.error(path, f"gives {who} the heat.conf [DEFAULT] host of {other}; each "
                          "heat.conf must name a unique host (instances get "
                          "'<host>-<instance>')", found)


def _rule_loopback(ctx: _Context) -> None:
    """Database and AMQP URLs may name loopback only on the host serving them."""
    t = ctx.topology
    several = len(t.hosts) > 1
    found: dict[str, list[str]] = {}   # origin path -> hosts affected
    details: dict[str, tuple[str, str, str]] = {}
    for host in ctx.heat_hosts():
        if is_loopback(host.address):
            continue   # a loopback host shares the machine with the others
        settings = ctx.settings(host)
        for keys, what, server, parse in (
                (DB_URL_KEYS, "database", t.database.host if t.database else None, url_hosts),
                (AMQP_URL_KEYS, "message bus", t.message_bus.host if t.message_bus else None, url_hosts),
                (AMQP_HOST_KEYS, "message bus", t.message_bus.host if t.message_bus else None,
                 hostlist_hosts)):
            if server == host.name or (server is None and not several):
                continue
            for key in keys:
                value = settings.get(key)
                if value is None or not any(is_loopback(h) for h in parse(value)):
                    continue
                origin = ctx.origin(host, key)
                found.setdefault(origin, []).append(host.name)
                details[origin] = (what, f"[{key[0]}] {key[1]}", mask_password(value))
    for origin, hosts in found.items():
        what, option, value = details[origin]
        who = hosts[0] if len(hosts) == 1 else f"{hosts[0]} and {len(hosts) - 1} more hosts"
        serving = "database.host" if what == "database" else "message_bus.host"
        ctx.error(origin, f"gives {option} a loopback address, but host {who} does not run the "
                  f"{what}: use the serving host's address or set {serving}", value)


def _amqp_view(ctx: _Context, host: Host) -> dict[Key, str]:
    t = ctx.topology
    server = ctx.index.hosts.get(t.message_bus.host) if t.message_bus and t.message_bus.host else None
    view: dict[Key, str] = {}
    for key, value in ctx.settings(host).items():
        if not is_amqp_key(key) and key not in AMQP_HOST_KEYS:
            continue
        if server is not None:
            if key in AMQP_URL_KEYS:
                value = rewrite_url_loopback(value, server.address)
            elif key in AMQP_HOST_KEYS:
                value = rewrite_hostlist_loopback(value, server.address)
        view[key] = value
    return view


def _rule_engine_amqp(ctx: _Context) -> None:
    """Every engine host uses the same AMQP settings (one shared engine queue)."""
    engine_hosts = [ctx.index.hosts[name] for name in ctx.index.engines_by_host
                    if name in ctx.index.hosts]
    if len(engine_hosts) < 2:
        return
    # Hosts without their own heat.conf options all see the same AMQP view.
    plain: dict[Key, str] | None = None
    views: list[tuple[Host, dict[Key, str]]] = []
    for host in engine_hosts:
        if host.heat_conf:
            views.append((host, _amqp_view(ctx, host)))
        else:
            if plain is None:
                plain = _amqp_view(ctx, host)
            views.append((host, plain))
    reference, ref_view = next(((h, v) for h, v in views if not h.heat_conf), views[0])
    for host, view in views:
        if host is reference or view is ref_view or view == ref_view:
            continue
        for key in sorted(set(ref_view) | set(view)):
            mine, theirs = view.get(key), ref_view.get(key)
            if mine == theirs:
                continue
            path = ctx.origin(host, key) if mine is not None else f"hosts[{host.name}].heat_conf"
            shown = "unset" if theirs is None else mask_password(theirs)
            ctx.error(path, f"[{key[0]}] {key[1]} on engine host {host.name} differs from engine "
                      f"host {reference.name} ({shown}); all engines must share one AMQP "
                      "configuration to consume the same queue",
                      None if mine is None else mask_password(mine))


def _int_setting(ctx: _Context, host: Host, key: Key, default: int,
                 reported: set[str]) -> int:
    raw = ctx.settings(host).get(key)
    if raw is None:
        return default
    try:
        return int(raw.strip())
    except ValueError:
        origin = ctx.origin(host, key)
        if origin not in reported:
            reported.add(origin)
            ctx.error(origin, f"[{key[0]}] {key[1]} must be an integer", raw)
        return default


def _api_hosts(ctx: _Context) -> list[Host]:
    return [ctx.index.hosts[name] for name in ctx.index.instances_by_host
            if name in ctx.index.hosts]


def _rule_timeouts_and_sizes(ctx: _Context) -> None:
    """Proxy server timeout >= rpc_response_timeout; JSON body limit > template limit."""
    t = ctx.topology
    reported: set[str] = set()
    server = duration_seconds(t.proxy.timeouts.server) if t.proxy else None
    seen_rpc: set[str] = set()
    seen_size: set[str] = set()
    for host in _api_hosts(ctx):
        rpc = _int_setting(ctx, host, ("DEFAULT", "rpc_response_timeout"), RPC_RESPONSE_TIMEOUT, reported)
        if server is not None and server < rpc:
            origin = ctx.origin(host, ("DEFAULT", "rpc_response_timeout"))
            if origin not in seen_rpc:
                seen_rpc.add(origin)
                ctx.warning("proxy.timeouts.server",
                            f"is shorter than Heat's rpc_response_timeout of {rpc}s (host "
                            f"{host.name}): long API calls would end in 504 from the proxy",
                            t.proxy.timeouts.server if t.proxy else None)
        json_size = _int_setting(ctx, host, ("DEFAULT", "max_json_body_size"), MAX_JSON_BODY_SIZE, reported)
        template = _int_setting(ctx, host, ("DEFAULT", "max_template_size"), MAX_TEMPLATE_SIZE, reported)
        if json_size <= template:
            origin = ctx.origin(host, ("DEFAULT", "max_json_body_size"))
            if origin not in seen_size:
                seen_size.add(origin)
                ctx.error(origin, f"[DEFAULT] max_json_body_size must be larger than "
                          f"max_template_size ({template}), since a template travels inside a "
                          f"JSON body (host {host.name})", json_size)


def _rule_db_budget(ctx: _Context) -> None:
    """The connection pools of every DB-using process fit max_connections."""
    t = ctx.topology
    if t.database is None or t.database.max_connections is None:
        return
    reported: set[str] = set()

    def per_process(host: Host) -> int:
        pool = _int_setting(ctx, host, ("database", "max_pool_size"), OSLO_DB_POOL_SIZE, reported)
        overflow = _int_setting(ctx, host, ("database", "max_overflow"), OSLO_DB_MAX_OVERFLOW, reported)
        return max(pool, 0) + max(overflow, 0)

    engines = cloudwatch = 0
    engine_procs = cloudwatch_procs = 0
    cache: dict[str, int] = {}
    for name, groups in ctx.index.engines_by_host.items():
        host = ctx.index.hosts.get(name)
        if host is None:
            continue
        each = cache.setdefault(name, per_process(host))
        for group in groups:
            engine_procs += group.processes * group.workers
            engines += group.processes * group.workers * each
    for inst in t.api_instances:
        if not SERVICES[inst.service].uses_database:
            continue
        host = ctx.index.hosts.get(inst.host)
        if host is None:
            continue
        if host.name not in cache:      # once per host, not once per instance
            cache[host.name] = per_process(host)
        each = cache[host.name]
        cloudwatch_procs += inst.processes
        cloudwatch += inst.processes * each
    total = engines + cloudwatch
    if total > t.database.max_connections:
        ctx.error("database.max_connections",
                  f"is smaller than the {total} connections the pools may open: "
                  f"{engine_procs} engine worker(s) use {engines}, {cloudwatch_procs} cloudwatch "
                  "worker process(es) use "
                  f"{cloudwatch} (max_pool_size + max_overflow each); lower the pools or raise "
                  "max_connections", t.database.max_connections)


_RULES: tuple[Callable[[_Context], None], ...] = (
    _rule_safe_strings, _rule_names, _rule_instances, _rule_bindings, _rule_proxy,
    _rule_base_config, _rule_legacy_options, _rule_host_values, _rule_loopback, _rule_engine_amqp, _rule_timeouts_and_sizes,
    _rule_db_budget,
)


def _rules() -> tuple[Callable[[_Context], None], ...]:
    # Imported late: the deploy rules use this module's helpers.
    from heat_wsgi.validate_deploy import DEPLOY_RULES
    return _RULES + DEPLOY_RULES


def validate(topology: Topology) -> list[Problem]:
    """Every problem of ``topology``; errors first, then warnings. Never raises."""
    if not isinstance(topology, Topology):
        return [Problem(severity="error", path="", message="must be a Topology", value=type(topology).__name__)]
    try:
        ctx = _Context(topology)
    except Exception as exc:  # noqa: BLE001 - validate must not raise
        return [Problem(severity="error", path="<internal>", message=f"cannot index the topology: {exc!r}")]
    for rule in _rules():
        try:
            rule(ctx)
        except Exception as exc:  # noqa: BLE001 - one broken rule must not hide the others
            ctx.error("<internal>", f"rule {rule.__name__.removeprefix('_rule_')} failed: {exc!r}")
    order = {"error": 0, "warning": 1}
    return sorted(ctx.problems, key=lambda p: order[p.severity])
