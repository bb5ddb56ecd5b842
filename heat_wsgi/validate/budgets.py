"""Rules on budgets: timeouts and sizes that must fit each other, and database connections.

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
  processes) counts once (the services whose ``uses_database`` is set in
  :data:`heat_wsgi.services.SERVICES`).

The sum is compared with ``database.max_connections`` when the topology
gives it.
"""

from __future__ import annotations

from heat_wsgi.derive.ini import Key
from heat_wsgi.model import Host
from heat_wsgi.services import SERVICES
from heat_wsgi.validate.context import RuleContext, duration_seconds

__all__ = ["rule_limits", "LIMITS", "rule_timeouts_and_sizes", "rule_db_budget", "OSLO_DB_POOL_SIZE",
           "OSLO_DB_MAX_OVERFLOW", "RPC_RESPONSE_TIMEOUT", "MAX_JSON_BODY_SIZE", "MAX_TEMPLATE_SIZE"]

#: oslo.db's default max_pool_size and max_overflow.
OSLO_DB_POOL_SIZE = 5
OSLO_DB_MAX_OVERFLOW = 50
#: Heat's defaults for the options these rules compare.
RPC_RESPONSE_TIMEOUT = 60
MAX_JSON_BODY_SIZE = 1048576
MAX_TEMPLATE_SIZE = 524288

#: Upper bounds of counts: each one renders that many units, processes or
#: pool slots, so a typo such as 10**12 must not reach the renderer.
LIMITS: dict[str, int] = {
    "processes": 1024,        # uwsgi/mod_wsgi processes of an instance, heat-engine units of a host
    "threads": 1024,          # threads per API process
    "workers": 1024,          # num_engine_workers
    "max_connections": 1_000_000,
    "pool_size": 100_000,
    "max_overflow": 100_000,
    "dead_client_within": 86_400,   # seconds, not a count: beyond a day it means nothing
    "fall": 1000, "rise": 1000, "retries": 1000,
    "maxconn": 10_000_000,
}


def _over(ctx: RuleContext, path: str, name: str, value: int | None) -> None:
    limit = LIMITS[name]
    if value is not None and value > limit:
        ctx.error(path, f"must be at most {limit}", value)


def rule_limits(ctx: RuleContext) -> None:
    """Every count stays within :data:`LIMITS`, so rendering and validation stay bounded."""
    t = ctx.topology
    for inst in t.api_instances:
        _over(ctx, f"api_instances[{inst.name}].processes", "processes", inst.processes)
        _over(ctx, f"api_instances[{inst.name}].threads", "threads", inst.threads)
    for group in t.engines:
        _over(ctx, f"engines[{group.host}].processes", "processes", group.processes)
        _over(ctx, f"engines[{group.host}].workers", "workers", group.workers)
    if t.database is not None:
        for name in ("max_connections", "pool_size", "max_overflow", "dead_client_within"):
            _over(ctx, f"database.{name}", name, getattr(t.database, name))
    proxy = t.proxy
    if proxy is not None:
        _over(ctx, "proxy.maxconn", "maxconn", proxy.maxconn)
        _over(ctx, "proxy.retries", "retries", proxy.retries)
        check = proxy.health_check
        if check is not None:
            _over(ctx, "proxy.health_check.fall", "fall", check.fall)
            _over(ctx, "proxy.health_check.rise", "rise", check.rise)


def _int_setting(ctx: RuleContext, host: Host, key: Key, default: int,
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


def _api_hosts(ctx: RuleContext) -> list[Host]:
    return [ctx.index.hosts[name] for name in ctx.index.instances_by_host
            if name in ctx.index.hosts]


def rule_timeouts_and_sizes(ctx: RuleContext) -> None:
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


def rule_db_budget(ctx: RuleContext) -> None:
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
