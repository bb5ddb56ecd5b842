"""What bench/peers.py measured, as ratios to the best peer, and the PASS/MISS targets."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from measure import Verdict, median, percentile, quartiles, rate_verdict
from peer_tiers import Tier

KINDS = ("list", "show", "create")
KIND_LABELS = {"list": "GET stacks (list)", "show": "GET one stack",
               "create": "create to COMPLETE"}


@dataclass(frozen=True, slots=True)
class Burst:
    """One tier, one call kind, one round."""

    tier: str
    kind: str
    round: int
    rps: float             # completed calls per second (stacks per second for creates)
    completed: int
    failed: int
    cpu_s: float           # the tier's CPU (master + children) during the burst
    calls: int             # HTTP requests the tier answered (creates: POST + status reads)
    latencies_ms: tuple[float, ...] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Start:
    tier: str
    cold_start_s: float    # spawn -> first 200 on the stack list
    cold_cpu_s: float      # the tier's CPU by then
    pss_mb: float          # once every app is loaded and a few calls answered


@dataclass(slots=True)
class Results:
    bursts: list[Burst] = field(default_factory=list)
    starts: list[Start] = field(default_factory=list)
    pss_loaded_mb: dict[str, float] = field(default_factory=dict)  # after the last round


@dataclass(frozen=True, slots=True)
class KindSummary:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float          # per HTTP request
    failed: int


@dataclass(frozen=True, slots=True)
class TierSummary:
    kinds: dict[str, KindSummary]
    pss_mb: float          # the larger of the loaded and the after-start readings
    cold_start_s: float
    cold_cpu_s: float


def summarise(tier: Tier, results: Results) -> TierSummary:
    kinds = {}
    for kind in KINDS:
        mine = [b for b in results.bursts if b.tier == tier.key and b.kind == kind]
        if not mine:
            continue  # not asked for (--kinds)
        latencies = [t for b in mine for t in b.latencies_ms]
        calls = sum(b.calls for b in mine)
        kinds[kind] = KindSummary(
            rps=median([b.rps for b in mine]),
            p50_ms=percentile(latencies, 0.50) if latencies else float("nan"),
            p99_ms=percentile(latencies, 0.99) if latencies else float("nan"),
            cpu_ms=sum(b.cpu_s for b in mine) / calls * 1000 if calls else float("nan"),
            failed=sum(b.failed for b in mine))
    starts = [s for s in results.starts if s.tier == tier.key]
    pss = max([results.pss_loaded_mb.get(tier.key, 0.0)] + [median([s.pss_mb for s in starts])])
    return TierSummary(kinds, pss, median([s.cold_start_s for s in starts]),
                       median([s.cold_cpu_s for s in starts]))


class Report:
    def __init__(self, tiers: Sequence[Tier], results: Results, settings: dict[str, Any],
                 elapsed_s: float) -> None:
        self.tiers = list(tiers)
        self.results = results
        self.settings = settings
        self.elapsed_s = elapsed_s
        self.summary = {t.key: summarise(t, results) for t in tiers}
        peers = [t for t in tiers if not t.heat_wsgi]
        # Without peers (choosing heat_wsgi's defaults) the variants are
        # compared with the best of themselves.
        self.reference = peers or self.tiers
        self.ours = next((t for t in tiers if t.key == "heat_wsgi"), None)

    # -- best peer per figure ----------------------------------------------
    def _best(self, value: Any, higher_is_better: bool) -> Tier:
        pick = max if higher_is_better else min
        return pick(self.reference, key=lambda t: value(self.summary[t.key]))

    def _ratio(self, tier: Tier, value: Any, higher_is_better: bool) -> float:
        best = self._best(value, higher_is_better)
        return float(value(self.summary[tier.key]) / value(self.summary[best.key]))

    def _per_round_ratios(self, kind: str, best: Tier,
                          figure: Callable[[Burst], float]) -> list[float]:
        """``figure`` of our burst over the best peer's, round by round."""
        def by_round(tier: Tier) -> dict[int, float]:
            return {b.round: figure(b) for b in self.results.bursts
                    if b.tier == tier.key and b.kind == kind and b.latencies_ms}
        assert self.ours is not None
        mine, theirs = by_round(self.ours), by_round(best)
        return [mine[r] / theirs[r] for r in sorted(mine) if r in theirs]

    def verdicts(self) -> list[Verdict]:
        if self.ours is None or self.reference == self.tiers \
                or tuple(self.settings["kinds"]) != KINDS:
            return []
        ours = self.summary[self.ours.key]
        out = []
        for kind in ("list", "show"):
            best = self._best(lambda s, k=kind: s.kinds[k].rps, True)
            ratios = self._per_round_ratios(kind, best, lambda b: b.rps)
            out.append(rate_verdict(
                f"{KIND_LABELS[kind]} req/s >= 1.0x best peer", ratios, 1.0,
                f"{ours.kinds[kind].rps:,.1f} vs {best.label} "
                f"{self.summary[best.key].kinds[kind].rps:,.1f} req/s"))
        for kind in KINDS:
            best = self._best(lambda s, k=kind: s.kinds[k].p99_ms, False)
            their_p99 = self.summary[best.key].kinds[kind].p99_ms
            # Whether the tail is every round's or one bad round's: the
            # verdict stays on the p99 of all calls, this only says which.
            low, high = quartiles(self._per_round_ratios(
                kind, best, lambda b: percentile(b.latencies_ms, 0.99)))
            out.append(Verdict(f"{KIND_LABELS[kind]} p99 <= 1.0x best peer",
                               ours.kinds[kind].p99_ms / their_p99, 1.0, False,
                               f"{ours.kinds[kind].p99_ms:,.0f} vs {best.label} "
                               f"{their_p99:,.0f} ms; per-round p99 ratios "
                               f"{low:.2f}-{high:.2f} (quartiles)"))
        best = self._best(lambda s: s.pss_mb, False)
        out.append(Verdict("total PSS <= 0.5x best peer",
                           ours.pss_mb / self.summary[best.key].pss_mb, 0.5, False,
                           f"{ours.pss_mb:.0f} vs {best.label} "
                           f"{self.summary[best.key].pss_mb:.0f} MB"))
        best = self._best(lambda s: s.cold_start_s, False)
        theirs_s = self.summary[best.key]
        out.append(Verdict("cold start <= 0.5x best peer",
                           ours.cold_start_s / theirs_s.cold_start_s, 0.5, False,
                           f"{ours.cold_start_s:.2f} vs {best.label} "
                           f"{theirs_s.cold_start_s:.2f} s; CPU to first 200 "
                           f"{ours.cold_cpu_s:.2f} vs {theirs_s.cold_cpu_s:.2f} s"))
        return out

    # -- output -------------------------------------------------------------
    def table(self) -> str:
        width = max(len(t.label) for t in self.tiers)
        head = (f"{'call':<19} {'tier':<{width}} |{'req/s':>8} {'x':>5} |{'p50 ms':>8} "
                f"{'x':>5} |{'p99 ms':>8} {'x':>5} |{'CPU ms':>7} {'x':>5}")
        rows = [head, "-" * len(head)]
        for kind in self.settings["kinds"]:
            for number, tier in enumerate(self.tiers):
                s = self.summary[tier.key].kinds[kind]
                rows.append(
                    f"{KIND_LABELS[kind] if number == 0 else '':<19} {tier.label:<{width}} |"
                    f"{s.rps:>8,.1f} {self._ratio(tier, lambda x, k=kind: x.kinds[k].rps, True):>5.2f} |"
                    f"{s.p50_ms:>8,.0f} {self._ratio(tier, lambda x, k=kind: x.kinds[k].p50_ms, False):>5.2f} |"
                    f"{s.p99_ms:>8,.0f} {self._ratio(tier, lambda x, k=kind: x.kinds[k].p99_ms, False):>5.2f} |"
                    f"{s.cpu_ms:>7,.1f} {self._ratio(tier, lambda x, k=kind: x.kinds[k].cpu_ms, False):>5.2f}")
        rows.append("")
        head = (f"{'tier':<{width}} | {'processes x threads':>19} |{'PSS MB':>7} {'x':>5} |"
                f"{'cold start s':>13} {'x':>5} {'CPU s':>6}")
        rows += [head, "-" * len(head)]
        for tier in self.tiers:
            t = self.summary[tier.key]
            rows.append(
                f"{tier.label:<{width}} | {f'{tier.processes} x {tier.threads}':>19} |"
                f"{t.pss_mb:>7.0f} {self._ratio(tier, lambda x: x.pss_mb, False):>5.2f} |"
                f"{t.cold_start_s:>13.2f} {self._ratio(tier, lambda x: x.cold_start_s, False):>5.2f}"
                f" {t.cold_cpu_s:>6.2f}")
        st = self.settings
        versus = "the best peer" if self.reference != self.tiers else "the best tier"
        rows += [
            "",
            f"x: ratio to {versus} for that figure (best = highest req/s, lowest otherwise).",
            f"req/s: median of {st['rounds']} round(s), {st['burst_seconds']} s ab bursts for "
            f"list/show, {st['concurrency'] * st['creates_per_client']} creates per round; "
            f"concurrency {st['concurrency']}; {st['stacks']} stacks listed.",
            "p50/p99: over every call of every round (creates: POST to CREATE_COMPLETE read "
            "back, status read every 0.25 s). CPU ms: the tier's CPU (master + children) per "
            "HTTP request (creates: the POST and the status reads).",
            f"PSS: master + children, the larger of after-the-rounds and after-start "
            f"(median of {st['starts']}); cold start: spawn -> first 200 on the stack list.",
            f"{os.cpu_count()} CPUs"
            + (f" (the tiers on {st['api_cores']} of their own, the back end and the clients "
               f"on the rest)" if st.get("api_cores") else "")
            + f", {st['engine_workers']} engine workers, load average "
            f"{os.getloadavg()[0]:.1f} at the end; run took {self.elapsed_s:.0f} s.",
        ]
        failed = sum(k.failed for s in self.summary.values() for k in s.kinds.values())
        if failed:
            rows.append(f"WARNING: {failed} calls failed")
        sources = [f"{t.label}: {', '.join(t.sources)}" for t in self.tiers if not t.heat_wsgi]
        if sources:
            rows.append("sources: " + "; ".join(sources))
        verdicts = self.verdicts()
        if verdicts:
            rows.append("")
        for verdict in verdicts:
            rows.append(f"{verdict.status:<20} {verdict.name}: {verdict.measured:.2f}x "
                        f"({verdict.detail})")
        return "\n".join(rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "elapsed_s": self.elapsed_s,
            "tiers": {t.key: {"label": t.label, "processes": t.processes, "threads": t.threads,
                              "heat_wsgi": t.heat_wsgi, "sources": list(t.sources),
                              "ini": t.ini_text(), **asdict(self.summary[t.key])}
                      for t in self.tiers},
            "bursts": [{k: v for k, v in asdict(b).items() if k != "latencies_ms"}
                       for b in self.results.bursts],
            "starts": [asdict(s) for s in self.results.starts],
            "verdicts": [{"name": v.name, "ratio": v.measured, "threshold": v.threshold,
                          "status": v.status, "detail": v.detail} for v in self.verdicts()],
        }
