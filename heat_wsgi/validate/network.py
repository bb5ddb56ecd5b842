"""Rules on the network: ports, addresses, sockets and listeners that clash or are missing."""

from __future__ import annotations

import dataclasses
import ipaddress

from heat_wsgi.derive.addresses import (
    hostlist_hosts, is_loopback, is_wildcard, mask_password, url_hosts,
)
from heat_wsgi.derive.heatconf import AMQP_HOST_KEYS, AMQP_URL_KEYS, DB_URL_KEYS
from heat_wsgi.derive.layout import stats_address, uwsgi_sockets
from heat_wsgi.services import SERVICE_NAMES, SERVICES
from heat_wsgi.validate.context import RuleContext, check_port, duration_seconds, valid_address

__all__ = ["rule_instances", "rule_bindings", "rule_proxy", "rule_loopback"]

_RETRY_ON = frozenset({"none", "conn-failure", "empty-response", "junk-response",
                       "response-timeout", "0rtt-rejected", "all-retryable-errors"})
_RETRY_STATUS = frozenset({"401", "403", "404", "408", "425", "500", "501", "502", "503", "504"})


def rule_instances(ctx: RuleContext) -> None:
    """Ports in range, addresses and sockets well formed, options that apply."""
    for inst in ctx.topology.api_instances:
        path = f"api_instances[{inst.name}]"
        check_port(ctx, f"{path}.port", inst.port)
        check_port(ctx, f"{path}.backend_port", inst.backend_port)
        if inst.mode == "mod_proxy":
            check_port(ctx, f"{path}.backend_port", None if inst.backend_port is not None
                  else inst.effective_backend_port)
        elif inst.backend_port is not None:
            ctx.warning(f"{path}.backend_port", f"is only used in mode mod_proxy, not {inst.mode}",
                        inst.backend_port)
        if inst.address is not None and not valid_address(inst.address, wildcard_ok=True):
            ctx.error(f"{path}.address", "must be an IP address or host name", inst.address)
        if inst.socket is not None:
            if inst.mode == "mod_wsgi":
                ctx.warning(f"{path}.socket", "is ignored in mode mod_wsgi (no uwsgi runs)", inst.socket)
            elif not inst.socket.startswith("/") or any(c.isspace() for c in inst.socket):
                ctx.error(f"{path}.socket", "must be an absolute path without whitespace", inst.socket)


def rule_bindings(ctx: RuleContext) -> None:
    """No two listeners share a host:port or a unix socket."""
    t = ctx.topology
    # Clashes are judged per machine, not per host name: hosts that give the
    # same address are one machine, whose sockets they share.
    machine = {name: _canonical(host.address) for name, host in ctx.index.hosts.items()}
    tcp: dict[tuple[str, int], list[tuple[str, str, str]]] = {}
    unix: dict[tuple[str, str], str] = {}

    def bind(host: str, address: str, port: int, owner: str, path: str, proxy: bool) -> None:
        bucket = tcp.setdefault((machine[host], port), [])
        address = _canonical(address)
        for other_address, other, other_host in bucket:
            if other_address == address or is_wildcard(other_address) or is_wildcard(address):
                where = f"host {host}" if other_host == host else \
                    f"host {host}, the same machine as host {other_host} (address {machine[host]})"
                if proxy:
                    ctx.error(path, f"binds {address}:{port} on {where}, which {other} "
                              "also uses; that address must be left free for the proxy", port)
                else:
                    ctx.error(path, f"clashes with {other} on {address}:{port} ({where})", port)
                return
        bucket.append((address, owner, host))

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
            key = (machine[host.name], socket)
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
    if proxy.address is not None and not valid_address(proxy.address, wildcard_ok=True):
        ctx.error("proxy.address", "must be an IP address or host name", proxy.address)
    bind_address = proxy.address if proxy.address is not None else proxy_host.address
    for listener in proxy.listeners:
        path = f"proxy.listeners[{listener.service}]"
        check_port(ctx, f"{path}.port", listener.port)
        if listener.address is not None and not valid_address(listener.address, wildcard_ok=True):
            ctx.error(f"{path}.address", "must be an IP address or host name", listener.address)
        address = listener.address if listener.address is not None else bind_address
        bind(proxy_host.name, address, listener.effective_port, f"proxy listener {listener.service}",
             f"{path}.port", True)
    if proxy.stats is not None:
        check_port(ctx, "proxy.stats.port", proxy.stats.port)
        if proxy.stats.address is not None and not valid_address(proxy.stats.address,
                                                                 wildcard_ok=True):
            ctx.error("proxy.stats.address", "must be an IP address or host name",
                      proxy.stats.address)
        bind(proxy_host.name, stats_address(proxy.stats, proxy_host), proxy.stats.port,
             "proxy stats", "proxy.stats.port", True)


def _canonical(address: str) -> str:
    """One spelling per address (``::0:1`` is ``::1``), names lowercased."""
    try:
        return str(ipaddress.ip_address(address.strip("[]")))
    except ValueError:
        return address.lower()


def rule_proxy(ctx: RuleContext) -> None:
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
    if proxy.queue_in_proxy and proxy.balance == "roundrobin":
        # Measured with Debian 12's HAProxy 2.6.12, with and without Heat: while one
        # server was drained and made ready again, requests stayed in the backend's
        # queue with every server up and idle, until timeout queue answered them 503.
        ctx.error("proxy.balance", "roundrobin together with queue_in_proxy (per-server "
                  "maxconn) strands queued requests while a server is drained, as a rolling "
                  "restart does; use leastconn, or set queue_in_proxy: false", proxy.balance)
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


def rule_loopback(ctx: RuleContext) -> None:
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
