"""Statistics over stored samples, bucketed by period."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from heat_wsgi.cw.model import Sample


@dataclass(frozen=True, slots=True, kw_only=True)
class Aggregate:
    """The statistic set of every sample in one bucket."""

    sample_count: float
    total: float
    minimum: float
    maximum: float

    def value(self, statistic: str) -> float:
        if statistic == "SampleCount":
            return self.sample_count
        if statistic == "Sum":
            return self.total
        if statistic == "Minimum":
            return self.minimum
        if statistic == "Maximum":
            return self.maximum
        if statistic == "Average":
            return self.total / self.sample_count
        raise ValueError(f"statistic: must be one of SampleCount, Sum, Minimum, Maximum, "
                         f"Average (got {statistic!r})")


def aggregate(samples: Iterable[Sample]) -> Aggregate | None:
    """Merge statistic sets; None when there is nothing to merge."""
    count = total = 0.0
    low = high = None
    for s in samples:
        count += s.sample_count
        total += s.total
        low = s.minimum if low is None else min(low, s.minimum)
        high = s.maximum if high is None else max(high, s.maximum)
    if low is None or high is None:
        return None
    return Aggregate(sample_count=count, total=total, minimum=low, maximum=high)


def bucket_start(ts_ms: int, origin_ms: int, period_s: int) -> int:
    """Start of the period holding ``ts_ms``, periods counted from ``origin_ms``."""
    width = period_s * 1000
    return origin_ms + (ts_ms - origin_ms) // width * width


def by_bucket(samples: Sequence[Sample], origin_ms: int, period_s: int,
              split_units: bool) -> dict[tuple[int, str], Aggregate]:
    """Aggregates keyed by (bucket start, unit). With ``split_units`` off the
    unit part is "" and samples of every unit share a bucket."""
    groups: dict[tuple[int, str], list[Sample]] = {}
    for s in samples:
        key = (bucket_start(s.ts_ms, origin_ms, period_s), s.unit if split_units else "")
        groups.setdefault(key, []).append(s)
    out: dict[tuple[int, str], Aggregate] = {}
    for key, group in groups.items():
        agg = aggregate(group)
        if agg is not None:
            out[key] = agg
    return out
