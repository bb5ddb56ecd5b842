"""``heat-wsgi up --keystone --demo`` end to end: a real Keystone, and alarms that scale.

The module runs one ``up --keystone --demo`` through the real CLI on
127.0.0.1-3 (Keystone on 127.0.0.1:5000) and ``down --purge`` at the end.
The demo itself must show a group that grew because of an alarm; the test
then does it again by hand: botocore's CloudWatch client, signing with the
demo user's EC2 credential (checked by Keystone through Heat's
ec2authtoken), puts metric data under and then over an alarm's threshold,
and the alarm's POST to the scaling policy's pre-signed URL makes the
engine add a member under the stack owner's trust.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from heat_wsgi.demo import ScalingGroup, scaling_group
from heat_wsgi.local.keystone import KeystoneAccounts
from heat_wsgi.runtime.record import Record

from conftest import holds_for
from realstack import cluster_up, run_cli

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def up(state_dir: Path) -> Iterator[tuple[Record, str]]:
    # (Keystone's start took 68 s and the demo group's growth over 120 s in one
    # CI run on the loaded box: the demo now waits up to 300 s.)
    with cluster_up(state_dir, "--keystone", "--demo", timeout=900) as running:
        yield running


@pytest.fixture(scope="module")
def group(up: tuple[Record, str], state_dir: Path) -> ScalingGroup:
    return scaling_group(KeystoneAccounts(), api="http://127.0.0.1:8004",
                         cloudwatch="http://127.0.0.1:8003", data_dir=state_dir / "botocore")


def test_up_prints_keystone_and_the_demo_group_grew(up: tuple[Record, str]) -> None:
    record, output = up
    assert "Keystone        http://127.0.0.1:5000/v3" in output
    assert "token issue" in output and "export OS_AUTH_URL=http://127.0.0.1:5000/v3" in output
    grown = re.search(r"alarm (\S+) is (\w+); group size (\d+) -> (\d+)", output)
    assert grown is not None, output[-2000:]
    print(f"\nup --keystone --demo: {grown.group(0)}")
    assert grown.group(2) == "ALARM" and int(grown.group(4)) == int(grown.group(3)) + 1
    keystone = record.service("keystone")
    assert keystone is not None and keystone.kind == "keystone"


def test_status_shows_keystone(up: tuple[Record, str], state_dir: Path) -> None:
    result = run_cli("status", "--state-dir", str(state_dir), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(l for l in result.stdout.splitlines() if l.startswith("keystone "))
    assert "127.0.0.1:5000" in line and "ok (HTTP 200)" in line


def test_botocore_metric_data_over_the_threshold_grows_the_group(group: ScalingGroup) -> None:
    alarm = "up-load-" + uuid.uuid4().hex[:6]
    cw = group.cloudwatch
    cw.put_metric_alarm(AlarmName=alarm, Namespace="App/Web", MetricName="Load",
                        Dimensions=[{"Name": "Group", "Value": alarm}], Statistic="Maximum",
                        Period=60, EvaluationPeriods=1, Threshold=70.0,
                        ComparisonOperator="GreaterThanThreshold",
                        AlarmActions=[group.output("alarm_url")])

    def put(value: float) -> str:
        cw.put_metric_data(Namespace="App/Web", MetricData=[
            {"MetricName": "Load", "Dimensions": [{"Name": "Group", "Value": alarm}],
             "Value": value, "Unit": "Percent"}])
        return str(cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"])

    before = group.wait_size(group.size())
    assert put(20.0) == "OK"
    holds_for(lambda: group.size() == before, 2.0, "no scaling under the threshold",
              interval=0.5)
    assert put(95.0) == "ALARM"
    after = group.wait_size(before + 1)
    print(f"\nbotocore PutMetricData 95 > 70: alarm ALARM, group size {before} -> {after}")
    assert after == before + 1
    cw.delete_alarms(AlarmNames=[alarm])
