"""Time validate + render for 10 to 10,000 API instances.

Run: .venv/bin/python bench/render.py [--repeat N]

Each topology spreads its instances over hosts (10 per host, mixed services
and server modes, distinct ports), gives every host an engine group, and puts
one HAProxy in front. The table shows the median and the best of N runs (the
median is what counts: the machine is shared and noisy) and the growth of the
median for each 10x step; linear growth is a ratio near 10. The last line
compares the median at 10,000 instances with the target (issue 3: under a
second) and says PASS or MISS; the exit status stays 0 either way.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from heat_wsgi.model import (  # noqa: E402
    SERVICE_NAMES, ApiInstance, Database, EngineGroup, Host, Listener, MessageBus, ProxyConfig,
    ServerMode, Topology,
)
from heat_wsgi.render import render_all  # noqa: E402
from heat_wsgi.validate import validate  # noqa: E402

SIZES = (10, 100, 1_000, 10_000)
TARGET_SIZE = 10_000
TARGET_SECONDS = 1.0
PER_HOST = 10
MODES: tuple[ServerMode, ...] = ("uwsgi", "uwsgi", "mod_proxy", "mod_proxy_uwsgi", "mod_wsgi")
BASE = """[DEFAULT]
# base file shared by every host
rpc_response_timeout = 60
debug = false

[database]
connection = mysql+pymysql://heat:pw@127.0.0.1/heat
"""


def topology(instances: int) -> Topology:
    host_count = max(1, -(-instances // PER_HOST))
    hosts = [Host(name="lb", address="10.0.0.1")]
    hosts += [Host(name=f"h{i}", address=f"10.{1 + i // 65536}.{i // 256 % 256}.{i % 256}")
              for i in range(host_count)]
    api = []
    for n in range(instances):
        service = SERVICE_NAMES[n % 3]
        api.append(ApiInstance(name=f"{service}-{n}", service=service, host=f"h{n // PER_HOST}",
                               mode=MODES[n % len(MODES)], port=20000 + n % PER_HOST,
                               backend_port=30000 + n % PER_HOST if MODES[n % len(MODES)] == "mod_proxy" else None))
    return Topology(
        name=f"bench-{instances}", hosts=tuple(hosts), api_instances=tuple(api),
        engines=tuple(EngineGroup(host=f"h{i}", processes=2) for i in range(host_count)),
        proxy=ProxyConfig(host="lb", listeners=tuple(Listener(service=s) for s in SERVICE_NAMES)),
        database=Database(url="mysql+pymysql://heat:pw@127.0.0.1/heat", host="lb",
                          max_connections=10**9),
        message_bus=MessageBus(transport_url="rabbit://heat:pw@127.0.0.1:5672/", host="lb"),
        base_config=BASE)


def run(instances: int, repeat: int) -> tuple[list[float], int]:
    """Every run's seconds for validate + render of ``instances``, and the file count."""
    topo = topology(instances)
    times: list[float] = []
    files = 0
    for _ in range(repeat):
        gc.collect()
        gc.disable()            # as timeit does: time the code, not the collector
        try:
            start = time.perf_counter()
            problems = validate(topo)
            rendered = render_all(topo, validated=True)
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
        errors = [p for p in problems if p.severity == "error"]
        assert not errors, errors[:3]
        files = len(rendered)
        del rendered            # free one run's 37,000 files before the next
    return times, files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5,
                        help="runs per size; the median is reported (default 5)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    print(f"{'instances':>10} {'hosts':>6} {'files':>7} {'median s':>9} {'best s':>9} {'x per 10x':>10}")
    previous = None
    medians: dict[int, float] = {}
    for size in SIZES:
        times, files = run(size, args.repeat)
        median = medians[size] = statistics.median(times)
        ratio = f"{median / previous:10.1f}" if previous else f"{'-':>10}"
        print(f"{size:>10} {max(1, -(-size // PER_HOST)):>6} {files:>7} {median:>9.3f} "
              f"{min(times):>9.3f} {ratio}")
        previous = median
    seconds = medians[TARGET_SIZE]
    verdict = "PASS" if seconds < TARGET_SECONDS else "MISS"
    print(f"{verdict}: {TARGET_SIZE:,} instances in {seconds:.3f} s (median of {args.repeat}); "
          f"target under {TARGET_SECONDS:g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
