"""bench/peer_report.py's verdicts, on made-up figures: which peer is best, paired rounds."""

from __future__ import annotations

import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))

from peer_report import KINDS, Burst, Report, Results, Start  # noqa: E402
from peer_tiers import Tier  # noqa: E402

SETTINGS = {"kinds": KINDS, "rounds": 2, "burst_seconds": 1, "concurrency": 8,
            "creates_per_client": 1, "stacks": 10, "starts": 1, "engine_workers": 2}


def tier(key: str, ours: bool = False) -> Tier:
    return Tier(key=key, label=key, address="127.0.0.61", processes=2, threads=1,
                lines=(), sources=(), heat_wsgi=ours)


def burst(key: str, kind: str, number: int, rps: float, slowest_ms: float) -> Burst:
    # 98 calls of 100 ms and two slow ones: a burst's p99 (nearest rank) is the slow one.
    latencies = (100.0,) * 98 + (slowest_ms,) * 2
    return Burst(key, kind, number, rps, 100, 0, 1.0, 100, latencies)


def report(rounds: dict[str, list[tuple[float, float]]]) -> Report:
    """``rounds``: per tier key, (req/s, slowest ms) for each round, every kind alike."""
    tiers = [tier("heat_wsgi", ours=True), tier("kolla"), tier("osa")]
    results = Results()
    for key, figures in rounds.items():
        for number, (rps, slowest) in enumerate(figures):
            for kind in KINDS:
                results.bursts.append(burst(key, kind, number, rps, slowest))
        results.starts.append(Start(key, 1.0, 1.0, 90.0))
    return Report(tiers, results, SETTINGS, elapsed_s=1.0)


def verdict(rep: Report, name: str):
    return next(v for v in rep.verdicts() if v.name == name)


def test_rate_is_the_median_of_ratios_to_the_best_peer_round_by_round() -> None:
    rep = report({"heat_wsgi": [(10.0, 500), (30.0, 500)],
                  "kolla": [(20.0, 500), (20.0, 500)],    # best median: 20
                  "osa": [(5.0, 500), (25.0, 500)]})      # median 15
    rate = verdict(rep, "GET stacks (list) req/s >= 1.0x best peer")
    assert rate.measured == pytest.approx(1.0)            # (0.5 + 1.5) / 2
    assert "vs kolla" in rate.detail and "0.75-1.25 (quartiles)" in rate.detail


def test_p99_verdict_is_over_all_calls_and_says_how_the_rounds_spread() -> None:
    rep = report({"heat_wsgi": [(10.0, 400), (10.0, 800), (10.0, 1600)],
                  "kolla": [(10.0, 800)] * 3,
                  "osa": [(10.0, 900)] * 3})
    tail = verdict(rep, "GET one stack p99 <= 1.0x best peer")
    # All 300 calls: the 298th fastest is the p99, 800 ms for us and for kolla.
    assert tail.measured == pytest.approx(1.0)
    assert tail.status == "PASS"
    assert "800 vs kolla 800 ms" in tail.detail
    # Round by round 0.5, 1.0 and 2.0: one bad round, not every round's tail.
    assert "per-round p99 ratios 0.75-1.50 (quartiles)" in tail.detail
