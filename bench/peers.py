"""heat_wsgi's API tier against kolla-ansible's, openstack-ansible's and openstack-helm's, on real Heat work.

Run: .venv/bin/python bench/peers.py [--quick] [--json] [--rounds N] [--variants 2x4,4x1]

One MariaDB, one RabbitMQ and one heat-engine (``num_engine_workers``
workers) on 127.0.0.60, started through heat_wsgi.runtime and stopped by
pid. In front of them, one uwsgi API tier per deployment tool, each on its
own address (127.0.0.61-69, port 18460), all serving the same heat.conf
(the shipped keystone-less one, noauth), built the way each tool builds it
(``peer_tiers.py``: heat_wsgi's rendered ini; kolla-ansible's, openstack-
ansible's and openstack-helm's settings copied as facts, with their source
files cited). Each peer's rule for the number of processes is evaluated at
the cores this process may use, and every tier runs on those cores.

1. Throughput, all tiers up, taking turns, ``--rounds`` times, each call
   kind run against every tier before the next kind, the order rotating:
   ``GET /v1/admin/stacks`` with ``stacks`` stacks present and ``GET`` of
   one stack (ApacheBench, one C process, fixed concurrency, every
   request's latency kept), then RandomString stack creates to completion
   (client threads at the same concurrency, POST to CREATE_COMPLETE read
   back; then deleted, untimed: noauth makes every caller an admin, whose
   list shows every project's stacks). The tier's CPU (master + children) over each burst gives the CPU
   per request; its total PSS is read after the last round.
2. Cold start, one tier at a time, ``--starts`` times, rotating: spawn of
   the uwsgi master to the first 200 on the stack list, then the PSS once
   every worker has its app and has answered.

The machine is shared, so figures are ratios to the best peer, measured
side by side in one run; rates are medians of the per-round ratios. This is
a benchmark, not a test: the targets are printed as PASS/MISS.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from heat_wsgi.errors import ServiceError  # noqa: E402
from heat_wsgi.runtime import heat, mariadb, process, rabbitmq  # noqa: E402
from heat_wsgi.runtime.process import Proc  # noqa: E402
from heat_wsgi.runtime.service import Service, stop_all  # noqa: E402

import heat_load  # noqa: E402  (bench/, next to this file)
import measure  # noqa: E402
import peer_report  # noqa: E402
from measure import BenchError, terminate_as_interrupt, tree_cpu_s, wait_first_200  # noqa: E402
from peer_report import KINDS, Burst, Results, Start  # noqa: E402
from peer_tiers import Tier, Where, heat_wsgi_tier, peer_tiers, ports  # noqa: E402

VENV = Path(sys.prefix)
UWSGI = VENV / "bin" / "uwsgi"
BACKEND = "127.0.0.60"
DB_PORT, MQ_PORT, EPMD_PORT = 3360, 5660, 4360
TIER_ADDRESSES = tuple(f"127.0.0.{n}" for n in range(61, 70))
ENGINE_HOST = "bench-peers-engine"
CONCURRENCY = 8
ADMIN = "admin"          # the project the listed stacks live in
Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Settings:
    stacks: int              # present while the list is measured
    rounds: int              # throughput rounds, tiers taking turns
    burst_seconds: int       # per ab burst (whole seconds)
    creates_per_client: int  # per create burst and client thread
    starts: int              # cold starts per tier
    engine_workers: int
    concurrency: int = CONCURRENCY
    api_cores: int = 0       # cores of the tiers' own; 0: all cores shared
    kinds: tuple[str, ...] = KINDS


QUICK = Settings(stacks=10, rounds=1, burst_seconds=1, creates_per_client=1, starts=1,
                 engine_workers=2)
FULL = Settings(stacks=50, rounds=4, burst_seconds=4, creates_per_client=2, starts=3,
                engine_workers=2)


# -- the back end ---------------------------------------------------------------

def heat_config(state: Path, transport_url: str, database_url: str, engine_workers: int) -> Path:
    """The shipped keystone-less heat.conf with this run's URLs, next to the
    api-paste.ini both Heat's and heat_wsgi's entrypoints then load."""
    text = (REPO / "etc" / "heat" / "heat.conf").read_text()
    replacements = {
        r"(?m)^host = .*$": f"host = {ENGINE_HOST}",
        r"(?m)^transport_url = .*$": f"transport_url = {transport_url}",
        r"(?m)^connection = sqlite.*$": f"connection = {database_url}",
        r"(?m)^num_engine_workers = .*$": f"num_engine_workers = {engine_workers}",
    }
    for pattern, value in replacements.items():
        text, count = re.subn(pattern, value, text)
        if count != 1:
            raise BenchError(f"etc/heat/heat.conf no longer has a line matching {pattern}")
    etc = state / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "heat_wsgi" / "data" / "api-paste.ini", etc / "api-paste.ini")
    conf = etc / "heat.conf"
    conf.write_text(text)
    return conf


@contextmanager
def backend(state: Path, settings: Settings, log: Log) -> Iterator[Path]:
    """MariaDB, RabbitMQ, the schema and one heat-engine; yields heat.conf."""
    services: list[Service] = []
    try:
        log("back end: MariaDB, RabbitMQ, db_sync, heat-engine ...")
        db = mariadb.start_mariadb(state, address=BACKEND, port=DB_PORT)
        services.append(db)
        services.append(rabbitmq.start_rabbitmq(state, address=BACKEND, port=MQ_PORT,
                                                epmd_port=EPMD_PORT))
        conf = heat_config(state, services[-1].transport_url, db.url, settings.engine_workers)
        heat.db_sync(VENV, conf)
        services.append(heat.start_engine(VENV, conf, state, "heat-engine", host=ENGINE_HOST,
                                          workers=settings.engine_workers,
                                          database_url=db.url))
        yield conf
    finally:
        stop_all(list(reversed(services)))


# -- one tier -------------------------------------------------------------------

_running: dict[int, Proc] = {}


def spawn(tier: Tier, where: Where) -> Proc:
    ini = where.state / f"tier-{tier.key}.ini"
    ini.write_text(tier.ini_text())
    process.require_free_ports(tier.key, ports(tier))
    # This checkout's heat_wsgi, whatever the venv's editable install points at.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    argv = [str(UWSGI), "--ini", str(ini)]
    if where.api_cpus:   # taskset execs uwsgi: the recorded pid is the master's
        argv = ["taskset", "-c", ",".join(map(str, where.api_cpus)), *argv]
    proc = process.spawn(f"tier-{tier.key}", argv,
                         state_dir=where.state, log=Path(where.log(tier.key)), env=env)
    _running[proc.pid] = proc
    return proc


def stop(proc: Proc) -> None:
    process.stop_proc(proc)
    _running.pop(proc.pid, None)


def list_url(tier: Tier) -> str:
    return f"{tier.base_url}/v1/{ADMIN}/stacks"


_APP_READY = re.compile(rb"^WSGI app 0 \(mountpoint='[^']*'\) ready in ", re.M)


def wait_apps_ready(tier: Tier, proc: Proc, offset: int) -> None:
    """Until every process that loads the app has logged it ready: each
    worker under lazy-apps, the master otherwise."""
    wanted = tier.processes if ("lazy-apps", "true") in tier.lines else 1
    deadline = time.monotonic() + measure.START_TIMEOUT
    while True:
        with open(proc.log, "rb") as handle:
            handle.seek(offset)
            if len(_APP_READY.findall(handle.read())) >= wanted:
                return
        if not process.is_alive(proc.pid) or time.monotonic() > deadline:
            raise BenchError(f"{tier.key}: {wanted} app(s) not ready"
                             + process.log_tail(proc.log))
        time.sleep(0.1)


def warm_up_calls(tier: Tier) -> int:
    # ab refuses fewer requests than its concurrency.
    return max(4 * tier.children, CONCURRENCY)


def warm_up(tier: Tier, show: str) -> None:
    for url in (list_url(tier), show):
        run = measure.ab(url, requests=warm_up_calls(tier), concurrency=CONCURRENCY,
                         socket_timeout=60, non_2xx_fail=True)
        if run.failed:
            raise BenchError(f"{tier.key}: {run.failed} of the warm-up requests to {url} failed")


# -- the workload -----------------------------------------------------------------

def ab_burst(tier: Tier, proc: Proc, kind: str, url: str, number: int,
             settings: Settings, scratch: Path) -> Burst:
    cpu = tree_cpu_s(proc.pid)
    run = measure.ab(url, seconds=settings.burst_seconds, concurrency=settings.concurrency,
                     socket_timeout=60, latencies=scratch / "ab.tsv", non_2xx_fail=True)
    if run.completed == 0:
        raise BenchError(f"{tier.key}: no {kind} request completed")
    return Burst(tier.key, kind, number, run.rps, run.completed, run.failed,
                 tree_cpu_s(proc.pid) - cpu, run.completed + run.failed,
                 tuple(float(t) for t in run.latencies_ms))


def create_burst(tier: Tier, proc: Proc, number: int, settings: Settings) -> Burst:
    project = "bench-creates"
    names = [f"c{number}-{tier.key}-{i}"
             for i in range(settings.concurrency * settings.creates_per_client)]
    cpu = tree_cpu_s(proc.pid)
    started = time.monotonic()
    created = heat_load.create_many(tier.base_url, project, names, settings.concurrency)
    elapsed = time.monotonic() - started
    cpu = tree_cpu_s(proc.pid) - cpu
    # noauth callers are admins, and an admin's stack list shows every
    # project's stacks: without this the list would grow round after round.
    errors = heat_load.delete_many(tier.base_url, project, created, settings.concurrency)
    if errors:
        raise BenchError(f"{tier.key}: {len(errors)} created stacks not deleted: {errors[0]}")
    ok = [c for c in created if c.ok]
    return Burst(tier.key, "create", number, len(ok) / elapsed, len(ok), len(created) - len(ok),
                 cpu, sum(c.calls for c in created), tuple(c.seconds * 1000 for c in ok))


def seed_stacks(tier: Tier, count: int, concurrency: int, log: Log) -> str:
    """Create the listed stacks; return the URL of one of them to show."""
    log(f"creating {count} stacks through {tier.label} ...")
    created = heat_load.create_many(tier.base_url, ADMIN,
                                    [f"listed-{i:03d}" for i in range(count)], concurrency)
    failed = [c for c in created if not c.ok]
    if failed:
        raise BenchError(f"{len(failed)} of {count} stacks failed: {failed[0].detail}")
    return f"{list_url(tier)}/{created[0].name}/{created[0].stack_id}"


def rotated(tiers: Sequence[Tier], number: int) -> list[Tier]:
    shift = number % len(tiers)
    return list(tiers[shift:]) + list(tiers[:shift])


def throughput(tiers: Sequence[Tier], where: Where, settings: Settings, results: Results,
               log: Log) -> None:
    procs: dict[str, Proc] = {}
    try:
        for tier in tiers:   # not timed here, so all start at once
            procs[tier.key] = spawn(tier, where)
        for tier in tiers:
            wait_first_200(list_url(tier), procs[tier.key], time.monotonic())
        show = seed_stacks(tiers[0], settings.stacks, settings.concurrency, log)
        for tier in tiers:
            warm_up(tier, show.replace(tiers[0].base_url, tier.base_url))
        for number in range(settings.rounds):
            log(f"throughput: round {number + 1}/{settings.rounds}")
            for kind in settings.kinds:
                for tier in rotated(tiers, number):
                    proc = procs[tier.key]
                    if kind == "create":
                        burst = create_burst(tier, proc, number, settings)
                    else:
                        url = list_url(tier) if kind == "list" else \
                            show.replace(tiers[0].base_url, tier.base_url)
                        burst = ab_burst(tier, proc, kind, url, number, settings, where.state)
                    results.bursts.append(burst)
        for tier in tiers:
            results.pss_loaded_mb[tier.key] = measure.tree_pss_mb(procs[tier.key].pid,
                                                                 tier.children)
        listed = heat_load.call("GET", list_url(tiers[0]), ADMIN)[1]
        if not isinstance(listed, dict) or len(listed["stacks"]) != settings.stacks:
            raise BenchError(f"the list no longer holds {settings.stacks} stacks: "
                             f"{str(listed)[:200]}")
    finally:
        for proc in procs.values():
            stop(proc)


def cold_starts(tiers: Sequence[Tier], where: Where, settings: Settings, results: Results,
                log: Log) -> None:
    for number in range(settings.starts):
        for tier in rotated(tiers, number):
            offset = process.log_size(where.log(tier.key))
            started = time.monotonic()
            proc = spawn(tier, where)
            try:
                cold = wait_first_200(list_url(tier), proc, started)
                cpu = tree_cpu_s(proc.pid)
                wait_apps_ready(tier, proc, offset)
                run = measure.ab(list_url(tier), requests=warm_up_calls(tier),
                                 concurrency=CONCURRENCY, socket_timeout=60,
                                 non_2xx_fail=True)
                if run.failed:
                    raise BenchError(f"{tier.key}: {run.failed} requests failed after start")
                pss = measure.tree_pss_mb(proc.pid, tier.children)
            finally:
                stop(proc)
            results.starts.append(Start(tier.key, cold, cpu, pss))
            log(f"cold start {number + 1}/{settings.starts}: {tier.label}: first 200 after "
                f"{cold:.2f} s, {cpu:.2f} s CPU, PSS {pss:.0f} MB")


def build_tiers(where: Where, variants: Sequence[tuple[int, int, int | None]],
                peers: bool) -> list[Tier]:
    cores = len(where.api_cpus) or len(os.sched_getaffinity(0))
    addresses = list(TIER_ADDRESSES)
    tiers = [heat_wsgi_tier(where, addresses.pop(0))] if peers or not variants else []
    for processes, threads, listen in variants:
        tiers.append(heat_wsgi_tier(where, addresses.pop(0), processes=processes,
                                    threads=threads, listen=listen,
                                    key=f"hw-{processes}x{threads}"
                                        + (f"-l{listen}" if listen else "")))
    if peers:
        tiers += peer_tiers(where, addresses[:3], cores)
    return tiers


def split_cores(api_cores: int) -> tuple[int, ...]:
    """With ``api_cores``, the first that many of our cores for the tiers and
    the rest for this process and all it starts after (the back end, ab, the
    create clients), as when the API has hosts of its own; else ()."""
    if not api_cores:
        return ()
    cores = sorted(os.sched_getaffinity(0))
    if not 0 < api_cores < len(cores):
        raise BenchError(f"--api-cores takes 1 to {len(cores) - 1} of this process's "
                         f"{len(cores)} cores, got {api_cores}")
    os.sched_setaffinity(0, cores[api_cores:])
    return tuple(cores[:api_cores])


def run(settings: Settings, variants: Sequence[tuple[int, int, int | None]], peers: bool,
        log: Log) -> tuple[list[Tier], Results]:
    state = Path(tempfile.mkdtemp(prefix="heat-wsgi-peers-"))
    results = Results()
    api_cpus = split_cores(settings.api_cores)
    try:
        with backend(state, settings, log) as conf:
            where = Where(state=state, heat_conf=conf, api_cpus=api_cpus)
            tiers = build_tiers(where, variants, peers)
            if len(tiers) > len(TIER_ADDRESSES):
                raise BenchError(f"at most {len(TIER_ADDRESSES)} tiers at once")
            throughput(tiers, where, settings, results, log)
            cold_starts(tiers, where, settings, results, log)
    finally:
        for proc in list(_running.values()):
            stop(proc)
        shutil.rmtree(state, ignore_errors=True)
    return tiers, results


# -- command line ---------------------------------------------------------------

def parse_variant(text: str) -> tuple[int, int, int | None]:
    match = re.fullmatch(r"(\d+)x(\d+)(?:/(\d+))?", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected PROCESSESxTHREADS[/LISTEN], got {text!r}")
    listen = int(match.group(3)) if match.group(3) else None
    return int(match.group(1)), int(match.group(2)), listen


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="10 stacks, one short round, one start: a smoke run, not a "
                             "measurement")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--save", metavar="FILE", help="also write the JSON report to FILE")
    parser.add_argument("--rounds", type=int, help="throughput rounds")
    parser.add_argument("--starts", type=int, help="cold starts per tier")
    parser.add_argument("--engine-workers", type=int, help="num_engine_workers (default 2)")
    parser.add_argument("--concurrency", type=int, help=f"clients (default {CONCURRENCY})")
    parser.add_argument("--burst-seconds", type=int, help="seconds per list/show burst")
    parser.add_argument("--api-cores", type=int,
                        help="give the tiers this many cores of their own and the back end "
                             "and clients the rest (default: all share all)")
    parser.add_argument("--kinds", help="comma-separated subset of " + ",".join(KINDS))
    parser.add_argument("--variants", default="",
                        help="extra heat_wsgi tiers, comma-separated PxT[/LISTEN], e.g. 2x4,4x2")
    parser.add_argument("--no-peers", action="store_true",
                        help="only the heat_wsgi variants (to choose defaults)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    for name in ("rounds", "starts", "engine_workers", "concurrency", "burst_seconds",
                 "api_cores"):
        if getattr(args, name):
            settings = replace(settings, **{name: getattr(args, name)})
    if args.kinds:
        kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
        if not kinds or set(kinds) - set(KINDS):
            print(f"bench: --kinds takes some of {','.join(KINDS)}, got {args.kinds!r}",
                  file=sys.stderr)
            return 2
        settings = replace(settings, kinds=kinds)
    variants = [parse_variant(v) for v in args.variants.split(",") if v.strip()]
    if not UWSGI.is_file():
        print(f"bench: {UWSGI} not found (pip install 'heat_wsgi[heat]')", file=sys.stderr)
        return 2

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    began = time.monotonic()
    try:
        with terminate_as_interrupt():
            tiers, results = run(settings, variants, not args.no_peers, log)
    except (BenchError, heat_load.LoadError, ServiceError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; every server started was stopped", file=sys.stderr)
        return 130
    report = peer_report.Report(tiers, results, asdict(settings), time.monotonic() - began)
    if args.save:
        Path(args.save).write_text(json.dumps(report.to_json(), indent=2) + "\n")
    print(json.dumps(report.to_json(), indent=2) if args.json else report.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
