"""What ``heat-wsgi up`` will do, decided without doing any of it.

:func:`plan_services` lists every service of a localized topology
(:func:`heat_wsgi.local.localize.localize`) in start order, with the ports it
needs free, the file it runs from and how it is probed; :func:`plan_files`
says which files are written first; :func:`endpoints` what ``up`` reports.
:mod:`heat_wsgi.cluster` carries the plan out. Nothing here touches the disk,
the network or a process, so every decision has a unit test without servers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from heat_wsgi.derive import Derived
from heat_wsgi.derive.layout import heat_conf_path, instance_address, stats_address
from heat_wsgi.files import RenderedFile
from heat_wsgi.local.localize import EPMD_PORT, LocalPlan
from heat_wsgi.model import ApiInstance
from heat_wsgi.render import render_all
from heat_wsgi.render.apache import apache_modules
from heat_wsgi.render.machine import DEPLOY_ONLY_KINDS
from heat_wsgi.services import SERVICES

__all__ = ["ServiceKind", "PlannedService", "STAGES", "plan_services", "plan_files",
           "stats_socket", "db_sync_config", "needs_own_tables", "endpoints"]

ServiceKind = Literal["mariadb", "rabbitmq", "heat-engine", "uwsgi", "apache", "haproxy"]

#: Start order: every service of a stage is up before the next stage starts;
#: ``heat-manage db_sync`` runs between the shared services and the engines.
STAGES: dict[ServiceKind, int] = {
    "mariadb": 0, "rabbitmq": 0, "heat-engine": 1, "uwsgi": 2, "apache": 3, "haproxy": 4}


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedService:
    """One service ``up`` wants running.

    :ivar name: unique in the state directory (``uwsgi-api-node-2``)
    :ivar kind: which :mod:`heat_wsgi.runtime` starter runs it (and its :attr:`stage`)
    :ivar ports: ``(address, port)`` pairs that must be free before ``up`` starts anything
    :ivar config: the file it runs from (heat.conf, uwsgi ini, haproxy.cfg), if any
    :ivar host: the topology host it stands for
    :ivar probes: URLs that answer 200 once it serves (Apache's sites)
    :ivar workers: heat-engine only: its ``num_engine_workers``
    :ivar includes: Apache only: the site files its main config includes
    :ivar modules: Apache only: the modules those sites need
    :ivar site_logs: Apache only: the sites' error logs, shown when it fails
    :ivar extra_configs: HAProxy only: files read after ``config``
    """

    name: str
    kind: ServiceKind
    ports: tuple[tuple[str, int], ...] = ()
    config: str | None = None
    host: str | None = None
    probes: tuple[str, ...] = ()
    workers: int = 1
    includes: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    site_logs: tuple[str, ...] = ()
    extra_configs: tuple[str, ...] = ()

    @property
    def stage(self) -> int:
        """Its place in the start order (:data:`STAGES`)."""
        return STAGES[self.kind]


def stats_socket(plan: LocalPlan) -> Path:
    """HAProxy's admin socket, which ``heat-wsgi status`` reads (localize always sets one)."""
    proxy = plan.topology.proxy
    if proxy is not None and proxy.admin_socket is not None and proxy.admin_socket.path:
        return Path(proxy.admin_socket.path)
    return plan.state_dir / "run" / "haproxy.sock"


def plan_files(plan: LocalPlan) -> dict[PurePosixPath, RenderedFile]:
    """Every file ``up`` writes before it starts anything, each at its own absolute path.

    All "hosts" share this machine, so there is no per-host tree: only files
    that belong to a host (not the deployment-wide ones) are written.
    """
    # The system servers' own files (MariaDB, RabbitMQ, tmpfiles.d) are for
    # real machines: up runs private instances of those servers instead.
    files = {key: item for key, item in render_all(plan.topology).items()
             if item.host is not None and item.kind not in DEPLOY_ONLY_KINDS}
    return files


def plan_services(plan: LocalPlan) -> list[PlannedService]:
    """Every service of the localized topology, in start order (by stage)."""
    topology, db, bus = plan.topology, plan.database, plan.message_bus
    derived = Derived(topology)
    hosts = derived.index.hosts
    services = [
        PlannedService(name="mariadb", kind="mariadb", ports=((db.address, db.port),)),
        PlannedService(name="rabbitmq", kind="rabbitmq",
                       ports=((bus.address, bus.port), (bus.address, EPMD_PORT))),
    ]
    for group in topology.engines:
        conf = heat_conf_path(hosts[group.host])
        services += [PlannedService(name=f"heat-engine-{group.host}-{number}", kind="heat-engine",
                                    config=conf, host=group.host, workers=group.workers)
                     for number in range(1, group.processes + 1)]
    apache_hosts: dict[str, list[ApiInstance]] = {}
    for instance in topology.api_instances:
        layout = derived.layout(instance)
        if instance.uses_uwsgi:
            services.append(PlannedService(
                name=f"uwsgi-{instance.name}", kind="uwsgi", config=layout.uwsgi_ini,
                host=instance.host, ports=(layout.http_socket,) if layout.http_socket else ()))
        if instance.uses_apache:
            apache_hosts.setdefault(instance.host, []).append(instance)
    for host_name, instances in apache_hosts.items():
        host = hosts[host_name]
        fronts = tuple((instance_address(i, host), i.effective_port) for i in instances)
        log_dir = host.paths.log_dir.rstrip("/")
        services.append(PlannedService(
            name=f"apache-{host_name}", kind="apache", ports=fronts, host=host_name,
            probes=tuple(f"http://{a}:{p}/healthcheck" for a, p in fronts),
            includes=tuple(derived.layout(i).apache_site for i in instances),
            modules=tuple(sorted({m for i in instances for m in apache_modules(i)})),
            site_logs=tuple(f"{log_dir}/{i.name}-apache-error.log" for i in instances)))
    proxy = topology.proxy
    if proxy is not None:
        proxy_host = hosts[proxy.host]
        address = proxy.address or proxy_host.address
        binds = [(listener.address or address, listener.effective_port)
                 for listener in proxy.listeners]
        if proxy.stats is not None:
            binds.append((stats_address(proxy.stats, proxy_host), proxy.stats.port))
        services.append(PlannedService(
            name="haproxy", kind="haproxy", ports=tuple(binds), host=proxy.host,
            config=proxy_host.paths.haproxy_config))
    return sorted(services, key=lambda s: s.stage)


def db_sync_config(plan: LocalPlan) -> str | None:
    """The heat.conf ``heat-manage db_sync`` reads: the first Heat host's; None without one."""
    heat_hosts = [g.host for g in plan.topology.engines] or [
        i.host for i in plan.topology.api_instances]
    host = plan.topology.host(heat_hosts[0]) if heat_hosts else None
    return heat_conf_path(host) if host is not None else None


def needs_own_tables(plan: LocalPlan) -> bool:
    """Whether a service that keeps its own tables runs (``heat-wsgi cloudwatch db-sync``)."""
    return any(i.info.own_tables for i in plan.topology.api_instances)


def endpoints(plan: LocalPlan) -> dict[str, str]:
    """What ``up`` prints: the proxy's URL per service, and its stats page."""
    proxy = plan.topology.proxy
    result: dict[str, str] = {}
    if proxy is None:
        return result
    host = plan.topology.host(proxy.host)
    address = proxy.address or (host.address if host else "127.0.0.1")
    for listener in proxy.listeners:
        info = SERVICES[listener.service]
        result[info.label] = (f"http://{listener.address or address}:"
                              f"{listener.effective_port}{info.probe_path}")
    if proxy.stats is not None:
        stats_host = stats_address(proxy.stats, host) if host else "127.0.0.1"
        result["HAProxy stats"] = f"http://{stats_host}:{proxy.stats.port}{proxy.stats.uri}"
    return result
