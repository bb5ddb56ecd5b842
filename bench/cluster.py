"""Benchmark ``heat-wsgi up``'s default topology; print the results as ratios.

1. Stacks created per minute through the proxy with 1 engine per host, then
   with 2 engines per host (the cluster is brought up twice).
2. Requests per second through the proxy versus one API instance directly,
   with the same client load.

Bounded (a fixed number of stacks, a fixed measuring time) and loopback only.
Needs the default ports of ``heat-wsgi up`` free (127.0.0.1-3: 3306, 5672,
4369, 8000, 8003, 8004, 8404). Run: ``.venv/bin/python bench/cluster.py``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from heat_wsgi import cluster

REST = "http://127.0.0.1:8004/v1/admin"
DIRECT = "http://127.0.0.2:8004/v1/admin"
TEMPLATE = {
    "heat_template_version": "2018-08-31",
    "resources": {
        "secret": {"type": "OS::Heat::RandomString"},
        "probe": {"type": "OS::Heat::TestResource",
                  "properties": {"value": {"get_attr": ["secret", "value"]}}},
        "group": {"type": "OS::Heat::ResourceGroup",
                  "properties": {"count": 3, "resource_def": {
                      "type": "OS::Heat::RandomString"}}},
    },
}


def _client() -> Any:
    from heatclient import client

    return client.Client("1", endpoint=REST, token="noauth")


def stacks_per_minute(count: int, concurrency: int, tag: str) -> tuple[float, int]:
    """Create ``count`` stacks, ``concurrency`` at a time; (stacks/min, failures)."""
    def create(number: int) -> bool:
        hc = _client()
        stack_id = hc.stacks.create(stack_name=f"bench-{tag}-{number}",
                                    template=TEMPLATE)["stack"]["id"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            status = hc.stacks.get(stack_id).stack_status
            if not status.endswith("IN_PROGRESS"):
                return bool(status == "CREATE_COMPLETE")
            time.sleep(0.2)
        return False

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(create, range(count)))
    elapsed = time.monotonic() - started
    return count / elapsed * 60, results.count(False)


def requests_per_second(url: str, seconds: float, concurrency: int) -> tuple[float, int]:
    """GET ``url`` from ``concurrency`` threads for ``seconds``; (req/s, failures)."""
    done = [0]
    failed = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    ok = response.status == 200
                    response.read()
            except (urllib.error.URLError, OSError):
                ok = False
            with lock:
                done[0] += 1
                failed[0] += 0 if ok else 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0] / (time.monotonic() - started), failed[0]


def run_with(engines_per_host: int, state_dir: Path, args: argparse.Namespace,
             measure_requests: bool) -> dict[str, float]:
    results: dict[str, float] = {}
    cluster.up(None, state_dir, engines_per_host=engines_per_host, progress=lambda _l: None)
    try:
        # One warm-up stack, so first-request costs are not measured.
        stacks_per_minute(1, 1, f"warm{engines_per_host}")
        rate, failures = stacks_per_minute(args.stacks, args.concurrency, f"e{engines_per_host}")
        print(f"  {engines_per_host} engine(s)/host: {rate:6.1f} stacks/min "
              f"({args.stacks} stacks, {args.concurrency} at a time, {failures} failed)")
        results["stacks"] = rate
        if measure_requests:
            for label, url in (("proxy", f"{REST}/stacks"), ("direct", f"{DIRECT}/stacks")):
                rps, failed = requests_per_second(url, args.seconds, args.concurrency)
                print(f"  GET /stacks {label:<6}: {rps:6.1f} req/s "
                      f"({args.seconds:g}s, {args.concurrency} clients, {failed} failed)")
                results[label] = rps
    finally:
        cluster.down(state_dir, purge=True, progress=lambda _l: None)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stacks", type=int, default=24, help="stacks per run (default 24)")
    parser.add_argument("--concurrency", type=int, default=8, help="parallel clients (default 8)")
    parser.add_argument("--seconds", type=float, default=8.0,
                        help="measuring time for req/s (default 8)")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="heat-wsgi-bench-"))
    base.chmod(0o755)
    try:
        print("heat-wsgi up, default topology (2 API hosts), measuring ...")
        one = run_with(1, base / "one", args, measure_requests=True)
        two = run_with(2, base / "two", args, measure_requests=False)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print()
    print(f"stacks/min, 2 vs 1 engine per host:  {two['stacks'] / one['stacks']:.2f}x "
          f"({two['stacks']:.1f} vs {one['stacks']:.1f})")
    print(f"req/s, proxy vs one API directly:    {one['proxy'] / one['direct']:.2f}x "
          f"({one['proxy']:.1f} vs {one['direct']:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
