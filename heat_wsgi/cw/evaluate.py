"""Pure alarm evaluation: an alarm's configuration and samples -> its state.

The alarm looks at its last ``EvaluationPeriods`` periods, aligned to
multiples of ``Period`` since the epoch. The period in progress counts
once it has data (so a PutMetricData above the threshold acts at once);
while it has none, the window ends at the last complete period instead,
so an alarm fed once per period does not flap to INSUFFICIENT_DATA at
every period boundary.

Each period with data is reduced to the alarm's statistic and compared
with the threshold. Periods without data follow ``TreatMissingData``:
``breaching``/``notBreaching`` count them as such, ``missing`` (the
default) and ``ignore`` leave them out. Then:

* ALARM when at least ``DatapointsToAlarm`` (default: all) periods breach;
* otherwise OK when at least one period was evaluated;
* otherwise INSUFFICIENT_DATA, except with ``ignore``, which keeps the
  current state (``None``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from heat_wsgi.cw.model import COMPARISON_WORDS, COMPARISONS, AlarmConfig, Sample, iso8601
from heat_wsgi.cw.stats import by_bucket

# AWS caps StateReason at 1023 characters and StateReasonData at 4000; an
# alarm over many periods names only its most recent ones.
SHOWN_DATAPOINTS = 5
MAX_REASON = 1023
MAX_REASON_DATA = 4000


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    state: str
    reason: str
    reason_data: str


def window(config: AlarmConfig, now_ms: int, current_has_data: bool) -> tuple[int, int]:
    """[start, end) in epoch ms of the periods the alarm looks at."""
    width = config.period * 1000
    end = (now_ms // width + 1) * width
    if not current_has_data:
        end -= width
    return end - config.evaluation_periods * width, end


def evaluate(config: AlarmConfig, samples: Sequence[Sample], now_ms: int) -> Verdict | None:
    """The state the alarm should be in now; None means "keep the current one"."""
    width = config.period * 1000
    relevant = [s for s in samples if config.unit is None or s.unit == config.unit]
    current = now_ms // width * width
    has_current = any(current <= s.ts_ms < current + width for s in relevant)
    start, end = window(config, now_ms, has_current)
    buckets = by_bucket([s for s in relevant if start <= s.ts_ms < end], start, config.period,
                        split_units=False)
    compare = COMPARISONS[config.comparison]
    treat = config.treat_missing_data or "missing"
    evaluated: list[tuple[int, float | None, bool]] = []
    for bucket in range(start, end, width):
        agg = buckets.get((bucket, ""))
        if agg is not None:
            value = agg.value(config.statistic)
            evaluated.append((bucket, value, compare(value, config.threshold)))
        elif treat in ("breaching", "notBreaching"):
            evaluated.append((bucket, None, treat == "breaching"))
    breaches = sum(1 for _, _, breach in evaluated if breach)
    needed = config.required_breaches
    if breaches >= needed:
        state = "ALARM"
    elif evaluated:
        state = "OK"
    elif treat == "ignore":
        return None
    else:
        state = "INSUFFICIENT_DATA"
    return Verdict(state=state, reason=_reason(config, state, evaluated, breaches),
                   reason_data=_reason_data(config, now_ms, start, evaluated))


def _reason(config: AlarmConfig, state: str, evaluated: list[tuple[int, float | None, bool]],
            breaches: int) -> str:
    if state == "INSUFFICIENT_DATA":
        return (f"Insufficient Data: no datapoints were received for the last "
                f"{config.evaluation_periods} period(s) of {config.period} seconds.")
    recent = evaluated[-SHOWN_DATAPOINTS:]
    shown = ", ".join(f"{value} ({iso8601(ts)})" if value is not None else f"missing ({iso8601(ts)})"
                      for ts, value, _ in recent)
    if len(recent) < len(evaluated):
        shown = "..., " + shown
    words = COMPARISON_WORDS[config.comparison]
    if state == "ALARM":
        text = (f"Threshold Crossed: {breaches} out of the last {len(evaluated)} datapoints "
                f"[{shown}] were {words} the threshold ({config.threshold}) "
                f"(minimum {config.required_breaches} for ALARM).")
    else:
        text = (f"Threshold Crossed: {breaches} out of the last {len(evaluated)} datapoints "
                f"[{shown}] were {words} the threshold ({config.threshold}), fewer than the "
                f"{config.required_breaches} needed for ALARM.")
    return text[:MAX_REASON]


def _reason_data(config: AlarmConfig, now_ms: int, start: int,
                 evaluated: list[tuple[int, float | None, bool]]) -> str:
    shown = len(evaluated)
    while True:
        recent = evaluated[len(evaluated) - shown:]
        text = json.dumps({
            "version": "1.0", "queryDate": iso8601(now_ms), "startDate": iso8601(start),
            "statistic": config.statistic, "period": config.period,
            "threshold": config.threshold,
            "recentDatapoints": [v for _, v, _ in recent if v is not None],
            "evaluatedDatapoints": [{"timestamp": iso8601(ts), "value": v, "breaching": b}
                                    for ts, v, b in recent],
        }, separators=(",", ":"))
        if len(text) <= MAX_REASON_DATA or shown == 0:
            return text
        shown = shown // 2
