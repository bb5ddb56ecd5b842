"""Typed values of the CloudWatch API: enums, limits, metrics and alarms."""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

API_VERSION = "2010-08-01"
XMLNS = "http://monitoring.amazonaws.com/doc/2010-08-01/"

STATISTICS: tuple[str, ...] = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
STATES: tuple[str, ...] = ("OK", "ALARM", "INSUFFICIENT_DATA")
TREAT_MISSING: tuple[str, ...] = ("breaching", "notBreaching", "ignore", "missing")

# The units of the AWS API, plus "Counter": heat-cfntools' cfn-push-stats
# sends it for --heartbeat and --service-failure, and old Heat accepted it.
UNITS: tuple[str, ...] = (
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
    "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
    "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
    "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
    "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
    "Counter")

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
# AWS's anomaly-detection operators need a ThresholdMetricId (metric math),
# which heat_wsgi does not implement.
ANOMALY_COMPARISONS: tuple[str, ...] = (
    "LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold",
    "GreaterThanUpperThreshold")
COMPARISON_WORDS: dict[str, str] = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}

# Limits, chosen to match AWS CloudWatch's documented quotas.
MAX_METRIC_DATA = 1000          # MetricData members per PutMetricData
MAX_DIMENSIONS = 30             # dimensions per metric
MAX_VALUES = 150                # Values/Counts members per datum
MAX_STATISTIC_DATAPOINTS = 1440  # datapoints one GetMetricStatistics may return
MAX_ALARM_NAMES = 100           # AlarmNames members per request
MAX_ACTIONS = 5                 # actions per state
MAX_DESCRIBE_RECORDS = 100
DEFAULT_DESCRIBE_RECORDS = 50
LIST_METRICS_PAGE = 500
PAST_LIMIT_MS = 14 * 24 * 3600 * 1000  # datapoints may be two weeks old ...
FUTURE_LIMIT_MS = 2 * 3600 * 1000      # ... and up to two hours ahead
RECENTLY_ACTIVE_MS = 3 * 3600 * 1000   # ListMetrics RecentlyActive=PT3H

Dimensions = tuple[tuple[str, str], ...]


def iso8601(ms: int) -> str:
    """Epoch milliseconds as AWS writes times: ``2024-05-01T12:00:00.000Z``."""
    when = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def metric_key(project: str, namespace: str, name: str, dimensions: Dimensions) -> str:
    """The identity of a metric (AWS: namespace + name + exact dimension set),
    hashed so it fits one indexed column whatever the dimension sizes."""
    canonical = json.dumps([project, namespace, name, sorted(dimensions)],
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """One stored datapoint: a statistic set, whichever way it was sent
    (a single Value is a set of one)."""

    ts_ms: int
    unit: str
    sample_count: float
    total: float
    minimum: float
    maximum: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricDatum:
    name: str
    dimensions: Dimensions
    samples: tuple[Sample, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    namespace: str
    name: str
    dimensions: Dimensions


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmConfig:
    """What PutMetricAlarm sets; replaced as a whole on update."""

    name: str
    description: str | None
    actions_enabled: bool
    ok_actions: tuple[str, ...]
    alarm_actions: tuple[str, ...]
    insufficient_data_actions: tuple[str, ...]
    namespace: str
    metric_name: str
    dimensions: Dimensions
    statistic: str
    period: int
    unit: str | None
    evaluation_periods: int
    datapoints_to_alarm: int | None
    threshold: float
    comparison: str
    treat_missing_data: str | None

    @property
    def required_breaches(self) -> int:
        return self.datapoints_to_alarm or self.evaluation_periods

    def actions_for(self, state: str) -> tuple[str, ...]:
        return {"OK": self.ok_actions, "ALARM": self.alarm_actions,
                "INSUFFICIENT_DATA": self.insufficient_data_actions}[state]


@dataclass(frozen=True, slots=True, kw_only=True)
class Alarm:
    """A stored alarm: its configuration and its current state.

    ``version`` grows by one on every state change; a transition is written
    only if the version is still the one it was computed from.
    """

    id: int
    project: str
    config: AlarmConfig
    arn: str
    state: str
    state_reason: str
    state_reason_data: str | None
    state_updated_ms: int
    config_updated_ms: int
    version: int
