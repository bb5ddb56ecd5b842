"""XML responses and AWS error documents, in the 2010-08-01 namespace."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from heat_wsgi.cw.model import XMLNS, Alarm, Dimensions, Metric, iso8601

Element = ET.Element


def response(action: str, result: Element | None, request_id: str) -> bytes:
    """``<ActionResponse>`` with the result (when the action has one) and
    ``ResponseMetadata/RequestId``."""
    root = ET.Element(f"{action}Response", xmlns=XMLNS)
    if result is not None:
        root.append(result)
    meta = ET.SubElement(root, "ResponseMetadata")
    ET.SubElement(meta, "RequestId").text = request_id
    return _bytes(root)


def error(code: str, message: str, fault_type: str, request_id: str) -> bytes:
    root = ET.Element("ErrorResponse", xmlns=XMLNS)
    err = ET.SubElement(root, "Error")
    ET.SubElement(err, "Type").text = fault_type
    ET.SubElement(err, "Code").text = code
    ET.SubElement(err, "Message").text = message
    ET.SubElement(root, "RequestId").text = request_id
    return _bytes(root)


def _bytes(root: Element) -> bytes:
    body = bytes(ET.tostring(root, encoding="utf-8", xml_declaration=False))
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _text(parent: Element, tag: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        value = "true" if value else "false"
    ET.SubElement(parent, tag).text = str(value)


def _members(parent: Element, tag: str, values: Sequence[str]) -> None:
    holder = ET.SubElement(parent, tag)
    for value in values:
        ET.SubElement(holder, "member").text = value


def _dimensions(parent: Element, dims: Dimensions) -> None:
    holder = ET.SubElement(parent, "Dimensions")
    for name, value in dims:
        member = ET.SubElement(holder, "member")
        _text(member, "Name", name)
        _text(member, "Value", value)


def metrics_result(found: Sequence[Metric], next_token: str | None) -> Element:
    result = ET.Element("ListMetricsResult")
    holder = ET.SubElement(result, "Metrics")
    for m in found:
        member = ET.SubElement(holder, "member")
        _text(member, "Namespace", m.namespace)
        _text(member, "MetricName", m.name)
        _dimensions(member, m.dimensions)
    _text(result, "NextToken", next_token)
    return result


def statistics_result(label: str, points: Sequence[tuple[int, str, dict[str, float]]]) -> Element:
    """``points``: (timestamp ms, unit, {statistic: value}) in time order."""
    result = ET.Element("GetMetricStatisticsResult")
    _text(result, "Label", label)
    holder = ET.SubElement(result, "Datapoints")
    for ts, unit, values in points:
        member = ET.SubElement(holder, "member")
        _text(member, "Timestamp", iso8601(ts))
        for statistic, value in values.items():
            _text(member, statistic, repr(float(value)))
        _text(member, "Unit", unit)
    return result


def alarms_result(tag: str, found: Sequence[Alarm], next_token: str | None = None) -> Element:
    """DescribeAlarmsResult / DescribeAlarmsForMetricResult."""
    result = ET.Element(tag)
    holder = ET.SubElement(result, "MetricAlarms")
    for alarm in found:
        _alarm(ET.SubElement(holder, "member"), alarm)
    if tag == "DescribeAlarmsResult":
        ET.SubElement(result, "CompositeAlarms")
    _text(result, "NextToken", next_token)
    return result


def _texts(parent: Element, pairs: Sequence[tuple[str, object]]) -> None:
    for tag, value in pairs:
        _text(parent, tag, value)


def _alarm(member: Element, alarm: Alarm) -> None:
    # In the order AWS's MetricAlarm shape lists its members.
    c = alarm.config
    _texts(member, (("AlarmName", c.name), ("AlarmArn", alarm.arn),
                    ("AlarmDescription", c.description),
                    ("AlarmConfigurationUpdatedTimestamp", iso8601(alarm.config_updated_ms)),
                    ("ActionsEnabled", c.actions_enabled)))
    _members(member, "OKActions", c.ok_actions)
    _members(member, "AlarmActions", c.alarm_actions)
    _members(member, "InsufficientDataActions", c.insufficient_data_actions)
    _texts(member, (("StateValue", alarm.state), ("StateReason", alarm.state_reason),
                    ("StateReasonData", alarm.state_reason_data),
                    ("StateUpdatedTimestamp", iso8601(alarm.state_updated_ms)),
                    ("MetricName", c.metric_name), ("Namespace", c.namespace),
                    ("Statistic", c.statistic)))
    _dimensions(member, c.dimensions)
    _texts(member, (("Period", c.period), ("Unit", c.unit),
                    ("EvaluationPeriods", c.evaluation_periods),
                    ("DatapointsToAlarm", c.datapoints_to_alarm),
                    ("Threshold", repr(float(c.threshold))), ("ComparisonOperator", c.comparison),
                    ("TreatMissingData", c.treat_missing_data),
                    ("StateTransitionedTimestamp", iso8601(alarm.state_updated_ms))))
