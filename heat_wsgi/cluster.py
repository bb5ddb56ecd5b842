"""``heat-wsgi up``/``status``/``down``/``logs``: a topology running on this machine.

:func:`up` renders the topology's files with :mod:`heat_wsgi.render` into a
state directory, then starts MariaDB, RabbitMQ, ``heat-manage db_sync``, the
heat-engines, the API instances (uwsgi, and Apache where a mode needs it) and
HAProxy as private processes (:mod:`heat_wsgi.runtime`). Every pid goes into
``<state_dir>/cluster.json`` as soon as it exists, so :func:`down` and
:func:`status` work from any later invocation. Running :func:`up` again starts
only what is not running (so it also restarts a service that died).
"""

from __future__ import annotations

import dataclasses
import grp
import os
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heat_wsgi.errors import HeatWsgiError, ServiceError
from heat_wsgi.model import ApiInstance, Topology
from heat_wsgi.runtime import apache, haproxy, heat, mariadb, process, rabbitmq, uwsgi
from heat_wsgi.runtime.localize import EPMD_PORT, LocalPlan, default_topology, localize
from heat_wsgi.runtime.record import MARKER_NAME, Record, load
from heat_wsgi.runtime.service import Service, stop_all

STATE_ENV = "HEAT_WSGI_STATE"
DEFAULT_STATE_DIR = Path(".state") / "cluster"

Progress = Callable[[str], None]


def default_state_dir() -> Path:
    """``$HEAT_WSGI_STATE`` or ``./.state/cluster``."""
    return Path(os.environ.get(STATE_ENV) or DEFAULT_STATE_DIR).absolute()


def load_topology(path: Path | None, engines_per_host: int | None = None) -> Topology:
    """The topology in ``path`` (YAML), or :func:`default_topology`."""
    if path is None:
        return default_topology(engines_per_host=engines_per_host or 2)
    from heat_wsgi.loader import load_topology as load_yaml  # written alongside the model
    return load_yaml(path)


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One service ``up`` wants running: its name, ports, and how to start it."""

    name: str
    stage: int
    ports: tuple[tuple[str, int], ...]
    start: Callable[[], Service]


@dataclass(slots=True, kw_only=True)
class UpResult:
    record: Record
    plan: LocalPlan
    started: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)


# -- rendering ----------------------------------------------------------------

def render_files(plan: LocalPlan) -> dict[str, str]:
    """Render the localized topology and write every file; return path -> kind."""
    from heat_wsgi.render import render_all

    files = render_all(plan.topology)
    # NOTE: heat_wsgi.writer.write_tree lays files out as a per-host tree to
    # ship elsewhere; here every host is this machine, and each file must sit
    # at the absolute path the other files name, so each is written in place
    # (atomically, with the writer's permission rules).
    from heat_wsgi.writer import safe_mode

    # mod_wsgi runs the application as the host's user, which must read the
    # host's heat.conf; it stays closed to everybody else (group-readable).
    wsgi_groups = {}
    for instance in plan.topology.api_instances:
        host = plan.topology.host(instance.host)
        if instance.mode == "mod_wsgi" and host is not None:
            try:
                wsgi_groups[host.name] = grp.getgrnam(host.group).gr_gid
            except KeyError:
                pass
    from heat_wsgi.render.machine import DEPLOY_ONLY_KINDS
    # Deployment-wide files (Ansible) and the system servers' own files are
    # for real machines: up runs private MariaDB and RabbitMQ instead.
    files = {key: item for key, item in files.items()
             if item.host is not None and item.kind not in DEPLOY_ONLY_KINDS}
    for item in files.values():
        path = Path(item.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(item.text)
        tmp.chmod(safe_mode(item))
        if item.host in wsgi_groups:
            os.chown(tmp, -1, wsgi_groups[item.host])
        os.replace(tmp, path)
    return {item.path: item.kind for item in files.values()}


# -- the plan of services -----------------------------------------------------

def _heat_conf(plan: LocalPlan, host_name: str) -> Path:
    host = plan.topology.host(host_name)
    assert host is not None
    return Path(host.paths.config_dir) / "heat.conf"


def _instance_front(plan: LocalPlan, instance: ApiInstance) -> tuple[str, int]:
    host = plan.topology.host(instance.host)
    assert host is not None
    return (instance.address or host.address, instance.effective_port)


def plan_steps(plan: LocalPlan) -> list[Step]:
    """Every service of the localized topology, in start order (by stage)."""
    from heat_wsgi.render.apache import apache_modules
    from heat_wsgi.render.common import build_index, instance_layout

    topology, state, venv = plan.topology, plan.state_dir, plan.venv
    db, bus = plan.database, plan.message_bus
    steps = [
        Step(name="mariadb", stage=0, ports=((db.address, db.port),),
             start=lambda: mariadb.start_mariadb(state, address=db.address, port=db.port)),
        Step(name="rabbitmq", stage=0,
             ports=((bus.address, bus.port), (bus.address, EPMD_PORT)),
             start=lambda: rabbitmq.start_rabbitmq(state, address=bus.address, port=bus.port,
                                                   epmd_port=EPMD_PORT)),
    ]
    def engine_starter(conf: Path, host: str, number: int, workers: int) -> Callable[[], Service]:
        def start() -> Service:
            service = heat.start_engine(venv, conf, state, f"heat-engine-{host}-{number}",
                                        host=host, workers=workers, database_url=plan.db_url)
            where = topology.host(host)
            # Engines listen on nothing; say which "machine" they stand for.
            return dataclasses.replace(service, address=f"{where.address} ({host})"
                                       if where else host)
        return start

    def uwsgi_starter(ini: Path, name: str) -> Callable[[], Service]:
        return lambda: uwsgi.start_uwsgi(venv, ini, state, f"uwsgi-{name}")

    for group in topology.engines:
        conf = _heat_conf(plan, group.host)
        for number in range(1, group.processes + 1):
            steps.append(Step(name=f"heat-engine-{group.host}-{number}", stage=1, ports=(),
                              start=engine_starter(conf, group.host, number, group.workers)))
    index = build_index(topology)
    apache_hosts: dict[str, list[ApiInstance]] = {}
    for instance in topology.api_instances:
        host = index.hosts[instance.host]
        layout = instance_layout(topology, instance, host, index)
        if instance.uses_uwsgi:
            ports = (layout.http_socket,) if layout.http_socket else ()
            steps.append(Step(name=f"uwsgi-{instance.name}", stage=2, ports=ports,
                              start=uwsgi_starter(Path(layout.uwsgi_ini), instance.name)))
        if instance.uses_apache:
            apache_hosts.setdefault(instance.host, []).append(instance)
    for host_name, instances in apache_hosts.items():
        host = index.hosts[host_name]
        sites = [Path(instance_layout(topology, i, host, index).apache_site) for i in instances]
        modules = sorted({m for i in instances for m in apache_modules(i)})
        fronts = [_instance_front(plan, i) for i in instances]
        log_dir = host.paths.log_dir

        def start_host_apache(h: str = host_name, s: list[Path] = sites,
                              m: list[str] = modules, f: list[tuple[str, int]] = fronts) -> Service:
            root = state / "hosts" / h / "apache"
            config = apache.write_main_config(root, modules=m, includes=s)
            site_logs = [Path(log_dir) / f"{i.name}-apache-error.log"
                         for i in apache_hosts[h]]
            return apache.start_apache(config, root, state, f"apache-{h}", listen=f,
                                       health_urls=[f"http://{a}:{p}/healthcheck" for a, p in f],
                                       site_logs=site_logs)

        steps.append(Step(name=f"apache-{host_name}", stage=3, ports=tuple(fronts),
                          start=start_host_apache))
    proxy = topology.proxy
    if proxy is not None:
        from heat_wsgi.render.haproxy import render_haproxy  # noqa: F401 (rendered already)
        proxy_host = index.hosts[proxy.host]
        cfg = Path(proxy_host.paths.haproxy_config)
        address = proxy.address or proxy_host.address
        binds = [(l.address or address, l.effective_port) for l in proxy.listeners]
        if proxy.stats is not None:
            binds.append((proxy.stats.address or address, proxy.stats.port))
        steps.append(Step(name="haproxy", stage=4, ports=tuple(binds),
                          start=lambda: haproxy.start_haproxy(
                              cfg, state, "haproxy")))
    return steps


def endpoints(plan: LocalPlan) -> dict[str, str]:
    """What ``up`` prints: the proxy's URL per service, and its stats page."""
    proxy = plan.topology.proxy
    result: dict[str, str] = {}
    if proxy is None:
        return result
    host = plan.topology.host(proxy.host)
    address = proxy.address or (host.address if host else "127.0.0.1")
    # Heat's CFN routes answer on "/v1/" only; "/v1" is a 404.
    paths = {"api": "/v1/admin", "cfn": "/v1/", "cloudwatch": "/"}
    labels = {"api": "REST API", "cfn": "CFN API", "cloudwatch": "CloudWatch API"}
    for listener in proxy.listeners:
        result[labels[listener.service]] = (f"http://{listener.address or address}:"
                                            f"{listener.effective_port}{paths[listener.service]}")
    if proxy.stats is not None:
        result["HAProxy stats"] = f"http://{proxy.stats.address or address}:{proxy.stats.port}/"
    return result


# -- up -------------------------------------------------------------------------

def _preflight(plan: LocalPlan, steps: Sequence[Step]) -> None:
    """Fail before starting anything when a binary is missing or a port is taken."""
    names = {s.name for s in steps}
    needs = [("uwsgi", plan.venv / "bin" / "uwsgi", "pip install uwsgi", any(
                 n.startswith("uwsgi-") for n in names)),
             ("heat-engine", plan.venv / "bin" / "heat-engine", "pip install openstack-heat",
              any(n.startswith("heat-engine-") for n in names)),
             ("heat-manage", plan.venv / "bin" / "heat-manage", "pip install openstack-heat",
              bool(names)),
             ("mariadb", Path(shutil.which("mariadbd") or "/usr/sbin/mariadbd"),
              "apt-get install mariadb-server", "mariadb" in names),
             ("rabbitmq", Path(rabbitmq.RABBITMQ_SERVER), "apt-get install rabbitmq-server",
              "rabbitmq" in names),
             ("haproxy", Path(shutil.which("haproxy") or "/usr/sbin/haproxy"),
              "apt-get install haproxy", "haproxy" in names),
             ("apache", Path(shutil.which("apache2") or "/usr/sbin/apache2"),
              "apt-get install apache2", any(n.startswith("apache-") for n in names))]
    for service, path, hint, needed in needs:
        if needed and not os.access(path, os.X_OK):
            raise ServiceError(service, f"cannot run {path}: not found ({hint})")
    for step in steps:
        process.require_free_ports(step.name, step.ports)


def _describe(service: Service, seconds: float) -> str:
    pids = ",".join(str(p) for p in service.pids)
    return (f"  ok  {service.name:<24} {service.address or '-':<22} pid {pids:<13} "
            f"ready in {seconds:.1f}s")


def up(topology_file: Path | None = None, state_dir: Path | None = None, *,
       venv: Path | None = None, engines_per_host: int | None = None,
       topology: Topology | None = None, progress: Progress = print) -> UpResult:
    """Bring the topology up; start only what is not running already.

    :param topology: a model to run instead of ``topology_file`` (library use).

    :raises ServiceError: a service cannot start; everything this call started
        has been stopped again and the message names the service and its log.
    """
    state_dir = (state_dir or default_state_dir()).absolute()
    topo_key = (f"<model {topology.name}>" if topology is not None
                else str(topology_file.absolute()) if topology_file else None)
    record = load(state_dir)
    if record is not None and record.services and (
            record.topology != topo_key or record.engines_per_host != engines_per_host):
        if any(s.alive() for s in record.services):
            raise ServiceError("heat-wsgi", f"{state_dir} already runs topology "
                               f"{record.topology or '(default)'} (engines per host: "
                               f"{record.engines_per_host or 'as given'}); run "
                               "`heat-wsgi down` first or use another --state-dir")
    if record is None or not any(s.alive() for s in record.services):
        record = Record(state_dir=state_dir, topology=topo_key, engines_per_host=engines_per_host,
                        services=record.services if record else [])
    plan = localize(topology or load_topology(topology_file, engines_per_host), state_dir, venv)
    record.venv = str(plan.venv)
    record.endpoints = endpoints(plan)
    record.stats_socket = str(state_dir / "run" / "haproxy.sock") if plan.topology.proxy else None
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / MARKER_NAME).touch()

    steps = plan_steps(plan)
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
    todo = [s for s in steps if s.name not in result.already]
    if not todo:
        progress(f"heat-wsgi: already up in {state_dir} ({len(result.already)} services)")
        record.save()
        return result
    for name in result.already:
        progress(f"  ok  {name:<24} already running")
    _preflight(plan, todo)
    render_files(plan)
    progress(f"heat-wsgi: rendered {plan.topology.name!r} into {state_dir}")

    started: list[Service] = []
    try:
        synced = False
        for stage in sorted({s.stage for s in todo}):
            if stage >= 1 and not synced:  # the schema before any Heat process
                _db_sync(plan, progress)
                synced = True
            _start_stage([s for s in todo if s.stage == stage], record, started, progress)
    except BaseException:
        progress("heat-wsgi: start failed; stopping what this run started")
        stop_all(started)
        record.drop({s.name for s in started})
        raise
    result.started = [s.name for s in started]
    record.save()
    return result


def _db_sync(plan: LocalPlan, progress: Progress) -> None:
    heat_hosts = [g.host for g in plan.topology.engines] or [
        i.host for i in plan.topology.api_instances]
    if not heat_hosts:
        return
    began = time.monotonic()
    conf = _heat_conf(plan, heat_hosts[0])
    heat.db_sync(plan.venv, conf, log=plan.state_dir / "logs" / "db_sync.log")
    if any(i.service == "cloudwatch" for i in plan.topology.api_instances):
        heat.cloudwatch_db_sync(plan.venv, conf, log=plan.state_dir / "logs" / "db_sync.log")
    progress(f"  ok  {'heat-manage db_sync':<24} {plan.database.address}:{plan.database.port:<12}"
             f" {'':<17} done in {time.monotonic() - began:.1f}s")


def _start_stage(steps: list[Step], record: Record, started: list[Service],
                 progress: Progress) -> None:
    """Start a stage's services side by side; on any failure, raise the first error."""
    def run(step: Step) -> Service:
        began = time.monotonic()
        service = step.start()
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


def demo_stack(endpoint: str, name: str = "heat-wsgi-demo", timeout: float = 120.0) -> dict[str, object]:
    """Create (or find) a small stack through ``endpoint`` and return what it shows.

    :param endpoint: the REST API URL including ``/v1/<project>``.
    """
    from heatclient import client as heat_client  # python-heatclient, in the venv
    from heatclient import exc as heat_exc

    hc = heat_client.Client("1", endpoint=endpoint, token="noauth")
    template = {
        "heat_template_version": "2018-08-31",
        "description": "heat-wsgi demo: a random string and a test resource",
        "resources": {
            "secret": {"type": "OS::Heat::RandomString", "properties": {"length": 16}},
            "probe": {"type": "OS::Heat::TestResource",
                      "properties": {"value": {"get_attr": ["secret", "value"]}}}},
        "outputs": {"secret": {"value": {"get_attr": ["secret", "value"]}},
                    "probe": {"value": {"get_attr": ["probe", "output"]}}}}
    try:
        stack_id = hc.stacks.get(name).id
    except heat_exc.HTTPNotFound:
        stack_id = hc.stacks.create(stack_name=name, template=template)["stack"]["id"]
    deadline = time.monotonic() + timeout
    stack = hc.stacks.get(stack_id)
    while stack.stack_status.endswith("IN_PROGRESS") and time.monotonic() < deadline:
        time.sleep(0.3)
        stack = hc.stacks.get(stack_id)
    return {"name": stack.stack_name, "id": stack.id, "status": stack.stack_status,
            "reason": stack.stack_status_reason,
            "outputs": {o["output_key"]: o.get("output_value") for o in stack.outputs or []}}


def cfn_client(endpoint_url: str) -> Any:
    """A plain boto3 CloudFormation client for Heat's CFN API at ``endpoint_url`` (``.../v1/``).

    No response hooks: the CFN pipelines of heat_wsgi's ``api-paste.ini``
    (:mod:`heat_wsgi.cfn_compat`) already leave out the ``None`` timestamps
    Heat writes, so any client parses the answers.
    """
    import boto3

    return boto3.client("cloudformation", endpoint_url=endpoint_url, region_name="RegionOne",
                        aws_access_key_id="heat-wsgi", aws_secret_access_key="noauth")
