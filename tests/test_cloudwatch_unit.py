"""heat_wsgi.cw without servers: parsing, validation, evaluation, storage.

The app runs in-process on SQLite here; tests/test_cloudwatch_real.py runs
it under uwsgi on MariaDB with real clients.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import botocore.model
import botocore.serialize
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heat_wsgi import cli
from heat_wsgi.cw import model, query, requests, schema
from heat_wsgi.cw.app import CloudWatchApp
from heat_wsgi.cw.client import write_query_model
from heat_wsgi.cw.errors import CloudWatchError
from heat_wsgi.cw.evaluate import evaluate
from heat_wsgi.cw.fault import FaultWrap
from heat_wsgi.cw.model import AlarmConfig, Sample
from heat_wsgi.cw.notify import Notifier, Transition
from heat_wsgi.cw.service import Service
from heat_wsgi.cw.stats import aggregate
from heat_wsgi.cw.store import Store, make_engine

NOW = 1_700_000_040_000  # a whole minute, in epoch ms
NS = "http://monitoring.amazonaws.com/doc/2010-08-01/"


def parse(params: dict[str, str], now: int = NOW) -> tuple[str, requests.Request]:
    return requests.parse(query.build_tree(params), now)


def base(action: str, **params: str) -> dict[str, str]:
    return {"Action": action, "Version": "2010-08-01", **params}


def code_of(params: dict[str, str]) -> str:
    with pytest.raises(CloudWatchError) as exc:
        parse(params)
    return exc.value.code


# --- the query tree and shapes ------------------------------------------------


def test_member_lists_nest_and_keep_their_index_order():
    _, req = parse(base(
        "PutMetricData", Namespace="N",
        **{"MetricData.member.2.MetricName": "b", "MetricData.member.2.Value": "2",
           "MetricData.member.10.MetricName": "c", "MetricData.member.10.Value": "3",
           "MetricData.member.1.MetricName": "a", "MetricData.member.1.Value": "1",
           "MetricData.member.1.Dimensions.member.1.Name": "z",
           "MetricData.member.1.Dimensions.member.1.Value": "1",
           "MetricData.member.1.Dimensions.member.2.Name": "y",
           "MetricData.member.1.Dimensions.member.2.Value": "2"}))
    assert isinstance(req, requests.PutMetricData)
    assert [d.name for d in req.data] == ["a", "b", "c"]
    assert req.data[0].dimensions == (("y", "2"), ("z", "1"))
    assert req.data[2].samples[0].total == 3.0


@pytest.mark.parametrize("params, code", [
    ({"Version": "2010-08-01"}, "MissingAction"),
    (base("Nope"), "InvalidAction"),
    ({"Action": "ListMetrics"}, "MissingParameter"),
    (base("ListMetrics", Version="2009-01-01"), "NoSuchVersion"),
    (base("ListMetrics", Extra="1"), "InvalidQueryParameter"),
    (base("ListMetrics", **{"Namespace": "a", "Namespace.x": "b"}), "InvalidQueryParameter"),
    (base("DeleteAlarms", **{"AlarmNames.member.0": "a"}), "InvalidQueryParameter"),
    (base("DeleteAlarms", **{"AlarmNames.member.01": "a"}), "InvalidQueryParameter"),
    (base("DeleteAlarms", **{"AlarmNames.item.1": "a"}), "InvalidQueryParameter"),
    (base("DeleteAlarms", AlarmNames=""), "MissingParameter"),
    (base("DeleteAlarms", **{f"AlarmNames.member.{i}": "a" for i in range(1, 102)}),
     "InvalidParameterValue"),
    (base("DescribeAlarms", MaxRecords="101"), "InvalidParameterValue"),
    (base("DescribeAlarms", MaxRecords="1.5"), "InvalidParameterValue"),
    (base("DescribeAlarms", StateValue="ok"), "InvalidParameterValue"),
    (base("DescribeAlarms", NextToken="o-1"), "InvalidNextToken"),
    (base("DescribeAlarms", ChildrenOfAlarmName="x"), "InvalidParameterValue"),
    (base("PutMetricData", Namespace=":x", **{"MetricData.member.1.MetricName": "m",
                                               "MetricData.member.1.Value": "1"}),
     "InvalidParameterValue"),
    (base("PutMetricData", Namespace="N"), "MissingParameter"),
    (base("PutMetricData", Namespace="N", **{"MetricData.member.1.MetricName": "m"}),
     "InvalidParameterCombination"),
    (base("PutMetricData", Namespace="N", **{"MetricData.member.1.MetricName": "m",
                                              "MetricData.member.1.Value": "inf"}),
     "InvalidParameterValue"),
    (base("PutMetricData", Namespace="N", **{"MetricData.member.1.MetricName": "m",
                                              "MetricData.member.1.Value": "1",
                                              "MetricData.member.1.StorageResolution": "5"}),
     "InvalidParameterValue"),
    (base("PutMetricData", Namespace="N", **{
        "MetricData.member.1.MetricName": "m", "MetricData.member.1.Value": "1",
        "MetricData.member.1.Dimensions.member.1.Name": "d",
        "MetricData.member.1.Dimensions.member.1.Value": "1",
        "MetricData.member.1.Dimensions.member.2.Name": "d",
        "MetricData.member.1.Dimensions.member.2.Value": "2"}), "InvalidParameterValue"),
    (base("PutMetricData", Namespace="N", **{"MetricData.member.1.MetricName": "m\x01",
                                              "MetricData.member.1.Value": "1"}),
     "InvalidParameterValue"),
    (base("PutMetricData", Namespace="N", **{
        "MetricData.member.1.MetricName": "m",
        "MetricData.member.1.StatisticValues.SampleCount": "1",
        "MetricData.member.1.StatisticValues.Sum": "1",
        "MetricData.member.1.StatisticValues.Minimum": "5",
        "MetricData.member.1.StatisticValues.Maximum": "1"}), "InvalidParameterValue"),
    (base("PutMetricData", Namespace="N", **{
        "MetricData.member.1.MetricName": "m",
        "MetricData.member.1.StatisticValues.SampleCount": "1"}), "MissingParameter"),
    (base("GetMetricStatistics", Namespace="N", MetricName="m", Period="60",
          StartTime="2023-11-14T22:00:00Z", EndTime="2023-11-14T21:00:00Z",
          **{"Statistics.member.1": "Sum"}), "InvalidParameterValue"),
    (base("GetMetricStatistics", Namespace="N", MetricName="m", Period="60",
          StartTime="2023-11-14T20:00:00Z", EndTime="2023-11-14T21:00:00Z"), "MissingParameter"),
    (base("GetMetricStatistics", Namespace="N", MetricName="m", Period="61",
          StartTime="2023-11-14T20:00:00Z", EndTime="2023-11-14T21:00:00Z",
          **{"Statistics.member.1": "Sum"}), "InvalidParameterValue"),
    (base("GetMetricStatistics", Namespace="N", MetricName="m", Period="60",
          StartTime="2023-11-14T20:00:00Z", EndTime="2023-11-14T21:00:00Z",
          **{"ExtendedStatistics.member.1": "p99"}), "InvalidParameterValue"),
    (base("SetAlarmState", AlarmName="a", StateValue="OK"), "MissingParameter"),
    (base("SetAlarmState", AlarmName="a", StateValue="OK", StateReason="r",
          StateReasonData="[1,"), "InvalidFormat"),
])
def test_bad_requests_get_their_aws_error_code(params, code):
    assert code_of(params) == code


def alarm_params(**overrides: str) -> dict[str, str]:
    params = base("PutMetricAlarm", AlarmName="a", MetricName="m", Namespace="N",
                  Statistic="Average", Period="60", EvaluationPeriods="3", Threshold="80",
                  ComparisonOperator="GreaterThanThreshold")
    params.update(overrides)
    return {k: v for k, v in params.items() if v != "-"}


@pytest.mark.parametrize("overrides, code", [
    ({"Statistic": "-"}, "MissingParameter"),
    ({"Threshold": "-"}, "MissingParameter"),
    ({"Statistic": "Median"}, "InvalidParameterValue"),
    ({"Period": "20"}, "InvalidParameterValue"),
    ({"Period": "0"}, "InvalidParameterValue"),
    ({"EvaluationPeriods": "0"}, "InvalidParameterValue"),
    ({"DatapointsToAlarm": "4"}, "InvalidParameterCombination"),
    ({"ComparisonOperator": "LessThanLowerThreshold"}, "InvalidParameterCombination"),
    ({"ComparisonOperator": "Bigger"}, "InvalidParameterValue"),
    ({"TreatMissingData": "sometimes"}, "InvalidParameterValue"),
    ({"ActionsEnabled": "yes"}, "InvalidParameterValue"),
    ({"AlarmActions.member.1": "ftp://x/"}, "InvalidParameterValue"),
    ({"Metrics.member.1.Id": "m1"}, "InvalidParameterValue"),
    ({"Period": "3600", "EvaluationPeriods": "169"}, "InvalidParameterCombination"),
])
def test_alarm_rules(overrides, code):
    assert code_of(alarm_params(**overrides)) == code


def test_a_valid_alarm_keeps_every_field():
    _, req = parse(alarm_params(**{"AlarmActions.member.1": "http://h/signal?x=1",
                                   "OKActions.member.1": "arn:aws:sns:x", "Unit": "Percent",
                                   "DatapointsToAlarm": "2", "TreatMissingData": "breaching",
                                   "Dimensions.member.1.Name": "g",
                                   "Dimensions.member.1.Value": "v",
                                   "ActionsEnabled": "false", "Tags.member.1.Key": "k",
                                   "Tags.member.1.Value": "v"}))
    assert isinstance(req, requests.PutMetricAlarm)
    c = req.config
    assert (c.alarm_actions, c.ok_actions, c.unit, c.required_breaches, c.treat_missing_data,
            c.dimensions, c.actions_enabled) == (
        ("http://h/signal?x=1",), ("arn:aws:sns:x",), "Percent", 2, "breaching",
        (("g", "v"),), False)


# --- hypothesis: botocore's serializer and our parser agree ---------------------


@pytest.fixture(scope="module")
def query_serializer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    path = write_query_model(tmp_path_factory.mktemp("model"))
    service = botocore.model.ServiceModel(json.loads(path.read_text()), "cloudwatch")
    return botocore.serialize.create_serializer("query"), service


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                min_size=1, max_size=40)
values = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
datum = st.fixed_dictionaries({
    "MetricName": names,
    "Value": values,
    "Unit": st.sampled_from(model.UNITS[:-1]),
    "Dimensions": st.lists(st.fixed_dictionaries({"Name": names, "Value": names}),
                           max_size=4, unique_by=lambda d: d["Name"]),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(namespace=names.filter(lambda n: not n.startswith(":") and n.strip()),
       data=st.lists(datum, min_size=1, max_size=5))
def test_what_botocore_serializes_parses_back_to_the_same_data(query_serializer, namespace, data):
    serializer, service = query_serializer
    request = serializer.serialize_to_request(
        {"Namespace": namespace, "MetricData": data},
        service.operation_model("PutMetricData"))
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlencode(request["body"]),
                                         keep_blank_values=True))
    action, req = parse(params)
    assert action == "PutMetricData" and isinstance(req, requests.PutMetricData)
    assert req.namespace == namespace
    for sent, got in zip(data, req.data, strict=True):
        assert got.name == sent["MetricName"]
        assert got.dimensions == tuple(sorted((d["Name"], d["Value"]) for d in sent["Dimensions"]))
        assert got.samples[0].total == pytest.approx(sent["Value"])
        assert got.samples[0].unit == sent["Unit"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=30), st.text(max_size=30), max_size=8))
def test_arbitrary_parameters_give_an_aws_error_or_a_request_never_a_crash(params):
    try:
        parse({"Version": "2010-08-01", **params})
    except CloudWatchError as exc:
        assert exc.status in (400, 404, 413)


# --- statistics and evaluation -----------------------------------------------


def sample(ts: int, value: float, unit: str = "None") -> Sample:
    return Sample(ts_ms=ts, unit=unit, sample_count=1, total=value, minimum=value, maximum=value)


def config(**overrides: Any) -> AlarmConfig:
    fields: dict[str, Any] = dict(
        name="a", description=None, actions_enabled=True, ok_actions=(), alarm_actions=(),
        insufficient_data_actions=(), namespace="N", metric_name="m", dimensions=(),
        statistic="Average", period=60, unit=None, evaluation_periods=1,
        datapoints_to_alarm=None, threshold=50.0, comparison="GreaterThanThreshold",
        treat_missing_data=None)
    fields.update(overrides)
    return AlarmConfig(**fields)


@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(1, 100)), min_size=1, max_size=20))
def test_aggregate_matches_the_plain_definitions(points):
    samples = [Sample(ts_ms=0, unit="None", sample_count=c, total=v * c, minimum=v, maximum=v)
               for v, c in points]
    agg = aggregate(samples)
    assert agg is not None
    assert agg.value("SampleCount") == pytest.approx(sum(c for _, c in points))
    assert agg.value("Minimum") == min(v for v, _ in points)
    assert agg.value("Maximum") == max(v for v, _ in points)
    assert agg.value("Average") == pytest.approx(
        sum(v * c for v, c in points) / sum(c for _, c in points), abs=1e-6)


MINUTE = 60_000


@settings(max_examples=200, deadline=None)
@given(periods=st.integers(1, 6), data=st.data())
def test_evaluation_matches_its_definition(periods, data):
    """One value (or none) per period of the window, the period in progress
    included: ALARM iff at least M periods breach, else OK if any period
    had data, else INSUFFICIENT_DATA."""
    needed = data.draw(st.integers(1, periods))
    values = data.draw(st.lists(st.one_of(st.none(), st.floats(0, 100)),
                                min_size=periods, max_size=periods))
    values[-1] = data.draw(st.floats(0, 100))  # the period in progress has data
    c = config(evaluation_periods=periods, datapoints_to_alarm=needed, statistic="Maximum")
    points = [sample(NOW - (periods - 1 - i) * MINUTE, v) for i, v in enumerate(values)
              if v is not None]
    verdict = evaluate(c, points, NOW + 30_000)
    breaches = sum(1 for v in values if v is not None and v > c.threshold)
    assert verdict is not None
    assert verdict.state == ("ALARM" if breaches >= needed else "OK")


@pytest.mark.parametrize("overrides, points, expected", [
    ({}, [(NOW, 60.0)], "ALARM"),
    ({}, [(NOW, 40.0)], "OK"),
    ({}, [], "INSUFFICIENT_DATA"),
    ({}, [(NOW, 40.0), (NOW + 1, 70.0)], "ALARM"),          # average 55
    ({"statistic": "Minimum"}, [(NOW, 40.0), (NOW + 1, 70.0)], "OK"),
    ({"comparison": "LessThanOrEqualToThreshold"}, [(NOW, 50.0)], "ALARM"),
    # The period in progress is empty: the last complete one decides.
    ({}, [(NOW - MINUTE, 70.0)], "ALARM"),
    # ... but only one period back.
    ({}, [(NOW - 2 * MINUTE, 70.0)], "INSUFFICIENT_DATA"),
    ({"evaluation_periods": 3}, [(NOW, 70.0), (NOW - MINUTE, 70.0)], "OK"),
    ({"evaluation_periods": 3, "datapoints_to_alarm": 2},
     [(NOW, 70.0), (NOW - MINUTE, 70.0)], "ALARM"),
    ({"evaluation_periods": 3, "treat_missing_data": "breaching"}, [(NOW, 70.0)], "ALARM"),
    ({"treat_missing_data": "breaching"}, [], "ALARM"),
    ({"treat_missing_data": "notBreaching"}, [], "OK"),
    ({"treat_missing_data": "ignore"}, [], None),
    ({"unit": "Percent"}, [(NOW, 70.0)], "INSUFFICIENT_DATA"),  # data is unit None
])
def test_evaluation(overrides, points, expected):
    now = NOW + 30_000
    verdict = evaluate(config(**overrides), [sample(ts, v) for ts, v in points], now)
    assert (verdict.state if verdict else None) == expected
    if verdict is not None:
        json.loads(verdict.reason_data)


# --- the app in-process on SQLite -------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, url: str, body: bytes, timeout: float) -> int:
        with self.lock:
            self.posts.append((url, json.loads(body)))
        return 200


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/cw.sqlite"
    assert cli.main(["cloudwatch", "db-sync", "--connection", url]) == 0
    assert cli.main(["cloudwatch", "db-sync", "--connection", url]) == 0  # idempotent
    return url


@pytest.fixture
def stack(db_url: str) -> tuple[CloudWatchApp, Recorder, Clock, Notifier]:
    recorder, clock = Recorder(), Clock()
    notifier = Notifier(1.0, poster=recorder)
    service = Service(Store(lambda: make_engine(db_url)), notifier, max_alarms=3, clock=clock)
    return CloudWatchApp(service), recorder, clock, notifier


def call(app: Any, params: dict[str, str], method: str = "POST",
         body: bytes | None = None, headers: dict[str, str] | None = None
         ) -> tuple[int, ET.Element]:
    import webob
    encoded = urllib.parse.urlencode(params)
    if method == "GET":
        request = webob.Request.blank("/?" + encoded)
    else:
        request = webob.Request.blank("/", method="POST", body=body if body is not None
                                      else encoded.encode(),
                                      content_type="application/x-www-form-urlencoded")
    for key, value in (headers or {}).items():
        request.headers[key] = value
    response = request.get_response(app)
    return response.status_int, ET.fromstring(response.body)


def rows(url: str) -> dict[str, int]:
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0]
                for t in ("heat_wsgi_cw_metrics", "heat_wsgi_cw_samples", "heat_wsgi_cw_alarms")}
    finally:
        conn.close()


def put(app: Any, value: float, name: str = "m", method: str = "POST") -> int:
    status, _ = call(app, base("PutMetricData", Namespace="N", **{
        "MetricData.member.1.MetricName": name, "MetricData.member.1.Value": str(value)}),
        method=method)
    return status


def test_responses_are_aws_documents(stack):
    app, *_ = stack
    assert put(app, 1.0, method="GET") == 200
    status, root = call(app, base("ListMetrics"))
    assert status == 200 and root.tag == f"{{{NS}}}ListMetricsResponse"
    assert root.find(f"{{{NS}}}ResponseMetadata/{{{NS}}}RequestId").text.startswith("req-")
    assert root.find(f"{{{NS}}}ListMetricsResult/{{{NS}}}Metrics/{{{NS}}}member/"
                     f"{{{NS}}}MetricName").text == "m"
    status, root = call(app, base("DescribeAlarms", MaxRecords="x"))
    assert status == 400 and root.tag == f"{{{NS}}}ErrorResponse"
    error = root.find(f"{{{NS}}}Error")
    assert [c.tag.split("}")[1] for c in error] == ["Type", "Code", "Message"]
    assert error.find(f"{{{NS}}}Message").text == "MaxRecords: must be an integer (got 'x')"


def test_bad_input_leaves_the_database_unchanged(stack, db_url):
    app, *_ = stack
    put(app, 1.0)
    call(app, alarm_params())
    before = rows(db_url)
    bad = [
        base("PutMetricData", Namespace="N", **{
            "MetricData.member.1.MetricName": "new", "MetricData.member.1.Value": "1",
            "MetricData.member.2.MetricName": "new2", "MetricData.member.2.Value": "x"}),
        alarm_params(AlarmName="b", Period="7"),
        base("DeleteAlarms", **{"AlarmNames.member.1": "a", "AlarmNames.member.2": "zz"}),
    ]
    for params in bad:
        status, _ = call(app, params)
        assert status in (400, 404)
    status, root = call(app, {}, body=b"Action=ListMetrics&" + b"x" * (query.MAX_BODY_BYTES + 1))
    assert status == 413
    status, _ = call(app, {}, body=b"\x1f\x8b garbage", headers={"Content-Encoding": "gzip"})
    assert status == 400
    status, _ = call(app, {}, body=b"a", headers={"Content-Encoding": "br"})
    assert status == 400
    assert rows(db_url) == before


def test_gzip_bodies_are_read(stack):
    import gzip
    app, *_ = stack
    body = gzip.compress(urllib.parse.urlencode(base("ListMetrics")).encode())
    assert call(app, {}, body=body, headers={"Content-Encoding": "gzip"})[0] == 200


def test_the_alarm_limit_is_limit_exceeded(stack):
    app, *_ = stack
    for name in ("a", "b", "c"):
        assert call(app, alarm_params(AlarmName=name))[0] == 200
    status, root = call(app, alarm_params(AlarmName="d"))
    assert status == 400 and "LimitExceeded" in ET.tostring(root, encoding="unicode")
    assert call(app, alarm_params(AlarmName="a", Threshold="1"))[0] == 200  # update is fine


def test_transitions_fire_the_actions_of_the_new_state_once(stack):
    app, recorder, clock, notifier = stack
    call(app, alarm_params(EvaluationPeriods="1", **{
        "AlarmActions.member.1": "http://sink/alarm", "OKActions.member.1": "http://sink/ok",
        "InsufficientDataActions.member.1": "http://sink/insufficient"}))
    put(app, 90.0)
    put(app, 95.0)  # still ALARM: no second action
    clock.now += 60_000
    put(app, 10.0)  # the new period's average is 10: OK
    # Two periods later nothing is left in the window: INSUFFICIENT_DATA,
    # found by the periodic pass (no new data arrives to trigger it).
    clock.now += 180_000
    assert app.service.evaluate_all() == 1
    notifier.wait()
    assert [(url, body["previous"], body["current"]) for url, body in recorder.posts] == [
        ("http://sink/alarm", "insufficient data", "alarm"),
        ("http://sink/ok", "alarm", "ok"),
        ("http://sink/insufficient", "ok", "insufficient data")]


def test_the_periodic_pass_drops_samples_older_than_two_weeks(stack, db_url):
    app, _, clock, _ = stack
    put(app, 1.0)
    clock.now += model.PAST_LIMIT_MS - 1
    app.service.evaluate_all()
    assert rows(db_url)["heat_wsgi_cw_samples"] == 1
    clock.now += 2
    app.service.evaluate_all()
    assert rows(db_url)["heat_wsgi_cw_samples"] == 0
    assert rows(db_url)["heat_wsgi_cw_metrics"] == 1  # ListMetrics still knows it


def test_racing_evaluators_fire_once(db_url):
    """Eight services (as eight API instances) evaluate the same crossing
    at the same moment: the version CAS lets exactly one of them fire."""
    recorder, clock = Recorder(), Clock()
    notifiers = [Notifier(1.0, poster=recorder) for _ in range(8)]
    services = [Service(Store(lambda: make_engine(db_url)), n, clock=clock) for n in notifiers]
    app = CloudWatchApp(services[0])
    call(app, alarm_params(EvaluationPeriods="1", **{"AlarmActions.member.1": "http://sink/a"}))
    put(app, 90.0)
    recorder.posts.clear()
    services[0].store.transition(services[0].store.alarms("default", names=["a"])[0], "OK",
                                 "reset", None, NOW)
    alarm = services[0].store.alarms("default", names=["a"])[0]
    barrier = threading.Barrier(8)

    def run(service: Service) -> None:
        barrier.wait()
        service.evaluate_alarms([alarm])  # all start from the same (stale) read

    threads = [threading.Thread(target=run, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for n in notifiers:
        n.wait()
    assert [body["current"] for _, body in recorder.posts] == ["alarm"]
    final = services[0].store.alarms("default", names=["a"])[0]
    assert final.state == "ALARM" and final.version == alarm.version + 1


def test_a_stale_transition_is_refused(db_url):
    store = Store(lambda: make_engine(db_url))
    service = Service(store, Notifier(1.0, poster=Recorder()), clock=Clock())
    service.handle("p", "PutMetricAlarm", parse(alarm_params())[1])
    alarm = store.alarms("p")[0]
    assert store.transition(alarm, "ALARM", "r", None, NOW)
    assert not store.transition(alarm, "OK", "r", None, NOW)  # same version again
    assert store.alarms("p")[0].state == "ALARM"


def test_projects_do_not_see_each_others_data(db_url):
    store = Store(lambda: make_engine(db_url))
    service = Service(store, Notifier(1.0, poster=Recorder()), clock=Clock())
    service.handle("p1", "PutMetricAlarm", parse(alarm_params())[1])
    assert [a.config.name for a in store.alarms("p1")] == ["a"]
    assert store.alarms("p2") == []


def test_the_app_refuses_to_start_without_the_tables(tmp_path):
    from heat_wsgi.cw.app import build
    from heat_wsgi.errors import BootError
    with pytest.raises(BootError, match="heat-wsgi cloudwatch db-sync"):
        build(f"sqlite:///{tmp_path}/empty.sqlite")


def test_db_sync_refuses_a_newer_schema(db_url, capsys):
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.update(schema.schema).values(version=schema.SCHEMA_VERSION + 1))
    assert cli.main(["cloudwatch", "db-sync", "--connection", db_url]) == 2
    assert "upgrade heat_wsgi" in capsys.readouterr().err


def test_db_sync_reads_the_connection_from_heat_conf(tmp_path, capsys):
    conf = tmp_path / "heat.conf"
    conf.write_text(f"[database]\nconnection = sqlite:///{tmp_path}/h.sqlite\n")
    assert cli.main(["cloudwatch", "db-sync", "--config-file", str(conf)]) == 0
    assert "schema version 1" in capsys.readouterr().out
    assert cli.main(["cloudwatch", "db-sync", "--config-file", str(tmp_path / "no.conf")]) == 2
    assert cli.main(["cloudwatch", "evaluate", "--connection",
                     f"sqlite:///{tmp_path}/h.sqlite"]) == 0


def test_fault_filter_turns_heat_aws_errors_and_crashes_into_error_documents():
    import webob
    from heat.api.aws import exception as aws_exception

    def refuses(environ: Any, start_response: Any) -> Any:
        raise aws_exception.HeatIncompleteSignatureError()

    def crashes(environ: Any, start_response: Any) -> Any:
        raise RuntimeError("boom")

    response = webob.Request.blank("/").get_response(FaultWrap(refuses))
    assert response.status_int == 400
    assert b"<Code>IncompleteSignature</Code>" in response.body
    response = webob.Request.blank("/").get_response(FaultWrap(crashes))
    assert response.status_int == 500
    assert b"<Code>InternalFailure</Code>" in response.body and b"boom" not in response.body

    def returns_heat_error(environ: Any, start_response: Any) -> Any:
        return aws_exception.HeatSignatureError()(environ, start_response)

    def keystone_401(environ: Any, start_response: Any) -> Any:
        start_response("401 Unauthorized", [("Content-Type", "application/json")])
        return [b'{"error": {"message": "The request you have made requires authentication."}}']

    response = webob.Request.blank("/").get_response(FaultWrap(returns_heat_error))
    assert response.status_int == 403
    root = ET.fromstring(response.body)
    assert root.tag == f"{{{NS}}}ErrorResponse"
    assert root.find(f"{{{NS}}}Error/{{{NS}}}Code").text == "SignatureDoesNotMatch"
    assert root.find(f"{{{NS}}}RequestId").text.startswith("req-")
    response = webob.Request.blank("/").get_response(FaultWrap(keystone_401))
    assert response.status_int == 401
    assert b"<Code>InvalidClientTokenId</Code>" in response.body
    assert b"requires authentication" in response.body


def test_reasons_stay_within_aws_limits_for_long_windows():
    c = config(period=60, evaluation_periods=1440, datapoints_to_alarm=1)
    now = NOW + 30_000
    points = [sample(NOW - i * MINUTE, 70.0 + i) for i in range(1440)]
    verdict = evaluate(c, points, now)
    assert verdict is not None and verdict.state == "ALARM"
    assert len(verdict.reason) <= 1023 and len(verdict.reason_data) <= 4000
    assert json.loads(verdict.reason_data)["recentDatapoints"][-1] == 70.0


def test_long_noauth_project_names_fit_the_column(stack):
    from heat_wsgi.cw.app import project_of

    class Context:
        project_id = "p" * 300
    assert len(project_of({"webob.adhoc_attrs": {"context": Context()}})) == 64
    assert project_of({}) == "default"


def test_transition_body_is_what_heat_scaling_policies_read():
    body = json.loads(Transition(alarm_name="a", alarm_arn="arn", previous="OK",
                                 current="ALARM", reason="r", reason_data='{"x": 1}').body())
    assert (body["current"], body["previous"], body["reason_data"]) == ("alarm", "ok", {"x": 1})


def test_doubles_reject_what_aws_rejects():
    from heat_wsgi.cw.shapes import decode_double
    assert decode_double("1e3", "v") == 1000.0
    for bad in ("nan", "inf", "-Infinity", "1e400", "0x10", "1_000", ""):
        with pytest.raises(CloudWatchError):
            decode_double(bad, "v")
    assert math.isfinite(decode_double(str(2.0 ** 359), "v"))


# --- the paste pipelines, booted as heat_wsgi.cloudwatch boots them -----------

_BOOT = """
import sys, webob
from heat_wsgi import boot
app = boot.load_application("heat-api-cloudwatch", argv=["uwsgi", "--config-file", sys.argv[1]],
                            environ={})
for path in sys.argv[2:]:
    response = webob.Request.blank(path).get_response(app)
    print(response.status_int, response.body.decode().replace(chr(10), " "))
"""


@pytest.mark.real   # boots Heat's paste pipeline in a fresh Python
@pytest.mark.parametrize("flavor, expected", [
    ("noauth", ["200 ", "200 <?xml", "400 <?xml"]),
    # ec2authtoken refuses an unsigned request before asking Keystone; the
    # cwfaultwrap filter turns Heat's exception into an AWS error document.
    ("standalone", ["200 ", "400 <?xml", "400 <?xml"]),
])
def test_paste_flavors_boot_and_answer_in_aws_form(tmp_path, db_url, flavor, expected):
    import subprocess
    import sys
    from conftest import write_heat_conf
    conf = write_heat_conf(tmp_path / "etc" / "heat.conf", flavor=flavor, database_url=db_url,
                           transport_url="rabbit://guest:guest@127.0.0.29:5672/")
    done = subprocess.run(
        [sys.executable, "-c", _BOOT, str(conf), "/healthcheck",
         "/?Action=ListMetrics&Version=2010-08-01", "/?Action=Nope&Version=2010-08-01"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line[:4] in ("200 ", "400 ")]
    assert [line[:len(prefix)] for line, prefix in zip(lines, expected)] == expected, lines
    if flavor == "noauth":
        assert "<ListMetricsResponse" in lines[1] and "<Code>InvalidAction</Code>" in lines[2]
    else:
        assert "<Code>IncompleteSignature</Code>" in lines[1]
        assert "<Type>Sender</Type>" in lines[1]
