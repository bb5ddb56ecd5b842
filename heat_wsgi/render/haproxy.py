"""haproxy.cfg for the proxy host: one listener per API service."""

from __future__ import annotations

from heat_wsgi.derive import Index, build_index
from heat_wsgi.derive.addresses import is_wildcard
from heat_wsgi.derive.layout import instance_address, stats_address
from heat_wsgi.model import ApiInstance, HealthCheck, Host, ProxyConfig, ProxyLog, Topology
from heat_wsgi.quoting import haproxy_word as w
from heat_wsgi.render.common import header
from heat_wsgi.services import SERVICE_NAMES, SERVICES, ServiceName
from heat_wsgi.errors import RenderError

__all__ = ["render_haproxy", "LISTENER_NAMES", "admin_socket_path", "server_check"]

#: Listener names (the first two are the scaling guide's), from the services table.
LISTENER_NAMES: dict[ServiceName, str] = {name: info.proxy_section for name, info in SERVICES.items()}


def _addr(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address and not address.startswith("[") else address
    return w(f"{host}:{port}")


def admin_socket_path(proxy: ProxyConfig, proxy_host: Host) -> str | None:
    """Where the admin socket is: its own path, else ``<run_dir>/haproxy.sock``."""
    if proxy.admin_socket is None:
        return None
    return proxy.admin_socket.path or f"{proxy_host.paths.run_dir.rstrip('/')}/haproxy.sock"


def _log_lines(log: ProxyLog) -> list[str]:
    if log.target in ("stdout", "stderr"):
        return [f"    log {log.target} format raw {w(log.facility)}"]
    return [f"    log {w(log.target)} {w(log.facility)}"]


def server_check(hc: HealthCheck) -> str:
    """The ``check ...`` words of every server line ('' without server checks)."""
    if not hc.server_check:
        return ""
    words = [f" check inter {w(hc.inter)}"]
    if hc.fastinter is not None:
        words.append(f" fastinter {w(hc.fastinter)}")
    if hc.downinter is not None:
        words.append(f" downinter {w(hc.downinter)}")
    words.append(f" fall {hc.fall} rise {hc.rise}")
    return "".join(words)


def render_haproxy(topology: Topology, index: Index | None = None) -> str:
    """The whole haproxy.cfg; raises RenderError when there is no proxy."""
    proxy = topology.proxy
    if proxy is None:
        raise RenderError("haproxy.cfg", "the topology has no proxy")
    if index is None:
        index = build_index(topology)
    proxy_host = index.hosts.get(proxy.host)
    if proxy_host is None:
        raise RenderError("haproxy.cfg", f"proxy host {proxy.host!r} is not defined")
    bind_address = proxy.address if proxy.address is not None else proxy_host.address
    t = proxy.timeouts
    hc = proxy.health_check
    lines = header("#", topology, "HAProxy in front of the Heat API instances")
    lines += [
        "global",
        f"    maxconn {proxy.maxconn}",
    ]
    if proxy.log is not None:
        lines += _log_lines(proxy.log)
    socket = admin_socket_path(proxy, proxy_host)
    if proxy.admin_socket is not None and socket is not None:
        group = proxy.admin_socket.group
        owner = f" group {w(group)}" if group is not None and proxy.admin_socket.mode == "0660" else ""
        # mode is octal without the leading zero, as HAProxy writes it.
        lines.append(f"    stats socket {w(socket)} mode {proxy.admin_socket.mode[1:]}"
                     f"{owner} level admin")
    lines += [
        "",
        "defaults",
        "    mode http",
        f"    maxconn {proxy.maxconn}",
    ]
    if proxy.log is not None:
        lines += ["    log global", "    option httplog"]
        if proxy.log.health_checks:
            lines.append("    option log-health-checks")
    if proxy.redispatch:
        lines.append("    option redispatch")
    lines += [
        f"    retries {proxy.retries}",
    ]
    if proxy.retry_on:
        lines.append("    retry-on " + " ".join(w(word) for word in proxy.retry_on.split()))
    lines += [
        f"    timeout http-request {w(t.http_request)}",
        f"    timeout queue {w(t.queue)}",
        f"    timeout connect {w(t.connect)}",
        f"    timeout client {w(t.client)}",
        f"    timeout server {w(t.server)}",
        f"    timeout check {w(t.check)}",
    ]
    by_service: dict[str, list[tuple[ApiInstance, str]]] = {s: [] for s in SERVICE_NAMES}
    for instance in topology.api_instances:
        host = index.hosts.get(instance.host)
        if host is None:
            continue
        address = instance_address(instance, host)
        if is_wildcard(address):
            address = host.address
        by_service[instance.service].append((instance, address))
    ssl = f" ssl crt {w(proxy.tls.certificate)}" if proxy.tls else ""
    scheme = "https" if proxy.tls else "http"
    for listener in sorted(proxy.listeners, key=lambda l: SERVICE_NAMES.index(l.service)):
        address = listener.address if listener.address is not None else bind_address
        lines += [
            "",
            f"listen {LISTENER_NAMES[listener.service]}",
            f"    bind {_addr(address, listener.effective_port)}{ssl}",
            f"    balance {proxy.balance}",
            "    option forwardfor",
            f"    http-request set-header X-Forwarded-Proto {scheme}",
        ]
        if hc.enabled:
            lines += [
                "    option httpchk",
                f"    http-check send meth GET uri {w(hc.uri)}",
                "    http-check expect status 200",
            ]
        check = server_check(hc)
        for instance, server_address in by_service[listener.service]:
            # The calls it runs at once; HAProxy queues the rest (queue_in_proxy).
            limit = (f" maxconn {instance.processes * instance.threads}"
                     if proxy.queue_in_proxy else "")
            lines.append(f"    server {w(instance.name)} "
                         f"{_addr(server_address, instance.effective_port)}{check}{limit}")
    if proxy.stats is not None:
        stats = proxy.stats
        lines += [
            "",
            "listen stats",
            f"    bind {_addr(stats_address(stats, proxy_host), stats.port)}",
            "    stats enable",
            f"    stats uri {w(stats.uri)}",
            "    stats refresh 10s",
            "    stats hide-version",
        ]
        if stats.credentials is not None:
            # Validation requires these whenever the page binds beyond loopback.
            lines += [f"    stats realm {w('HAProxy statistics')}",
                      f"    stats auth {w(stats.credentials)}"]
    return "\n".join(lines) + "\n"
