"""heat_wsgi.api against Heat's own heat.wsgi.api and a bare WSGI app, under uwsgi.

Run: .venv/bin/python bench/entrypoint.py [--quick] [--json] [--rounds N] [--bursts N]

Every target runs under the same uwsgi settings: the ones heat_wsgi's
renderer ships (master, thunder-lock, one request per connection, per-request
logging, ...) with 4 worker processes of 1 thread, on an HTTP socket on
127.0.0.50-54. Two phases:

1. One server at a time, ``--rounds`` starts each, the order rotating:
   cold start (spawn of the uwsgi master -> first 200 on ``/healthcheck``),
   then the total PSS of the uwsgi tree (master + workers,
   ``/proc/PID/smaps_rollup``) once every worker has answered, and again
   after a fixed number of further requests.
2. All servers up at once; ApacheBench (``ab``: one C process, so the load
   generator takes at most one of the two cores; no keep-alive for anyone,
   uwsgi closes each connection anyway) runs short bursts on ``GET /`` and
   ``GET /healthcheck`` against each target in turn, ``--bursts`` times.

The machine is shared with other engineers' test runs, so wall-clock figures
swing; taking turns spreads that over every target alike, the table shows
medians, and the CPU the uwsgi tree spent (per start, per request) is shown
next to them as the steadier figure. This is a benchmark, not a test: the
targets at the end are printed as PASS/MISS and never fail the run.
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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from heat_wsgi.render import uwsgi as uwsgi_render  # noqa: E402
from heat_wsgi.runtime import process  # noqa: E402
from heat_wsgi.runtime.process import Proc  # noqa: E402

import measure  # noqa: E402  (bench/, next to this file)
from measure import (  # noqa: E402
    BenchError, Verdict, children, median, rate_verdict, terminate_as_interrupt, tree_cpu_s,
    wait_first_200,
)

VENV = Path(sys.prefix)
UWSGI = VENV / "bin" / "uwsgi"
PORT = 18450
WORKERS = 4
THREADS = 1  # the model's default for an API instance
CONCURRENCY = 8  # two requests queued per worker keeps every worker busy
START_TIMEOUT = measure.START_TIMEOUT

BARE_APP = '''\
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"OK"]
'''


@dataclass(frozen=True, slots=True)
class Target:
    key: str
    label: str
    module: str
    lazy: bool
    address: str


TARGETS = (
    Target("bare", "bare WSGI app (ceiling)", "bench_bare_app:application", False, "127.0.0.50"),
    Target("hw-pre", "heat_wsgi.api preloaded", "heat_wsgi.api:application", False, "127.0.0.51"),
    Target("hw-lazy", "heat_wsgi.api lazy-apps", "heat_wsgi.api:application", True, "127.0.0.52"),
    Target("heat-pre", "heat.wsgi.api preloaded", "heat.wsgi.api:application", False, "127.0.0.53"),
    Target("heat-lazy", "heat.wsgi.api lazy-apps", "heat.wsgi.api:application", True, "127.0.0.54"),
)
PATHS = ("/", "/healthcheck")


@dataclass(frozen=True, slots=True)
class Settings:
    rounds: int  # starts of each target, for cold start and memory
    warmup_requests: int  # per path, repeated until every worker answered
    load_requests: int  # per path, before the second memory reading
    bursts: int  # ab runs per target and path, taking turns
    burst_seconds: int  # ab counts whole seconds only


QUICK = Settings(rounds=1, warmup_requests=100, load_requests=500, bursts=1, burst_seconds=1)
FULL = Settings(rounds=3, warmup_requests=400, load_requests=5000, bursts=12, burst_seconds=2)


@dataclass(slots=True)
class Sample:
    """What one start of one target measured."""

    cold_start_s: float
    cold_cpu_s: float
    pss_mb: float
    pss_after_load_mb: float


@dataclass(frozen=True, slots=True)
class Burst:
    """One ab run against one target and path."""

    path: str
    rps: float
    completed: int
    failed: int
    cpu_s: float  # the uwsgi tree's CPU during the run


# -- one uwsgi server ---------------------------------------------------------

def write_ini(target: Target, state: Path, heat_conf: Path) -> Path:
    """The ini heat_wsgi's renderer would ship, for 4 workers on the
    target's address. The tuning lists are the renderer's own, so a setting
    changed there is benchmarked here."""
    lines = [f"module = {target.module}", f"pyargv = --config-file {heat_conf}"]
    lines += [f"{key} = {value}" for key, value in uwsgi_render._FIXED]
    lines += [f"processes = {WORKERS}", f"threads = {THREADS}"]
    lines += [f"{key} = {value}" for key, value in uwsgi_render._TUNING]
    lines += [f"http-socket = {target.address}:{PORT}"]
    lines += [f"{key} = {value}" for key, value in uwsgi_render._HTTP]
    if target.lazy:
        lines.append("lazy-apps = true")
    if target.key == "bare":
        lines.append(f"chdir = {state}")
    lines.append(f"logto = {state / 'logs' / (target.key + '.log')}")
    ini = state / f"{target.key}.ini"
    ini.write_text("[uwsgi]\n" + "\n".join(lines) + "\n")
    return ini


def tree_pss_mb(master: int) -> float:
    return measure.tree_pss_mb(master, WORKERS)


# -- load ---------------------------------------------------------------------

def ab(url: str, seconds: int = 0, requests: int = 0) -> tuple[float, int, int]:
    """(requests/s, completed, failed) of ``ab`` on ``url``, -c CONCURRENCY."""
    run = measure.ab(url, seconds, requests, CONCURRENCY)
    return run.rps, run.completed, run.failed


def worker_pids_in_log(log: Path, offset: int) -> set[int]:
    with open(log, "rb") as handle:
        handle.seek(offset)
        text = handle.read().decode("utf-8", "replace")
    return {int(pid) for pid in re.findall(r"^\[pid: (\d+)\|app: ", text, re.M)}


def warm_up(base: str, master: int, log: Path, requests: int) -> None:
    """Send requests on both paths until every worker has logged one (with
    lazy-apps, until every worker has loaded the app)."""
    offset = process.log_size(log)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        for path in PATHS:
            ab(base + path, requests=requests)
        workers = set(children(master))
        if len(workers) == WORKERS and workers <= worker_pids_in_log(log, offset):
            return
        if time.monotonic() > deadline:
            raise BenchError(f"warm-up: after {START_TIMEOUT:g}s only workers "
                             f"{sorted(worker_pids_in_log(log, offset))} of "
                             f"{sorted(workers)} have answered")


# -- rounds -------------------------------------------------------------------

_running: dict[int, Proc] = {}


def spawn(target: Target, state: Path, heat_conf: Path) -> Proc:
    ini = write_ini(target, state, heat_conf)
    log = state / "logs" / f"{target.key}.log"
    process.require_free_ports(target.key, [(target.address, PORT)])
    proc = process.spawn(target.key, [str(UWSGI), "--ini", str(ini), "--die-on-term",
                                      "--need-app"], state_dir=state, log=log)
    _running[proc.pid] = proc
    return proc


def start(target: Target, state: Path, heat_conf: Path) -> tuple[Proc, float, float]:
    """Start ``target``'s uwsgi; return it with the seconds and the tree's
    CPU seconds it took to answer 200 on /healthcheck."""
    started = time.monotonic()
    proc = spawn(target, state, heat_conf)
    cold = wait_first_200(f"{base_url(target)}/healthcheck", proc, started)
    return proc, cold, tree_cpu_s(proc.pid)


def stop(proc: Proc) -> None:
    process.stop_proc(proc)
    _running.pop(proc.pid, None)


def base_url(target: Target) -> str:
    return f"http://{target.address}:{PORT}"


def start_and_weigh(target: Target, state: Path, heat_conf: Path,
                    settings: Settings) -> Sample:
    """Phase 1, one server at a time: cold start, then PSS after warm-up and
    after a fixed number of requests."""
    proc, cold, cold_cpu = start(target, state, heat_conf)
    try:
        log = Path(proc.log)
        warm_up(base_url(target), proc.pid, log, settings.warmup_requests)
        pss = tree_pss_mb(proc.pid)
        for path in PATHS:
            ab(base_url(target) + path, requests=settings.load_requests)
        return Sample(cold_start_s=cold, cold_cpu_s=cold_cpu, pss_mb=pss,
                      pss_after_load_mb=tree_pss_mb(proc.pid))
    finally:
        stop(proc)


def throughput(state: Path, heat_conf: Path, settings: Settings,
               log: Any) -> dict[str, list[Burst]]:
    """Phase 2: every server up at once, and short ab bursts taking turns
    between them, so a neighbour's build or test run lands on all targets
    alike instead of on whichever one happened to be measured then."""
    procs: dict[str, Proc] = {}
    bursts: dict[str, list[Burst]] = {t.key: [] for t in TARGETS}
    try:
        # Not timed here, so all start at once.
        for target in TARGETS:
            procs[target.key] = spawn(target, state, heat_conf)
        for target in TARGETS:
            wait_first_200(f"{base_url(target)}/healthcheck", procs[target.key],
                           time.monotonic())
            warm_up(base_url(target), procs[target.key].pid, Path(procs[target.key].log),
                    settings.warmup_requests)
        for number in range(settings.bursts):
            log(f"throughput: burst {number + 1}/{settings.bursts} "
                f"({settings.burst_seconds} s per target and path)")
            shift = number % len(TARGETS)
            for target in TARGETS[shift:] + TARGETS[:shift]:
                master = procs[target.key].pid
                for path in PATHS:
                    cpu_before = tree_cpu_s(master)
                    rps, completed, failed = ab(base_url(target) + path,
                                                seconds=settings.burst_seconds)
                    if completed == 0:
                        raise BenchError(f"{target.key}: no request to {path} completed")
                    bursts[target.key].append(Burst(
                        path=path, rps=rps, completed=completed, failed=failed,
                        cpu_s=tree_cpu_s(master) - cpu_before))
    finally:
        for proc in procs.values():
            stop(proc)
    return bursts


def heat_config(state: Path) -> Path:
    """The shipped keystone-less heat.conf with a private SQLite file and a
    RabbitMQ URL nobody listens on: neither ``/`` nor ``/healthcheck`` needs
    the database or the message bus, and the API starts without them."""
    text = (REPO / "etc" / "heat" / "heat.conf").read_text()
    replacements = {
        r"(?m)^transport_url = .*$": "transport_url = rabbit://guest:guest@127.0.0.59:1/",
        r"(?m)^connection = sqlite.*$": f"connection = sqlite:///{state}/heat.sqlite",
    }
    for pattern, value in replacements.items():
        text, count = re.subn(pattern, value, text)
        if count != 1:
            raise BenchError(f"etc/heat/heat.conf no longer has a line matching {pattern}")
    conf = state / "heat.conf"
    conf.write_text(text)
    # Heat looks for api-paste.ini next to heat.conf and fails without one.
    # heat_wsgi would find the same file there, so both load the same pipeline.
    shutil.copy(REPO / "heat_wsgi" / "data" / "api-paste.ini", state / "api-paste.ini")
    return conf


def run(settings: Settings, log: Any) -> tuple[dict[str, list[Sample]], dict[str, list[Burst]]]:
    samples: dict[str, list[Sample]] = {t.key: [] for t in TARGETS}
    state = Path(tempfile.mkdtemp(prefix="heat-wsgi-bench-"))
    try:
        (state / "bench_bare_app.py").write_text(BARE_APP)
        heat_conf = heat_config(state)
        for number in range(settings.rounds):
            # Rotate so that no target always starts first (cold page cache)
            # or always right after the heaviest one.
            shift = number % len(TARGETS)
            for target in TARGETS[shift:] + TARGETS[:shift]:
                log(f"start and memory, round {number + 1}/{settings.rounds}: "
                    f"{target.label} ...")
                sample = start_and_weigh(target, state, heat_conf, settings)
                samples[target.key].append(sample)
                log(f"  first 200 after {sample.cold_start_s:.2f}s, "
                    f"PSS {sample.pss_mb:.0f} MB, {sample.pss_after_load_mb:.0f} MB loaded")
        bursts = throughput(state, heat_conf, settings, log)
    finally:
        for proc in list(_running.values()):
            stop(proc)
        shutil.rmtree(state, ignore_errors=True)
    return samples, bursts


# -- report -------------------------------------------------------------------

def summarise(samples: dict[str, list[Sample]],
              bursts: dict[str, list[Burst]]) -> dict[str, dict[str, float]]:
    summary = {}
    for key, runs in samples.items():
        row = {
            "cold_start_s": median([s.cold_start_s for s in runs]),
            "cold_cpu_s": median([s.cold_cpu_s for s in runs]),
            "pss_mb": median([s.pss_mb for s in runs]),
            "pss_after_load_mb": median([s.pss_after_load_mb for s in runs]),
            "failed_requests": float(sum(b.failed for b in bursts[key])),
        }
        for path, name in (("/", "root"), ("/healthcheck", "healthcheck")):
            mine = [b for b in bursts[key] if b.path == path]
            row[f"rps_{name}"] = median([b.rps for b in mine])
            row[f"cpu_us_{name}"] = sum(b.cpu_s for b in mine) / sum(b.completed for b in mine) * 1e6
        summary[key] = row
    return summary


def paired_ratios(bursts: dict[str, list[Burst]], key: str, ref: str, path: str) -> list[float]:
    """req/s of ``key`` over ``ref`` for each burst round: the two bursts of
    a round ran seconds apart, under much the same outside load."""
    mine = [b.rps for b in bursts[key] if b.path == path]
    theirs = [b.rps for b in bursts[ref] if b.path == path]
    return [a / b for a, b in zip(mine, theirs, strict=True)]


def _pss(row: dict[str, float]) -> float:
    # The larger of the two readings: after warm-up, and after the load
    # runs have touched (and so possibly copied) more of the shared pages.
    return max(row["pss_mb"], row["pss_after_load_mb"])


def verdicts(s: dict[str, dict[str, float]], bursts: dict[str, list[Burst]]) -> list[Verdict]:
    """The issue's four targets. The reference is heat.wsgi.api as upstream's
    uwsgi sample runs it (lazy-apps); each detail also gives the CPU-based
    figure, which the neighbours' load on this machine disturbs far less."""
    hw, heat_lazy, heat_pre, bare = s["hw-pre"], s["heat-lazy"], s["heat-pre"], s["bare"]
    vs_pre = median(paired_ratios(bursts, "hw-pre", "heat-pre", "/"))
    return [
        rate_verdict("GET / >= 1.0x Heat's own",
                      paired_ratios(bursts, "hw-pre", "heat-lazy", "/"), 1.0,
                      f"median {hw['rps_root']:,.0f} vs {heat_lazy['rps_root']:,.0f} req/s; "
                      f"CPU per request {hw['cpu_us_root']:,.0f} vs "
                      f"{heat_lazy['cpu_us_root']:,.0f} us; vs Heat preloaded {vs_pre:.2f}x"),
        rate_verdict("/healthcheck >= 0.9x the bare app",
                      paired_ratios(bursts, "hw-pre", "bare", "/healthcheck"), 0.9,
                      f"median {hw['rps_healthcheck']:,.0f} vs {bare['rps_healthcheck']:,.0f} "
                      f"req/s; CPU per request {hw['cpu_us_healthcheck']:,.0f} vs "
                      f"{bare['cpu_us_healthcheck']:,.0f} us"),
        Verdict("total PSS <= 0.5x Heat lazy-apps", _pss(hw) / _pss(heat_lazy), 0.5, False,
                f"{_pss(hw):.0f} vs {_pss(heat_lazy):.0f} MB; Heat preloaded "
                f"{_pss(heat_pre):.0f} MB"),
        Verdict("cold start <= 0.5x Heat lazy-apps",
                hw["cold_start_s"] / heat_lazy["cold_start_s"], 0.5, False,
                f"{hw['cold_start_s']:.2f} vs {heat_lazy['cold_start_s']:.2f} s; CPU to "
                f"first 200 {hw['cold_cpu_s']:.2f} vs {heat_lazy['cold_cpu_s']:.2f} s"),
    ]


def table(summary: dict[str, dict[str, float]], bursts: dict[str, list[Burst]],
          settings: Settings) -> str:
    ref, bare = summary["heat-lazy"], summary["bare"]
    head = (f"{'target':<26}|{'cold start':>9} {'x':>5} {'CPU s':>5} |{'PSS MB':>7} {'x':>5} "
            f"{'loaded':>6} |{'GET / /s':>9} {'x':>5} {'CPU us':>6} |{'/healthcheck /s':>16} "
            f"{'x bare':>6} {'CPU us':>6}")
    rows = [head, "-" * len(head)]
    for target in TARGETS:
        row = summary[target.key]
        rows.append(
            f"{target.label:<26}|{row['cold_start_s']:>8.2f}s "
            f"{row['cold_start_s'] / ref['cold_start_s']:>5.2f} {row['cold_cpu_s']:>5.2f} |"
            f"{row['pss_mb']:>7.1f} {_pss(row) / _pss(ref):>5.2f} "
            f"{row['pss_after_load_mb']:>6.1f} |"
            f"{row['rps_root']:>9,.0f} {row['rps_root'] / ref['rps_root']:>5.2f} "
            f"{row['cpu_us_root']:>6,.0f} |"
            f"{row['rps_healthcheck']:>16,.0f} "
            f"{row['rps_healthcheck'] / bare['rps_healthcheck']:>6.2f} "
            f"{row['cpu_us_healthcheck']:>6,.0f}")
    rows += [
        "",
        "'x': ratio to heat.wsgi.api lazy-apps (upstream's uwsgi sample); 'x bare': ratio "
        "to the bare app.",
        f"cold start: spawn -> first 200 on /healthcheck, median of {settings.rounds} "
        "start(s), one server at a time; CPU s: the uwsgi tree's CPU by then.",
        "PSS: master + workers once every worker has answered; 'loaded': after "
        f"{settings.load_requests} more requests per path ('x' uses the larger).",
        f"req/s: median of {settings.bursts} ab burst(s) of {settings.burst_seconds} s per "
        f"target and path, -c {CONCURRENCY}, no keep-alive, all servers up and taking "
        "turns; CPU us: the uwsgi tree's CPU per request over those bursts.",
        f"uwsgi: heat_wsgi's rendered settings, {WORKERS} workers x {THREADS} thread; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end.",
    ]
    failed = sum(row["failed_requests"] for row in summary.values())
    if failed:
        rows.append(f"WARNING: {failed:.0f} requests failed (connect/receive errors)")
    rows.append("")
    for verdict in verdicts(summary, bursts):
        rows.append(f"{verdict.status:<22} {verdict.name}: {verdict.measured:.2f}x "
                    f"({verdict.detail})")
    return "\n".join(rows)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one start and one 1 s burst per target: a smoke run, not a "
                             "measurement")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--rounds", type=int, help="starts per target (cold start, memory)")
    parser.add_argument("--bursts", type=int, help="ab bursts per target and path")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.rounds:
        settings = replace(settings, rounds=args.rounds)
    if args.bursts:
        settings = replace(settings, bursts=args.bursts)
    if not UWSGI.is_file():
        print(f"bench: {UWSGI} not found (pip install 'heat_wsgi[heat]')", file=sys.stderr)
        return 2

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        with terminate_as_interrupt():
            samples, bursts = run(settings, log)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; every server started was stopped", file=sys.stderr)
        return 130
    summary = summarise(samples, bursts)
    if args.json:
        print(json.dumps({
            "settings": asdict(settings) | {"workers": WORKERS, "threads": THREADS,
                                            "concurrency": CONCURRENCY},
            "targets": {t.key: {"label": t.label, "module": t.module, "lazy_apps": t.lazy,
                                **summary[t.key],
                                "starts": [asdict(s) for s in samples[t.key]],
                                "bursts": [asdict(b) for b in bursts[t.key]]}
                        for t in TARGETS},
            "verdicts": [{"name": v.name, "ratio": v.measured, "threshold": v.threshold,
                          "status": v.status, "detail": v.detail}
                         for v in verdicts(summary, bursts)],
        }, indent=2))
    else:
        print(table(summary, bursts, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
