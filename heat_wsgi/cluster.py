"""``heat-wsgi up``/``status``/``down``/``logs``: carry out a local plan, and report on it.

:func:`up` localizes the topology (:mod:`heat_wsgi.local.localize`), asks the
pure plan (:mod:`heat_wsgi.local.plan`) which files to write and which
services to start in which order, writes the files through
:func:`heat_wsgi.writer.write_in_place`, runs ``heat-manage db_sync``, and
starts each service as a private process (:mod:`heat_wsgi.runtime`). Every
pid goes into ``<state_dir>/cluster.json`` as soon as it exists, so
:func:`down` and :func:`status` work from any later invocation. Running
:func:`up` again starts only what is not running (so it also restarts a
service that died).
"""

from __future__ import annotations

import dataclasses
import grp
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from heat_wsgi.errors import HeatWsgiError, ServiceError
from heat_wsgi.loader import load_topology as load_yaml
from heat_wsgi.local.localize import (
    EPMD_PORT, FALLBACK_BASE, REPO_HEAT_CONF, LocalPlan, default_topology, localize,
)
from heat_wsgi.local.plan import (
    DB_SYNC_STAGE, PlannedService, db_sync_config, endpoints, keystone_catalog, needs_own_tables,
    plan_files, plan_services, stats_socket,
)
from heat_wsgi.model import Topology
from heat_wsgi.runtime import apache, haproxy, heat, keystone, mariadb, process, rabbitmq, uwsgi
from heat_wsgi.runtime.record import MARKER_NAME, Record, load
from heat_wsgi.runtime.service import Service, stop_all
from heat_wsgi.writer import write_in_place

STATE_ENV = "HEAT_WSGI_STATE"
DEFAULT_STATE_DIR = Path(".state") / "cluster"

Progress = Callable[[str], None]


def default_state_dir() -> Path:
    """``$HEAT_WSGI_STATE`` or ``./.state/cluster``."""
    return Path(os.environ.get(STATE_ENV) or DEFAULT_STATE_DIR).absolute()


def base_heat_conf() -> str:
    """The checkout's keystone-less ``etc/heat/heat.conf``, else a minimal one (installed package)."""
    return REPO_HEAT_CONF.read_text() if REPO_HEAT_CONF.is_file() else FALLBACK_BASE


def load_topology(path: Path | None, engines_per_host: int | None = None) -> Topology:
    """The topology in ``path`` (YAML), or :func:`~heat_wsgi.local.localize.default_topology`."""
    if path is None:
        return default_topology(engines_per_host=engines_per_host or 2,
                                base_config=base_heat_conf())
    return load_yaml(path)


@dataclass(slots=True, kw_only=True)
class UpResult:
    record: Record
    plan: LocalPlan
    started: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)


# -- carrying out the plan ----------------------------------------------------

def _start(plan: LocalPlan, planned: PlannedService) -> Service:
    """Start one planned service with its :mod:`heat_wsgi.runtime` starter."""
    state, venv, name = plan.state_dir, plan.venv, planned.name
    if planned.kind == "mariadb":
        db = plan.database
        return mariadb.start_mariadb(state, address=db.address, port=db.port)
    if planned.kind == "rabbitmq":
        bus = plan.message_bus
        return rabbitmq.start_rabbitmq(state, address=bus.address, port=bus.port,
                                       epmd_port=EPMD_PORT)
    if planned.kind == "keystone":
        return _start_keystone(plan, planned)
    if planned.kind == "heat-engine":
        service = heat.start_engine(venv, _config(planned), state, name,
                                    host=planned.host, workers=planned.workers,
                                    database_url=plan.db_url, launcher=True)
        where = plan.topology.host(planned.host or "")
        # Engines listen on nothing; say which "machine" they stand for.
        return dataclasses.replace(service, address=f"{where.address} ({planned.host})"
                                   if where else str(planned.host))
    if planned.kind == "uwsgi":
        return uwsgi.start_uwsgi(venv, _config(planned), state, name)
    if planned.kind == "apache":
        root = state / "hosts" / str(planned.host) / "apache"
        config = apache.write_main_config(root, modules=list(planned.modules),
                                          includes=[Path(p) for p in planned.includes])
        return apache.start_apache(config, root, state, name, listen=list(planned.ports),
                                   health_urls=list(planned.probes),
                                   site_logs=[Path(p) for p in planned.site_logs])
    return haproxy.start_haproxy(_config(planned), state, name,
                                 extra_cfgs=[Path(p) for p in planned.extra_configs])


def _start_keystone(plan: LocalPlan, planned: PlannedService) -> Service:
    """Keystone with its database in our MariaDB, and the identities Heat is deployed with."""
    accounts = plan.keystone
    if accounts is None:
        raise ServiceError(planned.name, "the plan runs Keystone but sets no accounts")
    db = plan.database
    url = keystone.create_database(mariadb.socket_path(plan.state_dir), f"{db.address}:{db.port}",
                                   service=planned.name,
                                   log=str(plan.state_dir / "logs" / "mariadb.log"))
    service = keystone.start_keystone(plan.venv, plan.state_dir, database_url=url,
                                      address=accounts.address, port=accounts.port,
                                      admin_password=accounts.admin_password, name=planned.name)
    try:
        keystone.ensure_identities(
            accounts.url, admin_password=accounts.admin_password,
            service_user=(accounts.heat_user, accounts.heat_password, accounts.service_project),
            demo_user=(accounts.demo_user, accounts.demo_password, accounts.demo_project),
            stack_domain=(accounts.stack_domain, accounts.domain_admin,
                          accounts.domain_admin_password),
            catalog=keystone_catalog(plan), region=accounts.region)
    except Exception as exc:
        service.stop()
        raise ServiceError(planned.name, f"cannot make Heat's identities in Keystone: {exc}",
                           service.log) from exc
    return service


def _config(planned: PlannedService) -> Path:
    if planned.config is None:
        raise ServiceError(planned.name, f"the plan gives a {planned.kind} no config file")
    return Path(planned.config)


def _write_files(plan: LocalPlan) -> None:
    # mod_wsgi runs the application as the host's user, which must read the
    # host's heat.conf; it stays closed to everybody else (group-readable).
    group_ids = {}
    for instance in plan.topology.api_instances:
        host = plan.topology.host(instance.host)
        if instance.mode == "mod_wsgi" and host is not None:
            try:
                group_ids[host.name] = grp.getgrnam(host.group).gr_gid
            except KeyError:
                pass
    write_in_place(plan_files(plan), group_ids=group_ids)


def _preflight(plan: LocalPlan, services: Sequence[PlannedService]) -> None:
    """Fail before starting anything when a binary is missing or a port is taken."""
    kinds = {s.kind for s in services}
    needs = [("uwsgi", plan.venv / "bin" / "uwsgi", "pip install uwsgi", "uwsgi" in kinds),
             ("heat-engine", plan.venv / "bin" / "heat-engine", "pip install openstack-heat",
              "heat-engine" in kinds),
             ("heat-manage", plan.venv / "bin" / "heat-manage", "pip install openstack-heat",
              bool(kinds)),
             ("mariadb", Path(shutil.which("mariadbd") or "/usr/sbin/mariadbd"),
              "apt-get install mariadb-server", "mariadb" in kinds),
             ("rabbitmq", Path(rabbitmq.RABBITMQ_SERVER), "apt-get install rabbitmq-server",
              "rabbitmq" in kinds),
             ("keystone", plan.venv / "bin" / "keystone-manage", "pip install keystone",
              "keystone" in kinds),
             ("haproxy", Path(shutil.which("haproxy") or "/usr/sbin/haproxy"),
              "apt-get install haproxy", "haproxy" in kinds),
             ("apache", Path(shutil.which("apache2") or "/usr/sbin/apache2"),
              "apt-get install apache2", "apache" in kinds)]
    for service, path, hint, needed in needs:
        if needed and not os.access(path, os.X_OK):
            raise ServiceError(service, f"cannot run {path}: not found ({hint})")
    for planned in services:
        process.require_free_ports(planned.name, planned.ports)


def _describe(service: Service, seconds: float) -> str:
    pids = ",".join(str(p) for p in service.pids)
    return (f"  ok  {service.name:<24} {service.address or '-':<22} pid {pids:<13} "
            f"ready in {seconds:.1f}s")


def up(topology_file: Path | None = None, state_dir: Path | None = None, *,
       venv: Path | None = None, engines_per_host: int | None = None,
       topology: Topology | None = None, keystone: bool = False,
       progress: Progress = print) -> UpResult:
    """Bring the topology up; start only what is not running already.

    :param topology: a model to run instead of ``topology_file`` (library use).
    :param keystone: with a real Keystone (:mod:`heat_wsgi.local.keystone`).

    :raises ServiceError: a service cannot start; everything this call started
        has been stopped again and the message names the service and its log.
    """
    state_dir = (state_dir or default_state_dir()).absolute()
    topo_key = (f"<model {topology.name}>" if topology is not None
                else str(topology_file.absolute()) if topology_file else None)
    record = load(state_dir)
    if record is not None and record.services and (
            record.topology != topo_key or record.engines_per_host != engines_per_host
            or record.keystone != keystone):
        if any(s.alive() for s in record.services):
            raise ServiceError("heat-wsgi", f"{state_dir} already runs topology "
                               f"{record.topology or '(default)'} (engines per host: "
                               f"{record.engines_per_host or 'as given'}, Keystone: "
                               f"{'yes' if record.keystone else 'no'}); run "
                               "`heat-wsgi down` first or use another --state-dir")
    if record is None or not any(s.alive() for s in record.services):
        record = Record(state_dir=state_dir, topology=topo_key, engines_per_host=engines_per_host,
                        keystone=keystone, services=record.services if record else [])
    plan = localize(topology or load_topology(topology_file, engines_per_host), state_dir,
                    venv or Path(sys.prefix), keystone=keystone)
    record.venv = str(plan.venv)
    record.endpoints = endpoints(plan)
    record.stats_socket = str(stats_socket(plan)) if plan.topology.proxy else None
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / MARKER_NAME).touch()

    steps = plan_services(plan)
    result = UpResult(record=record, plan=plan)
    leftovers = []
    for service in record.services:
        if service.alive():
            result.already.append(service.name)
        else:
            leftovers.append(service)
    for service in leftovers:  # e.g. epmd still up while beam died: stop the remains
        service.stop()
    record.drop({s.name for s in leftovers})
    _stop_unrecorded(state_dir, record, progress)
    todo = [s for s in steps if s.name not in result.already]
    if not todo:
        progress(f"heat-wsgi: already up in {state_dir} ({len(result.already)} services)")
        record.save()
        return result
    for name in result.already:
        progress(f"  ok  {name:<24} already running")
    _preflight(plan, todo)
    _write_files(plan)
    progress(f"heat-wsgi: rendered {plan.topology.name!r} into {state_dir}")

    started: list[Service] = []
    try:
        synced = False
        for stage in sorted({s.stage for s in todo}):
            if stage >= DB_SYNC_STAGE and not synced:  # the schema before any Heat process
                _db_sync(plan, progress)
                synced = True
            _start_stage(plan, [s for s in todo if s.stage == stage], record, started, progress)
    except BaseException:
        progress("heat-wsgi: start failed; stopping what this run started")
        stop_all(started)
        record.drop({s.name for s in started})
        raise
    result.started = [s.name for s in started]
    record.save()
    return result


def _db_sync(plan: LocalPlan, progress: Progress) -> None:
    config = db_sync_config(plan)
    if config is None:
        return
    began = time.monotonic()
    conf = Path(config)
    heat.db_sync(plan.venv, conf, log=plan.state_dir / "logs" / "db_sync.log")
    if needs_own_tables(plan):
        heat.cloudwatch_db_sync(plan.venv, conf, log=plan.state_dir / "logs" / "db_sync.log")
    progress(f"  ok  {'heat-manage db_sync':<24} {plan.database.address}:{plan.database.port:<12}"
             f" {'':<17} done in {time.monotonic() - began:.1f}s")


def _start_stage(plan: LocalPlan, steps: list[PlannedService], record: Record,
                 started: list[Service], progress: Progress) -> None:
    """Start a stage's services side by side; on any failure, raise the first error."""
    def run(step: PlannedService) -> Service:
        began = time.monotonic()
        service = _start(plan, step)
        started.append(service)
        record.add(service)
        progress(_describe(service, time.monotonic() - began))
        return service

    if len(steps) == 1:
        run(steps[0])
        return
    with ThreadPoolExecutor(max_workers=min(4, len(steps))) as pool:
        futures = [pool.submit(run, step) for step in steps]
        errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        first = errors[0]
        assert first is not None
        raise first


def recorded_plan(record: Record) -> LocalPlan:
    """The local plan a record's ``up`` ran, worked out again (``restart`` needs it)."""
    if record.topology is not None and record.topology.startswith("<model"):
        raise ServiceError("heat-wsgi", f"{record.state_dir} runs topology "
                           f"{record.topology}, given as a model: only its caller can restart it")
    path = Path(record.topology) if record.topology else None
    return localize(load_topology(path, record.engines_per_host), record.state_dir,
                    Path(record.venv) if record.venv else Path(sys.prefix),
                    keystone=record.keystone)


def start_planned(plan: LocalPlan, planned: PlannedService, record: Record) -> Service:
    """Start one service of the plan again (``restart``), recorded the moment it runs."""
    service = _start(plan, planned)
    record.add(service)
    return service


# -- status, down, logs -------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceStatus:
    service: Service
    healthy: bool
    detail: str


def status(state_dir: Path | None = None) -> tuple[Record | None, list[ServiceStatus]]:
    """Probe every recorded service."""
    record = load((state_dir or default_state_dir()).absolute())
    if record is None:
        return None, []
    rows = []
    for service in record.services:
        ok, detail = service.healthy()
        rows.append(ServiceStatus(service=service, healthy=ok, detail=detail))
    return record, rows


def proxy_servers(record: Record) -> list[haproxy.ServerStat]:
    """HAProxy's view of every API instance (empty when it is not running)."""
    if not record.stats_socket or not Path(record.stats_socket).exists():
        return []
    try:
        return haproxy.show_stat(record.stats_socket)
    except ServiceError:
        return []


#: A never-recorded service was still starting: it has nothing to drain.
STRAY_STOP_TIMEOUT = 15.0


def _stop_unrecorded(state_dir: Path, record: Record | None, progress: Progress) -> None:
    """Stop what a killed ``up``/``restart`` spawned and never recorded: a starter
    records a service once it is ready, so only its pidfile names one still starting."""
    recorded = {pid for s in record.services for pid in s.pids} if record else set()
    for proc in process.unrecorded_spawns(state_dir / "run", recorded):
        process.stop_proc(proc, STRAY_STOP_TIMEOUT)
        progress(f"  stopped {proc.name:<24} pid {proc.pid} (started, never recorded)")


def down(state_dir: Path | None = None, *, purge: bool = False,
         progress: Progress = print) -> list[Service]:
    """Stop every recorded service by pid, newest first; ``purge`` deletes the state dir."""
    state_dir = (state_dir or default_state_dir()).absolute()
    record = load(state_dir)
    stopped: list[Service] = []
    if record is not None:
        alive = {s.name for s in record.services if s.alive()}

        def report(service: Service) -> None:
            stopped.append(service)
            if service.name in alive:
                progress(f"  stopped {service.name:<24} pid "
                         + ",".join(str(p) for p in service.pids))

        stop_all(record.services, on_stop=report)
    _stop_unrecorded(state_dir, record, progress)
    if record is not None:
        record.services = []
        record.save()
    if purge and state_dir.exists():
        if not (state_dir / MARKER_NAME).exists():
            raise HeatWsgiError(f"{state_dir}: not a heat-wsgi state dir (no {MARKER_NAME}); "
                                "refusing to delete it")
        shutil.rmtree(state_dir)
        progress(f"  purged {state_dir}")
    return stopped


def log_files(state_dir: Path | None = None) -> dict[str, list[Path]]:
    """Service name -> its log files (main log first), from the record and logs/."""
    state_dir = (state_dir or default_state_dir()).absolute()
    record = load(state_dir)
    result: dict[str, list[Path]] = {}
    for service in record.services if record else []:
        paths = [Path(service.log)] + [Path(p.log) for p in service.procs]
        result[service.name] = list(dict.fromkeys(p for p in paths if p.exists()))
    logs_dir = state_dir / "logs"
    known = {p for paths in result.values() for p in paths}
    for path in sorted(logs_dir.glob("*.log")) if logs_dir.is_dir() else []:
        if path not in known:
            result.setdefault(path.stem, []).append(path)
    return result
