"""One typed, validated request per action, built from the parameter tree.

``shapes`` checks names, types and sizes; the functions here add the rules
that span fields (Value vs StatisticValues, Statistics vs
ExtendedStatistics, period multiples, time windows, ...). Nothing here
touches the database: a request that gets past ``parse`` is well formed.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from heat_wsgi.cw import model
from heat_wsgi.cw.errors import CloudWatchError, combination, invalid_value, missing
from heat_wsgi.cw.query import AUTH_PARAMS, Tree
from heat_wsgi.cw.shapes import (Boolean, Double, Integer, ListOf, Struct, Text,
                                 Timestamp, Unsupported, decode)

# --- shapes, after the AWS service model -------------------------------------

NAME = Text(min_len=1, max_len=255)
NAMESPACE = Text(min_len=1, max_len=255)
UNIT = Text(choices=model.UNITS)
DIMENSION = Struct(fields={"Name": NAME, "Value": Text(min_len=1, max_len=1024)},
                   required=frozenset({"Name", "Value"}))
DIMENSIONS = ListOf(item=DIMENSION, max_items=model.MAX_DIMENSIONS)
DIMENSION_FILTER = Struct(fields={"Name": NAME, "Value": Text(min_len=1, max_len=1024)},
                          required=frozenset({"Name"}))
ALARM_NAMES = ListOf(item=NAME, max_items=model.MAX_ALARM_NAMES)
ACTIONS = ListOf(item=Text(min_len=1, max_len=1024), max_items=model.MAX_ACTIONS)
STATISTIC = Text(choices=model.STATISTICS)
STATE = Text(choices=model.STATES)
NO_EXTENDED = Unsupported(reason="percentile statistics are not supported by heat_wsgi; "
                               "use Statistics (SampleCount, Average, Sum, Minimum, Maximum)")
NO_MATH = Unsupported(reason="metric math is not supported by heat_wsgi")
NO_COMPOSITE = Unsupported(reason="composite alarms are not supported by heat_wsgi")
TAGS = ListOf(item=Struct(fields={"Key": Text(min_len=1, max_len=128),
                                  "Value": Text(max_len=256)},
                          required=frozenset({"Key", "Value"})), max_items=50)

METRIC_DATUM = Struct(fields={
    "MetricName": NAME,
    "Dimensions": DIMENSIONS,
    "Timestamp": Timestamp(),
    "Value": Double(),
    "StatisticValues": Struct(fields={k: Double() for k in ("SampleCount", "Sum", "Minimum",
                                                            "Maximum")},
                              required=frozenset({"SampleCount", "Sum", "Minimum", "Maximum"})),
    "Values": ListOf(item=Double(), max_items=model.MAX_VALUES),
    "Counts": ListOf(item=Double(), max_items=model.MAX_VALUES),
    "Unit": UNIT,
    "StorageResolution": Integer(),
}, required=frozenset({"MetricName"}))

SHAPES: dict[str, Struct] = {
    "PutMetricData": Struct(fields={
        "Namespace": NAMESPACE,
        "MetricData": ListOf(item=METRIC_DATUM, max_items=model.MAX_METRIC_DATA, min_items=1),
        "EntityMetricData": Unsupported(reason="entities are not supported by heat_wsgi"),
        "StrictEntityValidation": Boolean(),
    }, required=frozenset({"Namespace", "MetricData"})),
    "ListMetrics": Struct(fields={
        "Namespace": NAMESPACE, "MetricName": NAME,
        "Dimensions": ListOf(item=DIMENSION_FILTER, max_items=10),
        "NextToken": Text(min_len=1, max_len=1024),
        "RecentlyActive": Text(choices=("PT3H",)),
        "IncludeLinkedAccounts": Boolean(),
        "OwningAccount": Text(min_len=1, max_len=255),
    }),
    "GetMetricStatistics": Struct(fields={
        "Namespace": NAMESPACE, "MetricName": NAME, "Dimensions": DIMENSIONS,
        "StartTime": Timestamp(), "EndTime": Timestamp(),
        "Period": Integer(minimum=1),
        "Statistics": ListOf(item=STATISTIC, max_items=5),
        "ExtendedStatistics": NO_EXTENDED,
        "Unit": UNIT,
    }, required=frozenset({"Namespace", "MetricName", "StartTime", "EndTime", "Period"})),
    "PutMetricAlarm": Struct(fields={
        "AlarmName": NAME,
        "AlarmDescription": Text(max_len=1024),
        "ActionsEnabled": Boolean(),
        "OKActions": ACTIONS, "AlarmActions": ACTIONS, "InsufficientDataActions": ACTIONS,
        "MetricName": NAME, "Namespace": NAMESPACE, "Statistic": STATISTIC,
        "ExtendedStatistic": NO_EXTENDED,
        "Dimensions": DIMENSIONS,
        "Period": Integer(minimum=1),
        "Unit": UNIT,
        "EvaluationPeriods": Integer(minimum=1),
        "DatapointsToAlarm": Integer(minimum=1),
        "Threshold": Double(),
        "ComparisonOperator": Text(choices=tuple(model.COMPARISONS) + model.ANOMALY_COMPARISONS),
        "TreatMissingData": Text(choices=model.TREAT_MISSING),
        "EvaluateLowSampleCountPercentile": Text(choices=("evaluate", "ignore")),
        "Metrics": NO_MATH, "ThresholdMetricId": NO_MATH,
        "Tags": TAGS,
    }, required=frozenset({"AlarmName", "EvaluationPeriods", "ComparisonOperator"})),
    "DescribeAlarms": Struct(fields={
        "AlarmNames": ALARM_NAMES, "AlarmNamePrefix": NAME,
        "AlarmTypes": ListOf(item=Text(choices=("MetricAlarm", "CompositeAlarm")), max_items=2),
        "ChildrenOfAlarmName": NO_COMPOSITE, "ParentsOfAlarmName": NO_COMPOSITE,
        "StateValue": STATE,
        "ActionPrefix": Text(min_len=1, max_len=1024),
        "MaxRecords": Integer(minimum=1, maximum=model.MAX_DESCRIBE_RECORDS),
        "NextToken": Text(min_len=1, max_len=1024),
    }),
    "DescribeAlarmsForMetric": Struct(fields={
        "MetricName": NAME, "Namespace": NAMESPACE, "Statistic": STATISTIC,
        "ExtendedStatistic": NO_EXTENDED, "Dimensions": DIMENSIONS,
        "Period": Integer(minimum=1), "Unit": UNIT,
    }, required=frozenset({"MetricName", "Namespace"})),
    "SetAlarmState": Struct(fields={
        "AlarmName": NAME, "StateValue": STATE,
        "StateReason": Text(max_len=1023), "StateReasonData": Text(max_len=4000),
    }, required=frozenset({"AlarmName", "StateValue", "StateReason"})),
    "DeleteAlarms": Struct(fields={"AlarmNames": ALARM_NAMES},
                           required=frozenset({"AlarmNames"})),
    "EnableAlarmActions": Struct(fields={"AlarmNames": ALARM_NAMES},
                                 required=frozenset({"AlarmNames"})),
    "DisableAlarmActions": Struct(fields={"AlarmNames": ALARM_NAMES},
                                  required=frozenset({"AlarmNames"})),
}

# --- typed requests ----------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PutMetricData:
    namespace: str
    data: tuple[model.MetricDatum, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ListMetrics:
    namespace: str | None
    metric_name: str | None
    dimension_filters: tuple[tuple[str, str | None], ...]
    recently_active: bool
    offset: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GetMetricStatistics:
    metric: model.Metric
    start_ms: int
    end_ms: int
    period: int
    statistics: tuple[str, ...]
    unit: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PutMetricAlarm:
    config: model.AlarmConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class DescribeAlarms:
    names: tuple[str, ...] | None
    name_prefix: str | None
    state: str | None
    action_prefix: str | None
    metric_alarms: bool
    max_records: int
    offset: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DescribeAlarmsForMetric:
    namespace: str
    metric_name: str
    statistic: str | None
    dimensions: model.Dimensions | None
    period: int | None
    unit: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetAlarmState:
    name: str
    state: str
    reason: str
    reason_data: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmNames:
    """DeleteAlarms, EnableAlarmActions and DisableAlarmActions."""

    names: tuple[str, ...]


Request = (PutMetricData | ListMetrics | GetMetricStatistics | PutMetricAlarm | DescribeAlarms
           | DescribeAlarmsForMetric | SetAlarmState | AlarmNames)


def parse(tree: Tree, now_ms: int) -> tuple[str, Request]:
    """The action named by ``Action`` and its validated request."""
    tree = dict(tree)
    action = tree.pop("Action", None)
    version = tree.pop("Version", None)
    for name in AUTH_PARAMS:
        tree.pop(name, None)
    for name in [n for n in tree if n.startswith("X-Amz-")]:
        tree.pop(name)
    if action is None:
        raise CloudWatchError("MissingAction", "The request must contain the parameter Action")
    if not isinstance(action, str) or action not in SHAPES:
        shown = action if isinstance(action, str) else "Action.*"
        raise CloudWatchError("InvalidAction",
                              f"Action: must be one of {', '.join(sorted(SHAPES))} (got {shown!r})")
    if version is None:
        raise missing("Version")
    if version != model.API_VERSION:
        raise CloudWatchError("NoSuchVersion",
                              f"Version: must be {model.API_VERSION} (got {version!r})")
    values = decode(tree, SHAPES[action], "")
    return action, _BUILDERS[action](values, now_ms)


def _dimensions(items: list[dict[str, str]], path: str) -> model.Dimensions:
    names = [d["Name"] for d in items]
    for name in names:
        if names.count(name) > 1:
            raise invalid_value(f"{path}", "name each dimension once", name)
    return tuple(sorted((d["Name"], d["Value"]) for d in items))


def _namespace(value: str, path: str) -> str:
    # AWS: no leading colon, and at least one non-blank character. AWS also
    # reserves "AWS/" for its own services; heat_wsgi has none, and
    # cfn-push-stats --haproxy publishes into AWS/ELB, so it is allowed.
    if value.startswith(":") or not value.strip():
        raise invalid_value(path, "not start with ':' and not be blank", value)
    return value


def _put_metric_data(v: Mapping[str, Any], now_ms: int) -> PutMetricData:
    namespace = _namespace(v["Namespace"], "Namespace")
    data = []
    for i, d in enumerate(v["MetricData"], start=1):
        path = f"MetricData.member.{i}"
        ts = d.get("Timestamp", now_ms)
        if not now_ms - model.PAST_LIMIT_MS <= ts <= now_ms + model.FUTURE_LIMIT_MS:
            raise invalid_value(f"{path}.Timestamp",
                                "be at most two weeks in the past and two hours in the future",
                                _iso(ts))
        if d.get("StorageResolution", 60) not in (1, 60):
            raise invalid_value(f"{path}.StorageResolution", "be 1 or 60", d["StorageResolution"])
        unit = d.get("Unit", "None")
        given = [k for k in ("Value", "StatisticValues", "Values") if k in d]
        if len(given) != 1:
            raise combination(f"{path}: give exactly one of Value, StatisticValues and Values "
                              f"(got {', '.join(given) or 'none'})")
        if "Counts" in d and "Values" not in d:
            raise combination(f"{path}.Counts: needs {path}.Values")
        data.append(model.MetricDatum(name=d["MetricName"],
                                      dimensions=_dimensions(d.get("Dimensions", []),
                                                             f"{path}.Dimensions"),
                                      samples=_samples(d, path, ts, unit)))
    return PutMetricData(namespace=namespace, data=tuple(data))


def _samples(d: Mapping[str, Any], path: str, ts: int, unit: str) -> tuple[model.Sample, ...]:
    if "Value" in d:
        v = d["Value"]
        return (model.Sample(ts_ms=ts, unit=unit, sample_count=1, total=v, minimum=v, maximum=v),)
    if "StatisticValues" in d:
        s = d["StatisticValues"]
        if s["SampleCount"] <= 0:
            raise invalid_value(f"{path}.StatisticValues.SampleCount", "be greater than 0",
                                s["SampleCount"])
        if s["Minimum"] > s["Maximum"]:
            raise invalid_value(f"{path}.StatisticValues.Minimum",
                                f"not exceed Maximum ({s['Maximum']})", s["Minimum"])
        return (model.Sample(ts_ms=ts, unit=unit, sample_count=s["SampleCount"], total=s["Sum"],
                             minimum=s["Minimum"], maximum=s["Maximum"]),)
    values: list[float] = d["Values"]
    counts: list[float] = d.get("Counts", [1.0] * len(values))
    if not values:
        raise missing(f"{path}.Values.member.1")
    if len(counts) != len(values):
        raise combination(f"{path}.Counts: must have as many members as Values "
                          f"({len(values)}) (got {len(counts)})")
    for j, c in enumerate(counts, start=1):
        if c <= 0:
            raise invalid_value(f"{path}.Counts.member.{j}", "be greater than 0", c)
    # Values/Counts is a histogram of one period: stored as one statistic set.
    return (model.Sample(ts_ms=ts, unit=unit, sample_count=sum(counts),
                         total=sum(v * c for v, c in zip(values, counts)),
                         minimum=min(values), maximum=max(values)),)


def _list_metrics(v: Mapping[str, Any], now_ms: int) -> ListMetrics:
    return ListMetrics(
        namespace=_namespace(v["Namespace"], "Namespace") if "Namespace" in v else None,
        metric_name=v.get("MetricName"),
        dimension_filters=tuple((f["Name"], f.get("Value")) for f in v.get("Dimensions", [])),
        recently_active="RecentlyActive" in v,
        offset=decode_token(v.get("NextToken")))


def _check_period(period: int, path: str, allow_high_resolution: bool) -> None:
    allowed = (1, 5, 10, 30) if allow_high_resolution else (10, 30)
    if period not in allowed and period % 60:
        raise invalid_value(path, f"be {', '.join(map(str, allowed))} or a multiple of 60", period)


def _get_metric_statistics(v: Mapping[str, Any], now_ms: int) -> GetMetricStatistics:
    _check_period(v["Period"], "Period", allow_high_resolution=True)
    start, end = v["StartTime"], v["EndTime"]
    if start >= end:
        raise invalid_value("StartTime", f"be before EndTime ({_iso(end)})", _iso(start))
    if "Statistics" not in v or not v["Statistics"]:
        raise missing("Statistics.member.1")
    buckets = -(-(end - start) // (v["Period"] * 1000))
    if buckets > model.MAX_STATISTIC_DATAPOINTS:
        raise combination(f"StartTime/EndTime/Period: ask for at most "
                          f"{model.MAX_STATISTIC_DATAPOINTS} datapoints (got {buckets})")
    metric = model.Metric(namespace=_namespace(v["Namespace"], "Namespace"),
                          name=v["MetricName"],
                          dimensions=_dimensions(v.get("Dimensions", []), "Dimensions"))
    return GetMetricStatistics(metric=metric, start_ms=start, end_ms=end, period=v["Period"],
                               statistics=tuple(dict.fromkeys(v["Statistics"])),
                               unit=v.get("Unit"))


def _action_urls(values: list[str], path: str) -> tuple[str, ...]:
    for i, url in enumerate(values, start=1):
        parsed = urllib.parse.urlsplit(url)
        if not ((parsed.scheme in ("http", "https") and parsed.netloc) or url.startswith("arn:")):
            raise invalid_value(f"{path}.member.{i}",
                                "be an http(s) URL (such as a Heat signal URL) or an ARN", url)
    return tuple(values)


def _put_metric_alarm(v: Mapping[str, Any], now_ms: int) -> PutMetricAlarm:
    for name in ("MetricName", "Namespace", "Statistic", "Period", "Threshold"):
        if name not in v:
            raise missing(name)
    comparison = v["ComparisonOperator"]
    if comparison in model.ANOMALY_COMPARISONS:
        raise combination(f"ComparisonOperator: {comparison} needs ThresholdMetricId "
                          f"(anomaly detection), which heat_wsgi does not support")
    period, periods = v["Period"], v["EvaluationPeriods"]
    _check_period(period, "Period", allow_high_resolution=False)
    # AWS caps the evaluation range at one day, or seven for hourly periods.
    limit = 7 * 86400 if period >= 3600 else 86400
    if period * periods > limit:
        raise combination(f"Period x EvaluationPeriods: must be at most {limit} seconds "
                          f"(got {period} x {periods} = {period * periods})")
    to_alarm = v.get("DatapointsToAlarm")
    if to_alarm is not None and to_alarm > periods:
        raise combination(f"DatapointsToAlarm: must not exceed EvaluationPeriods ({periods}) "
                          f"(got {to_alarm})")
    config = model.AlarmConfig(
        name=v["AlarmName"], description=v.get("AlarmDescription"),
        actions_enabled=v.get("ActionsEnabled", True),
        ok_actions=_action_urls(v.get("OKActions", []), "OKActions"),
        alarm_actions=_action_urls(v.get("AlarmActions", []), "AlarmActions"),
        insufficient_data_actions=_action_urls(v.get("InsufficientDataActions", []),
                                               "InsufficientDataActions"),
        namespace=_namespace(v["Namespace"], "Namespace"), metric_name=v["MetricName"],
        dimensions=_dimensions(v.get("Dimensions", []), "Dimensions"),
        statistic=v["Statistic"], period=period, unit=v.get("Unit"),
        evaluation_periods=periods, datapoints_to_alarm=to_alarm,
        threshold=v["Threshold"], comparison=comparison,
        treat_missing_data=v.get("TreatMissingData"))
    return PutMetricAlarm(config=config)


def _describe_alarms(v: Mapping[str, Any], now_ms: int) -> DescribeAlarms:
    if "AlarmNames" in v and "AlarmNamePrefix" in v:
        raise combination("AlarmNames, AlarmNamePrefix: give at most one of them")
    types = v.get("AlarmTypes") or ["MetricAlarm"]
    return DescribeAlarms(
        names=tuple(v["AlarmNames"]) if "AlarmNames" in v else None,
        name_prefix=v.get("AlarmNamePrefix"), state=v.get("StateValue"),
        action_prefix=v.get("ActionPrefix"), metric_alarms="MetricAlarm" in types,
        max_records=v.get("MaxRecords", model.DEFAULT_DESCRIBE_RECORDS),
        offset=decode_token(v.get("NextToken")))


def _describe_alarms_for_metric(v: Mapping[str, Any], now_ms: int) -> DescribeAlarmsForMetric:
    return DescribeAlarmsForMetric(
        namespace=_namespace(v["Namespace"], "Namespace"), metric_name=v["MetricName"],
        statistic=v.get("Statistic"),
        dimensions=(_dimensions(v["Dimensions"], "Dimensions") if "Dimensions" in v else None),
        period=v.get("Period"), unit=v.get("Unit"))


def _set_alarm_state(v: Mapping[str, Any], now_ms: int) -> SetAlarmState:
    data = v.get("StateReasonData")
    if data is not None:
        try:
            json.loads(data)
        except json.JSONDecodeError as exc:
            raise CloudWatchError("InvalidFormat",
                                  f"StateReasonData: must be JSON ({exc.msg} at "
                                  f"character {exc.pos})") from None
    return SetAlarmState(name=v["AlarmName"], state=v["StateValue"], reason=v["StateReason"],
                         reason_data=data)


def _alarm_names(v: Mapping[str, Any], now_ms: int) -> AlarmNames:
    if not v["AlarmNames"]:
        raise missing("AlarmNames.member.1")
    return AlarmNames(names=tuple(dict.fromkeys(v["AlarmNames"])))


_BUILDERS: dict[str, Callable[[Mapping[str, Any], int], Request]] = {
    "PutMetricData": _put_metric_data,
    "ListMetrics": _list_metrics,
    "GetMetricStatistics": _get_metric_statistics,
    "PutMetricAlarm": _put_metric_alarm,
    "DescribeAlarms": _describe_alarms,
    "DescribeAlarmsForMetric": _describe_alarms_for_metric,
    "SetAlarmState": _set_alarm_state,
    "DeleteAlarms": _alarm_names,
    "EnableAlarmActions": _alarm_names,
    "DisableAlarmActions": _alarm_names,
}


def encode_token(offset: int) -> str:
    """An opaque paging token. It is only an offset: paging a list that
    changes in between may skip or repeat entries, as documented."""
    return f"o{offset}"


def decode_token(token: str | None) -> int:
    if token is None:
        return 0
    if not re.fullmatch(r"o[0-9]{1,10}", token):
        raise CloudWatchError("InvalidNextToken",
                              f"NextToken: must be a token from an earlier response (got {token!r})")
    return int(token[1:])


_iso = model.iso8601
