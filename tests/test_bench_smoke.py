"""bench/entrypoint.py and bench/peers.py run end to end and report every figure.

Only that it works: a short run on a shared machine says nothing about
speed, so no figure is compared with a target here. The targets are the
benchmarks' business (``python bench/entrypoint.py``, ``bench/peers.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.real

BENCH = REPO / "bench" / "entrypoint.py"
TARGETS = {"bare", "hw-pre", "hw-lazy", "heat-pre", "heat-lazy"}
POSITIVE = ("cold_start_s", "pss_mb", "pss_after_load_mb", "rps_root", "rps_healthcheck",
            "cpu_us_root", "cpu_us_healthcheck")


def run_bench(script: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """``script --quick --json``; past ``timeout`` (a bound for a hang, not a speed
    target: the box may be busy) it gets SIGTERM, which the bench unwinds like
    Ctrl-C, stopping the servers it started. subprocess.run's SIGKILL would leave
    them running: they have sessions of their own."""
    argv = [sys.executable, str(script), "--quick", "--json"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as bench:
        try:
            out, err = bench.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            bench.terminate()
            try:
                out, err = bench.communicate(timeout=90)
            except subprocess.TimeoutExpired:
                bench.kill()
                out, err = bench.communicate()
            pytest.fail(f"{script.name} --quick ran over {timeout:g}s; stderr:\n{err[-3000:]}")
    return subprocess.CompletedProcess(argv, bench.returncode, out, err)


def test_quick_run_reports_every_target_and_target_check() -> None:
    done = run_bench(BENCH, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)

    assert set(report["targets"]) == TARGETS
    for key, row in report["targets"].items():
        for name in POSITIVE:
            assert row[name] > 0, f"{key}: {name} = {row[name]}"
        # CPU is counted in 10 ms ticks: the bare app may start within one.
        assert row["cold_cpu_s"] >= 0
        assert row["failed_requests"] == 0, key
        assert len(row["starts"]) == report["settings"]["rounds"] == 1
        assert len(row["bursts"]) == 2 * report["settings"]["bursts"]

    verdicts = report["verdicts"]
    assert len(verdicts) == 4
    for verdict in verdicts:
        assert verdict["ratio"] > 0
        assert verdict["status"].split()[0] in ("PASS", "MISS")


PEERS = REPO / "bench" / "peers.py"
PEER_TIERS = {"heat_wsgi", "kolla", "osa", "helm"}
KIND_FIGURES = ("rps", "p50_ms", "p99_ms", "cpu_ms")


def test_peers_quick_run_reports_every_tier_call_and_target() -> None:
    """bench/peers.py --quick: the real back end, four tiers, every call kind
    served without a failure, every figure and every target reported."""
    done = run_bench(PEERS, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)

    assert set(report["tiers"]) == PEER_TIERS
    for key, tier in report["tiers"].items():
        for kind in ("list", "show", "create"):
            figures = tier["kinds"][kind]
            for name in KIND_FIGURES:
                assert figures[name] > 0, f"{key} {kind}: {name} = {figures[name]}"
            assert figures["failed"] == 0, f"{key} {kind}"
        assert tier["pss_mb"] > 0 and tier["cold_start_s"] > 0, key
        assert "[uwsgi]" in tier["ini"]
        if key != "heat_wsgi":
            assert tier["sources"], key
    assert report["tiers"]["heat_wsgi"]["heat_wsgi"] is True
    assert len(report["bursts"]) == 3 * len(PEER_TIERS) * report["settings"]["rounds"]
    assert len(report["starts"]) == len(PEER_TIERS) * report["settings"]["starts"]

    names = [v["name"] for v in report["verdicts"]]
    assert len(names) == 7, names
    for verdict in report["verdicts"]:
        assert verdict["ratio"] > 0
        assert verdict["status"].split()[0] in ("PASS", "MISS")
