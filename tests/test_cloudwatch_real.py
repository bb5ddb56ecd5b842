"""heat-api-cloudwatch under the real uwsgi, driven by real clients.

Two uwsgi instances of ``heat_wsgi.cloudwatch:application`` (flavor noauth)
share one private MariaDB, as API instances behind a proxy would. Clients:

* botocore's own CloudWatch client, switched to the Query protocol through
  its service model (``heat_wsgi.cw.client``), for every action;
* heat-cfntools' ``cfn-push-stats`` (boto 2), which runs on this Python 3.11;
* raw HTTP only where a real client cannot send the request at all
  (a malformed query, a body over the size limit).

Alarm actions go to a small HTTP sink in this process, which records every
POST so the tests can count how often an action fired.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import VENV, holds_for, wait_until, write_heat_conf
from heat_wsgi.cw.client import query_client
from heat_wsgi.runtime import mariadb, uwsgi
from heat_wsgi.runtime.service import Service, stop_all

pytestmark = pytest.mark.real

DB_ADDRESS = "127.0.0.20"
SINK = ("127.0.0.20", 8099)
INSTANCES = (("cw-a", "127.0.0.21"), ("cw-b", "127.0.0.22"))
# cfn-push-stats hard-codes port 8003 and path /v1 (old heat-api-cloudwatch's).
PORT = 8003
NOW = dt.datetime.now


@dataclass
class Sink:
    """Records alarm action POSTs: (path, JSON body)."""

    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, name: str) -> str:
        return f"http://{SINK[0]}:{SINK[1]}/{name}"

    def received(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for path, body in self.posts if path == "/" + name]

    def wait_for(self, name: str, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        """What ``name`` received, once that is at least ``count`` posts."""
        return wait_until(lambda: len(self.received(name)) >= count and self.received(name),
                          timeout, f"{count} post(s) to {name}", interval=0.1)


def _start_sink() -> tuple[Sink, ThreadingHTTPServer]:
    sink = Sink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with sink.lock:
                sink.posts.append((self.path.split("?")[0], json.loads(body or b"{}")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(SINK, Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return sink, server


def write_uwsgi_ini(state: Path, name: str, address: str, port: int, heat_conf: Path,
                    module: str = "heat_wsgi.cloudwatch:application") -> Path:
    ini = state / "etc" / f"{name}.ini"
    ini.write_text(uwsgi.render_ini([
        ("http-socket", f"{address}:{port}"), ("module", module),
        ("pyargv", f"--config-file {heat_conf}"), ("processes", "1"), ("threads", "2"),
        *uwsgi.PRIVATE_OPTIONS, ("http-chunked-input", "true"), ("http-raw-body", "true"),
        ("logto", f"{state}/logs/{name}.log")]))
    return ini


def db_sync(conf: Path) -> None:
    done = subprocess.run([str(VENV / "bin" / "heat-wsgi"), "cloudwatch", "db-sync",
                           "--config-file", str(conf)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@dataclass
class Cluster:
    state: Path
    urls: list[str]
    sink: Sink
    heat_conf: Path

    def client(self, index: int = 0) -> Any:
        return query_client(self.urls[index], self.state / f"botocore-{index}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    state = tmp_path_factory.mktemp("cloudwatch")
    (state / "logs").mkdir()
    services: list[Service] = []
    sink, server = _start_sink()
    try:
        db = mariadb.start_mariadb(state, address=DB_ADDRESS, port=3306)
        services.append(db)
        # No RabbitMQ: the CloudWatch API never calls the engine, and Heat's
        # messaging setup connects lazily.
        conf = write_heat_conf(state / "etc" / "heat.conf",
                               transport_url="rabbit://guest:guest@127.0.0.29:5672/",
                               database_url=db.url, host="cw-test",
                               extra="\n[heat_wsgi_cloudwatch]\nevaluation_interval = 0\n")
        db_sync(conf)
        for name, address in INSTANCES:
            ini = write_uwsgi_ini(state, name, address, PORT, conf)
            services.append(uwsgi.start_uwsgi(VENV, ini, state, name))
        yield Cluster(state, [f"http://{a}:{PORT}" for _, a in INSTANCES], sink, conf)
    finally:
        server.shutdown()
        stop_all(list(reversed(services)))


def _ns() -> str:
    return "Test/" + uuid.uuid4().hex[:8]


def _utc(minutes: float = 0) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = exc.value.response
    return (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"],
            response["Error"].get("Type", ""))


# --- every action, across both instances -----------------------------------


def test_metrics_written_on_one_instance_are_listed_and_aggregated_on_the_other(cluster):
    a, b = cluster.client(0), cluster.client(1)
    ns = _ns()
    host = [{"Name": "host", "Value": "web-1"}]
    a.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "cpu", "Dimensions": host, "Value": 10.0, "Unit": "Percent"},
        {"MetricName": "cpu", "Dimensions": host, "Value": 30.0, "Unit": "Percent"},
        {"MetricName": "cpu", "Dimensions": host, "Unit": "Percent",
         "StatisticValues": {"SampleCount": 2, "Sum": 100.0, "Minimum": 40.0, "Maximum": 60.0}},
        {"MetricName": "cpu", "Dimensions": host, "Unit": "Percent",
         "Values": [5.0, 70.0], "Counts": [1, 3]},
        {"MetricName": "requests", "Value": 7, "Unit": "Count"},
    ])
    metrics = b.list_metrics(Namespace=ns)["Metrics"]
    assert sorted((m["MetricName"], tuple((d["Name"], d["Value"]) for d in m["Dimensions"]))
                  for m in metrics) == [("cpu", (("host", "web-1"),)), ("requests", ())]
    assert [m["MetricName"] for m in b.list_metrics(
        Namespace=ns, Dimensions=[{"Name": "host"}])["Metrics"]] == ["cpu"]
    assert b.list_metrics(Namespace=ns, Dimensions=[{"Name": "host", "Value": "web-2"}])[
        "Metrics"] == []
    assert len(b.list_metrics(Namespace=ns, RecentlyActive="PT3H")["Metrics"]) == 2

    stats = b.get_metric_statistics(
        Namespace=ns, MetricName="cpu", Dimensions=host, StartTime=_utc(-10),
        EndTime=_utc(5), Period=3600,
        Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"])
    assert stats["Label"] == "cpu"
    # Samples: 10, 30, a set of 2 (sum 100), and 5 + 3 x 70.
    points = stats["Datapoints"]
    assert sum(p["SampleCount"] for p in points) == 8
    assert sum(p["Sum"] for p in points) == pytest.approx(355.0)
    assert min(p["Minimum"] for p in points) == 5.0
    assert max(p["Maximum"] for p in points) == 70.0
    assert {p["Unit"] for p in points} == {"Percent"}
    if len(points) == 1:  # the hour did not roll over mid-test
        assert points[0]["Average"] == pytest.approx(355.0 / 8)
    assert b.get_metric_statistics(
        Namespace=ns, MetricName="cpu", Dimensions=host, StartTime=_utc(-10), EndTime=_utc(5),
        Period=60, Statistics=["Sum"], Unit="Count")["Datapoints"] == []


def test_alarm_lifecycle_with_every_alarm_action(cluster):
    a, b = cluster.client(0), cluster.client(1)
    ns, name = _ns(), "hot-" + uuid.uuid4().hex[:6]
    dims = [{"Name": "group", "Value": "g1"}]
    a.put_metric_alarm(
        AlarmName=name, AlarmDescription="cpu too high", MetricName="cpu", Namespace=ns,
        Statistic="Average", Dimensions=dims, Period=60, EvaluationPeriods=1, Threshold=50.0,
        ComparisonOperator="GreaterThanThreshold", Unit="Percent",
        AlarmActions=[cluster.sink.url(name + "-alarm")],
        OKActions=[cluster.sink.url(name + "-ok")])
    alarm = b.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["AlarmDescription"] == "cpu too high"
    assert alarm["Dimensions"] == dims and alarm["Threshold"] == 50.0
    assert alarm["ActionsEnabled"] is True
    assert [x["AlarmName"] for x in b.describe_alarms(AlarmNamePrefix=name[:6])[
        "MetricAlarms"]] == [name]
    assert [x["AlarmName"] for x in b.describe_alarms_for_metric(
        MetricName="cpu", Namespace=ns, Dimensions=dims)["MetricAlarms"]] == [name]
    assert b.describe_alarms_for_metric(MetricName="cpu", Namespace=ns,
                                        Statistic="Maximum")["MetricAlarms"] == []

    # Data above the threshold, on the other instance: ALARM, one action.
    b.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "cpu", "Dimensions": dims, "Value": 90.0, "Unit": "Percent"}])
    alarm = a.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM"
    assert "Threshold Crossed" in alarm["StateReason"]
    fired = cluster.sink.wait_for(name + "-alarm", 1)
    assert len(fired) == 1
    assert fired[0]["current"] == "alarm" and fired[0]["previous"] == "insufficient data"
    assert fired[0]["alarm_name"] == name
    assert [x["AlarmName"] for x in a.describe_alarms(StateValue="ALARM")["MetricAlarms"]
            if x["AlarmName"] == name] == [name]
    assert [x["AlarmName"] for x in a.describe_alarms(
        ActionPrefix=cluster.sink.url(name + "-ok"))["MetricAlarms"]] == [name]

    # SetAlarmState moves it and fires that state's actions.
    a.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="manual",
                      StateReasonData='{"by": "test"}')
    alarm = b.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["StateReason"], alarm["StateReasonData"]) == (
        "OK", "manual", '{"by": "test"}')
    assert [p["current"] for p in cluster.sink.wait_for(name + "-ok", 1)] == ["ok"]

    # Disabled actions: the state still changes, nothing fires.
    b.disable_alarm_actions(AlarmNames=[name, "no-such-alarm"])
    assert a.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["ActionsEnabled"] is False
    a.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="manual again")
    wait_until(lambda: a.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]
               == "ALARM", 10, f"{name} in ALARM")
    holds_for(lambda: len(cluster.sink.received(name + "-alarm")) == 1, 1.0,
              "disabled actions fire nothing")
    b.enable_alarm_actions(AlarmNames=[name])
    a.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="back")
    assert len(cluster.sink.wait_for(name + "-ok", 2)) == 2

    # Updating keeps the state; deleting removes it everywhere.
    a.put_metric_alarm(AlarmName=name, MetricName="cpu", Namespace=ns, Statistic="Maximum",
                       Dimensions=dims, Period=60, EvaluationPeriods=1, Threshold=95.0,
                       ComparisonOperator="GreaterThanThreshold")
    alarm = b.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Maximum", 95.0)
    assert alarm["StateValue"] == "OK"  # 90 < 95: evaluated at once, still OK
    b.delete_alarms(AlarmNames=[name])
    assert a.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


def test_describe_alarms_pages_with_next_token(cluster):
    a = cluster.client(0)
    ns, prefix = _ns(), "page-" + uuid.uuid4().hex[:6] + "-"
    for i in range(5):
        a.put_metric_alarm(AlarmName=f"{prefix}{i}", MetricName="m", Namespace=ns,
                           Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                           ComparisonOperator="GreaterThanThreshold")
    names: list[str] = []
    kwargs: dict[str, Any] = {"AlarmNamePrefix": prefix, "MaxRecords": 2}
    for _ in range(5):
        page = a.describe_alarms(**kwargs)
        names += [x["AlarmName"] for x in page["MetricAlarms"]]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert names == [f"{prefix}{i}" for i in range(5)]
    a.delete_alarms(AlarmNames=names)


def test_an_alarm_fires_once_when_both_instances_see_the_crossing_together(cluster):
    clients = [cluster.client(0), cluster.client(1)]
    ns, name = _ns(), "race-" + uuid.uuid4().hex[:6]
    clients[0].put_metric_alarm(
        AlarmName=name, MetricName="load", Namespace=ns, Statistic="Maximum", Period=60,
        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[cluster.sink.url(name)])
    start = threading.Barrier(8, timeout=30)
    errors: list[BaseException] = []
    senders = [cluster.client(i % 2) for i in range(8)]

    def push(index: int) -> None:
        client = senders[index]
        try:
            start.wait()
            client.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "load", "Value": 5}])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert clients[1].describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"] == "ALARM"
    cluster.sink.wait_for(name, 1)
    holds_for(lambda: len(cluster.sink.received(name)) == 1, 1.0, "the transition fires once")


# --- bad input: the AWS error, the status, and nothing stored ---------------


@pytest.mark.parametrize("call, kwargs, expected", [
    ("put_metric_data", {"MetricData": [{"MetricName": "m", "Value": 1}] * 1001},
     ("InvalidParameterValue", 400)),
    ("put_metric_data", {"MetricData": [{"MetricName": "m", "Value": 1,
                                         "StatisticValues": {"SampleCount": 1, "Sum": 1,
                                                             "Minimum": 1, "Maximum": 1}}]},
     ("InvalidParameterCombination", 400)),
    ("put_metric_data", {"MetricData": [{"MetricName": "m", "Value": 1},
                                        {"MetricName": "m", "Value": 1,
                                         "Timestamp": dt.datetime(2001, 1, 1)}]},
     ("InvalidParameterValue", 400)),
    ("put_metric_data", {"MetricData": [{"MetricName": "m", "Values": [1, 2], "Counts": [1]}]},
     ("InvalidParameterCombination", 400)),
    ("put_metric_data", {"MetricData": [{"MetricName": "m", "Value": 1,
                                         "Dimensions": [{"Name": "d", "Value": "v"}] * 31}]},
     ("InvalidParameterValue", 400)),
])
def test_bad_metric_data_is_refused_and_nothing_is_stored(cluster, call, kwargs, expected):
    client = cluster.client(0)
    ns = _ns()
    with pytest.raises(ClientError) as exc:
        getattr(client, call)(Namespace=ns, **kwargs)
    assert _error(exc)[:2] == expected
    assert _error(exc)[2] == "Sender"
    assert cluster.client(1).list_metrics(Namespace=ns)["Metrics"] == []


@pytest.mark.parametrize("kwargs, expected", [
    ({"Period": 45}, "InvalidParameterValue"),
    ({"ComparisonOperator": "GreaterThanUpperThreshold"}, "InvalidParameterCombination"),
    ({"DatapointsToAlarm": 3}, "InvalidParameterCombination"),
    ({"AlarmActions": ["mailto:ops@example.com"]}, "InvalidParameterValue"),
    ({"AlarmActions": [f"http://127.0.0.20:{n}/" for n in range(6)]}, "InvalidParameterValue"),
    ({"Period": 60, "EvaluationPeriods": 1441}, "InvalidParameterCombination"),
])
def test_bad_alarms_are_refused_and_not_created(cluster, kwargs, expected):
    client = cluster.client(0)
    name = "bad-" + uuid.uuid4().hex[:6]
    args: dict[str, Any] = dict(AlarmName=name, MetricName="m", Namespace=_ns(),
                                Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1.0,
                                ComparisonOperator="GreaterThanThreshold")
    args.update(kwargs)
    with pytest.raises(ClientError) as exc:
        client.put_metric_alarm(**args)
    assert _error(exc)[:2] == (expected, 400)
    assert client.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


def test_missing_alarms_are_resource_not_found_and_delete_is_all_or_nothing(cluster):
    client = cluster.client(0)
    name = "keep-" + uuid.uuid4().hex[:6]
    client.put_metric_alarm(AlarmName=name, MetricName="m", Namespace=_ns(), Statistic="Sum",
                            Period=60, EvaluationPeriods=1, Threshold=1.0,
                            ComparisonOperator="GreaterThanThreshold")
    with pytest.raises(ClientError) as exc:
        client.set_alarm_state(AlarmName="nope-" + name, StateValue="OK", StateReason="x")
    assert _error(exc)[:2] == ("ResourceNotFound", 404)
    with pytest.raises(ClientError) as exc:
        client.delete_alarms(AlarmNames=[name, "nope-" + name])
    assert _error(exc)[:2] == ("ResourceNotFound", 404)
    assert len(client.describe_alarms(AlarmNames=[name])["MetricAlarms"]) == 1
    with pytest.raises(ClientError) as exc:
        client.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="x",
                               StateReasonData="{not json")
    assert _error(exc)[:2] == ("InvalidFormat", 400)
    with pytest.raises(ClientError) as exc:
        client.describe_alarms(NextToken="garbage")
    assert _error(exc)[:2] == ("InvalidNextToken", 400)
    client.delete_alarms(AlarmNames=[name])


def _raw(url: str, body: bytes | None = None, query: str = "",
         content_type: str = "application/x-www-form-urlencoded") -> tuple[int, str]:
    request = urllib.request.Request(url + "/?" + query if query else url + "/", data=body,
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.mark.parametrize("query, code, status", [
    ("", "MissingAction", 400),
    ("Action=DescribeAlarm&Version=2010-08-01", "InvalidAction", 400),
    ("Action=DescribeAlarms", "MissingParameter", 400),
    ("Action=DescribeAlarms&Version=2011-01-01", "NoSuchVersion", 400),
    ("Action=DescribeAlarms&Version=2010-08-01&MaxRecords=ten", "InvalidParameterValue", 400),
    ("Action=DescribeAlarms&Version=2010-08-01&MaxRecords=0", "InvalidParameterValue", 400),
    ("Action=DescribeAlarms&Version=2010-08-01&Bogus=1", "InvalidQueryParameter", 400),
    ("Action=DescribeAlarms&Version=2010-08-01&AlarmNames.member.x=a", "InvalidQueryParameter",
     400),
    ("Action=DescribeAlarms&Version=2010-08-01&AlarmNames=a&AlarmNamePrefix=b",
     "InvalidQueryParameter", 400),
    ("Action=DescribeAlarms&Version=2010-08-01&AlarmNames.member.1=a&AlarmNamePrefix=b",
     "InvalidParameterCombination", 400),
    ("Action=DeleteAlarms&Version=2010-08-01", "MissingParameter", 400),
    ("Action=PutMetricData&Version=2010-08-01&Namespace=N&MetricData.member.1.MetricName=m"
     "&MetricData.member.1.Value=abc", "InvalidParameterValue", 400),
    ("Action=PutMetricData&Version=2010-08-01&Namespace=N&MetricData.member.1.MetricName=m"
     "&MetricData.member.1.Value=NaN", "InvalidParameterValue", 400),
    ("Action=PutMetricData&Version=2010-08-01&Namespace=N&MetricData.member.1.MetricName=m"
     "&MetricData.member.1.Value=1&MetricData.member.1.Unit=Furlongs", "InvalidParameterValue",
     400),
    ("Action=GetMetricStatistics&Version=2010-08-01&Namespace=N&MetricName=m&Period=60"
     "&StartTime=2020-01-01T00:00:00Z&EndTime=2020-01-03T00:00:00Z&Statistics.member.1=Sum",
     "InvalidParameterCombination", 400),
    ("Action=GetMetricStatistics&Version=2010-08-01&Namespace=N&MetricName=m&Period=60"
     "&StartTime=yesterday&EndTime=2020-01-03T00:00:00Z&Statistics.member.1=Sum",
     "InvalidParameterValue", 400),
])
def test_malformed_requests_get_the_aws_error_document(cluster, query, code, status):
    got_status, body = _raw(cluster.urls[1], query=query)
    assert got_status == status, body
    assert f"<Code>{code}</Code>" in body
    assert "<Type>Sender</Type>" in body
    assert '<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">' in body
    assert "<RequestId>req-" in body


def test_oversized_and_non_query_bodies_are_refused(cluster):
    ns = _ns()
    member = "&MetricData.member.{i}.MetricName=m&MetricData.member.{i}.Value=1"
    big = ("Action=PutMetricData&Version=2010-08-01&Namespace=" + ns + "".join(
        member.format(i=i) for i in range(1, 1001)) + "&Pad=" + "x" * (1024 * 1024)).encode()
    status, body = _raw(cluster.urls[0], big)
    assert status == 413 and "<Code>RequestEntityTooLarge</Code>" in body
    status, body = _raw(cluster.urls[0], b'{"Namespace": "x"}',
                        content_type="application/x-amz-json-1.0")
    assert status == 400 and "<Code>InvalidQueryParameter</Code>" in body
    assert cluster.client(1).list_metrics(Namespace=ns)["Metrics"] == []


def test_a_request_that_fails_midway_leaves_nothing_behind(cluster):
    """Datum 2 is bad after datum 1 was fine: the request is refused as a
    whole, so datum 1 is not stored either."""
    ns = _ns()
    query = (f"Action=PutMetricData&Version=2010-08-01&Namespace={ns}"
             "&MetricData.member.1.MetricName=ok&MetricData.member.1.Value=1"
             "&MetricData.member.2.MetricName=bad&MetricData.member.2.Value=1e999")
    status, body = _raw(cluster.urls[0], query.encode())
    assert status == 400 and "MetricData.member.2.Value" in body
    assert cluster.client(1).list_metrics(Namespace=ns)["Metrics"] == []


# --- heat-cfntools -----------------------------------------------------------

# cfn-push-stats sets BOTO_CONFIG to /var/lib/heat-cfntools/cfn-boto-cfg before
# importing boto. This runs the unmodified script after importing boto with
# the test's own config, so nothing is written outside the test's directory.
_RUN_CFN_PUSH_STATS = (
    "import os, runpy, sys\n"
    "os.environ['BOTO_CONFIG'] = sys.argv[1]\n"
    "import boto.ec2.cloudwatch\n"
    "sys.argv = sys.argv[2:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n")


def _cfn_push_stats(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    boto_cfg = cluster.state / "cfn-boto-cfg"
    host = cluster.urls[0].split("//")[1].split(":")[0]
    boto_cfg.write_text(f"[Boto]\ndebug = 0\nis_secure = 0\nhttps_validate_certificates = 0\n"
                        f"cfn_region_name = heat\ncfn_region_endpoint = {host}\n"
                        f"cloudwatch_region_name = heat\ncloudwatch_region_endpoint = {host}\n")
    creds = cluster.state / "cfn-credentials"
    creds.write_text("AWSAccessKeyId=heat\nAWSSecretKey=heat\n")
    return subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _RUN_CFN_PUSH_STATS, str(boto_cfg),
         str(VENV / "bin" / "cfn-push-stats"), "--credential-file", str(creds), *args],
        capture_output=True, text=True, timeout=60)


def test_cfn_push_stats_feeds_an_alarm(cluster):
    """heat-cfntools 2.0.0 (boto 2.49) runs on this Python 3.11: its
    cfn-push-stats posts to port 8003, path /v1, signed with SigV2."""
    client = cluster.client(1)
    watch = "cfn-" + uuid.uuid4().hex[:6]
    client.put_metric_alarm(
        AlarmName=watch, MetricName="Requests", Namespace="system/linux",
        Dimensions=[{"Name": "AlarmName", "Value": watch}], Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=40, ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[cluster.sink.url(watch)])
    done = _cfn_push_stats(cluster, "--watch", watch, "--metric", "Requests",
                           "--units", "Count", "--value", "42")
    assert done.returncode == 0, done.stderr
    beat = _cfn_push_stats(cluster, "--watch", watch, "--heartbeat")
    assert beat.returncode == 0, beat.stderr
    metrics = client.list_metrics(Namespace="system/linux",
                                  Dimensions=[{"Name": "AlarmName", "Value": watch}])["Metrics"]
    assert sorted(m["MetricName"] for m in metrics) == ["Heartbeat", "Requests"]
    stats = client.get_metric_statistics(
        Namespace="system/linux", MetricName="Requests",
        Dimensions=[{"Name": "AlarmName", "Value": watch}], StartTime=_utc(-5), EndTime=_utc(5),
        Period=600, Statistics=["Sum"])["Datapoints"]
    assert [(p["Sum"], p["Unit"]) for p in stats] == [(42.0, "Count")]
    assert client.describe_alarms(AlarmNames=[watch])["MetricAlarms"][0]["StateValue"] == "ALARM"
    assert [p["current"] for p in cluster.sink.wait_for(watch, 1)] == ["alarm"]
    client.delete_alarms(AlarmNames=[watch])


def test_the_periodic_pass_moves_alarms_that_time_alone_changes(cluster):
    """``heat-wsgi cloudwatch evaluate`` runs the pass each API process runs
    every evaluation_interval: an alarm left in ALARM with no data behind it
    goes to INSUFFICIENT_DATA and fires that state's actions, once."""
    client = cluster.client(0)
    ns, name = _ns(), "idle-" + uuid.uuid4().hex[:6]
    client.put_metric_alarm(
        AlarmName=name, MetricName="m", Namespace=ns, Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
        InsufficientDataActions=[cluster.sink.url(name)])
    client.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="by hand")
    for _ in range(2):
        done = subprocess.run([str(VENV / "bin" / "heat-wsgi"), "cloudwatch", "evaluate",
                               "--config-file", str(cluster.heat_conf)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    assert client.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"] == \
        "INSUFFICIENT_DATA"
    fired = cluster.sink.wait_for(name, 1)
    holds_for(lambda: len(cluster.sink.received(name)) == 1, 0.5, "the second pass fires nothing")
    assert [(p["previous"], p["current"]) for p in cluster.sink.received(name)] == [
        ("alarm", "insufficient data")]
    assert len(fired) == 1
    client.delete_alarms(AlarmNames=[name])


# --- two instances running the periodic evaluator ------------------------------

PERIODIC_INSTANCES = (("cw-p1", "127.0.0.25"), ("cw-p2", "127.0.0.26"))


@pytest.fixture(scope="module")
def periodic(cluster: Cluster) -> Iterator[list[str]]:
    """Two more instances, each evaluating every alarm every second, on a
    database of their own (``[heat_wsgi_cloudwatch] connection``), so their
    passes never touch the alarms the other tests set by hand."""
    mariadb.run_sql(mariadb.socket_path(cluster.state),
                    "CREATE DATABASE IF NOT EXISTS cw_periodic CHARACTER SET utf8mb4;"
                    "GRANT ALL PRIVILEGES ON cw_periodic.* TO 'heat'@'%';",
                    service="mariadb", log=str(cluster.state / "logs" / "mariadb.log"))
    url = f"mysql+pymysql://heat:heat@{DB_ADDRESS}:3306/cw_periodic?charset=utf8mb4"
    conf = write_heat_conf(cluster.state / "etc" / "heat-periodic.conf",
                           transport_url="rabbit://guest:guest@127.0.0.29:5672/",
                           database_url="sqlite:////nonexistent/heat.sqlite", host="cw-periodic",
                           extra=f"\n[heat_wsgi_cloudwatch]\nconnection = {url}\n"
                                 "evaluation_interval = 1\n")
    db_sync(conf)
    services: list[Service] = []
    try:
        for name, address in PERIODIC_INSTANCES:
            ini = write_uwsgi_ini(cluster.state, name, address, PORT, conf)
            services.append(uwsgi.start_uwsgi(VENV, ini, cluster.state, name))
        yield [f"http://{a}:{PORT}" for _, a in PERIODIC_INSTANCES]
    finally:
        stop_all(list(reversed(services)))


def test_periodic_evaluators_on_two_instances_fire_each_transition_once(cluster, periodic):
    clients = [query_client(url, cluster.state / f"botocore-p{i}")
               for i, url in enumerate(periodic)]
    names = [f"tick-{uuid.uuid4().hex[:6]}-{i}" for i in range(4)]
    for i, name in enumerate(names):
        clients[i % 2].put_metric_alarm(
            AlarmName=name, MetricName="m", Namespace="Periodic", Statistic="Sum", Period=60,
            EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[cluster.sink.url(name)],
            InsufficientDataActions=[cluster.sink.url(name)])
    # Both instances' evaluators start with their first request; both have
    # had one now. By hand to ALARM, then time alone (no data) moves every
    # alarm back to INSUFFICIENT_DATA on whichever instance gets there first.
    for i, name in enumerate(names):
        clients[(i + 1) % 2].set_alarm_state(AlarmName=name, StateValue="ALARM",
                                             StateReason="by hand")
    wait_until(lambda: {a["StateValue"] for a in clients[0].describe_alarms(
        AlarmNames=names)["MetricAlarms"]} == {"INSUFFICIENT_DATA"}, 20,
        "every alarm back to INSUFFICIENT_DATA", interval=0.5)
    for name in names:
        cluster.sink.wait_for(name, 2)

    def fired_once() -> bool:
        return all([p["current"] for p in cluster.sink.received(name)] == [
            "alarm", "insufficient data"] for name in names)
    # Several more passes on both instances: nothing new may fire.
    holds_for(fired_once, 3.0, "each transition fired once", interval=0.5)
