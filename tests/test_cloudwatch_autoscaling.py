"""End to end: a CloudWatch alarm scales a Heat autoscaling group.

Real RabbitMQ, MariaDB and heat-engine; heat-api, heat-api-cfn and
heat-api-cloudwatch under uwsgi. heat-api-cfn and heat-api-cloudwatch run
the noauth flavor; FakeKeystoneClient is the engine's keystone backend.

Which alarm URL works, and why:

* A scaling policy's ``alarm_url`` (``OS::Heat::ScalingPolicy``) or
  ``AlarmUrl`` (``AWS::AutoScaling::ScalingPolicy``) is an EC2-pre-signed
  URL on the CFN API: ``<heat_waitcondition_server_url, with /signal>/
  <resource ARN>?AWSAccessKeyId=...&Signature=...``. The engine signs it
  with the stack domain user's keypair, which FakeKeystoneClient hands out,
  so it is made without Keystone. heat-api-cfn's noauth flavor serves
  ``POST /v1/signal/<arn>`` without checking the signature and passes our
  JSON body to the engine as the signal's details. That is the URL used,
  and heat.conf must point ``heat_waitcondition_server_url`` (and the
  metadata URL) at the CFN API for it.
* ``OS::Heat::ScalingPolicy``'s ``signal_url`` is heat-api's native
  ``.../resources/<name>/signal``; it needs a Keystone token to call.

What does NOT work with no identity service at all: Heat 27's engine
handles every resource signal under the stack's *stored* context
(``Stack.load(..., use_stored_context=True)``), and ``StoredContext``
looks the user's domain up in Keystone (``_load_keystone_data``) as soon
as the scaling policy makes its first RPC call. heat-api's noauth filter
stores the literal auth URL ``"url"``, so the signal is accepted (HTTP
200, "adjusting group ... by 1" in the engine log) and then fails with
``EndpointNotFound``. So this test runs a Keystone v3 *token* stand-in
(``FakeKeystone`` below: discovery plus ``POST /v3/auth/tokens``, nothing
else) and creates the stack through heat-api's ``standalone`` flavor
(``authpassword``), which stores that auth URL. The CloudWatch and CFN
sides stay noauth.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import VENV, heat_conf_text
from heat_wsgi.cw.client import query_client
from heat_wsgi.runtime import heat, mariadb, rabbitmq, uwsgi
from heat_wsgi.runtime.service import Service, stop_all
from test_cloudwatch_real import write_uwsgi_ini

pytestmark = pytest.mark.real

BACKEND = "127.0.0.23"
FRONT = "127.0.0.24"
EPMD_PORT = 4371
# The Erlang distribution port is checked on every address; 25672 belongs to
# the shared test RabbitMQ, so the cloudwatch range gets its own.
DIST_PORT = 25671

TEMPLATE: dict[str, Any] = {
    "heat_template_version": "2018-08-31",
    "resources": {
        "group": {"type": "OS::Heat::AutoScalingGroup", "properties": {
            "min_size": 1, "max_size": 4,
            "resource": {"type": "OS::Heat::RandomString", "properties": {"length": 8}}}},
        "scale_up": {"type": "OS::Heat::ScalingPolicy", "properties": {
            "adjustment_type": "change_in_capacity", "auto_scaling_group_id":
                {"get_resource": "group"}, "scaling_adjustment": 1, "cooldown": 0}},
        "aws_scale_up": {"type": "AWS::AutoScaling::ScalingPolicy", "properties": {
            "AdjustmentType": "ChangeInCapacity", "AutoScalingGroupName":
                {"get_resource": "group"}, "ScalingAdjustment": 1, "Cooldown": 0}},
    },
    "outputs": {
        "alarm_url": {"value": {"get_attr": ["scale_up", "alarm_url"]}},
        "aws_alarm_url": {"value": {"get_attr": ["aws_scale_up", "AlarmUrl"]}},
        "size": {"value": {"get_attr": ["group", "current_size"]}},
    },
}


KEYSTONE = (FRONT, 5000)
KEYSTONE_URL = f"http://{KEYSTONE[0]}:{KEYSTONE[1]}"
DOMAIN = {"id": "default", "name": "Default"}


class FakeKeystone(BaseHTTPRequestHandler):
    """Just enough of Keystone v3 for keystoneauth's password plugin:
    version discovery and a project-scoped token for any user."""

    VERSION = {"id": "v3.14", "status": "stable", "updated": "2020-01-01T00:00:00Z",
               "links": [{"rel": "self", "href": f"{KEYSTONE_URL}/v3/"}],
               "media-types": [{"base": "application/json",
                                "type": "application/vnd.openstack.identity-v3+json"}]}

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.rstrip("/") == "/v3":
            self._reply(200, {"version": self.VERSION})
        else:
            self._reply(300, {"versions": {"values": [self.VERSION]}})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        user = body["auth"]["identity"]["password"]["user"]
        name = user.get("name") or user.get("id")
        token: dict[str, Any] = {
            "methods": ["password"], "expires_at": "2099-01-01T00:00:00.000000Z",
            "issued_at": "2020-01-01T00:00:00.000000Z", "audit_ids": ["cw-e2e"],
            "user": {"id": name, "name": name, "domain": DOMAIN},
            "roles": [{"id": "admin", "name": "admin"}], "catalog": []}
        project = body["auth"].get("scope", {}).get("project")
        if project:
            pid = project.get("id") or project.get("name")
            token["project"] = {"id": pid, "name": pid, "domain": DOMAIN}
        self._reply(201, {"token": token}, {"X-Subject-Token": "cw-e2e-token"})

    def _reply(self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None
               ) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json",
                           "Content-Length": str(len(raw)), **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Stack:
    heat: Any
    cloudwatch: Any
    stack_id: str
    outputs: dict[str, Any]

    def size(self) -> int:
        return int(self.heat.stacks.output_show(self.stack_id, "size")["output"]["output_value"])

    def settled(self) -> bool:
        """The group is not in the middle of a resize. Heat drops a scaling
        signal that arrives during one ("already in scaling")."""
        # The resize updates the nested stack, not the group resource, so
        # the group's status says nothing; Heat's own marker is its metadata.
        metadata = self.heat.resources.metadata(self.stack_id, "group") or {}
        return not metadata.get("scaling_in_progress", False)

    def wait_size(self, wanted: int, timeout: float = 90.0) -> int:
        """The group's size once it reached ``wanted`` and settled, or
        whatever it is at the deadline."""
        deadline = time.monotonic() + timeout
        size = self.size()
        while not (size == wanted and self.settled()) and time.monotonic() < deadline:
            time.sleep(0.5)
            size = self.size()
        return size


def _heat_conf(state: Path, transport_url: str, database_url: str, name: str,
               flavor: str) -> Path:
    text = heat_conf_text(state_dir=state, transport_url=transport_url,
                          database_url=database_url, host="cw-e2e", flavor=flavor)
    cfn = f"http://{FRONT}:8000"
    text = re.sub(r"(?m)^heat_metadata_server_url = .*$", f"heat_metadata_server_url = {cfn}",
                  text)
    text = re.sub(r"(?m)^heat_waitcondition_server_url = .*$",
                  f"heat_waitcondition_server_url = {cfn}/v1/waitcondition", text)
    assert f"{cfn}/v1/waitcondition" in text
    text += (f"\n[clients_keystone]\nauth_uri = {KEYSTONE_URL}\n"
             "\n[heat_wsgi_cloudwatch]\nevaluation_interval = 0\n")
    path = state / "etc" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from heatclient import client as heat_client

    state = tmp_path_factory.mktemp("cw-e2e")
    (state / "logs").mkdir()
    services: list[Service] = []
    keystone = ThreadingHTTPServer(KEYSTONE, FakeKeystone)
    threading.Thread(target=keystone.serve_forever, daemon=True).start()
    try:
        db = mariadb.start_mariadb(state, address=BACKEND, port=3306)
        services.append(db)
        mq = rabbitmq.start_rabbitmq(state, address=BACKEND, port=5672, dist_port=DIST_PORT,
                                     epmd_port=EPMD_PORT)
        services.append(mq)
        conf = _heat_conf(state, mq.transport_url, db.url, "heat.conf", "noauth")
        api_conf = _heat_conf(state, mq.transport_url, db.url, "heat-api.conf", "standalone")
        heat.db_sync(VENV, conf)
        subprocess.run([str(VENV / "bin" / "heat-wsgi"), "cloudwatch", "db-sync",
                        "--config-file", str(conf)], check=True, capture_output=True, text=True)
        services.append(heat.start_engine(VENV, conf, state, "heat-engine", host="cw-e2e",
                                          workers=1, database_url=db.url))
        for name, module, port, service_conf in (
                ("heat-api", "heat_wsgi.api:application", 8004, api_conf),
                ("heat-api-cfn", "heat_wsgi.cfn:application", 8000, conf),
                ("heat-api-cloudwatch", "heat_wsgi.cloudwatch:application", 8003, conf)):
            ini = write_uwsgi_ini(state, name, FRONT, port, service_conf, module=module)
            services.append(uwsgi.start_uwsgi(VENV, ini, state, name))

        # standalone flavor: heat-api checks this user and password with
        # (the stand-in) Keystone, and stores its URL with the stack.
        hc = heat_client.Client("1", endpoint=f"http://{FRONT}:8004/v1/admin",
                                username="admin", password="secret", include_pass=True,
                                auth_url=f"{KEYSTONE_URL}/v3")
        created = hc.stacks.create(stack_name="cw-e2e-" + uuid.uuid4().hex[:6], template=TEMPLATE)
        stack_id = created["stack"]["id"]
        deadline = time.monotonic() + 120
        current = hc.stacks.get(stack_id)
        while current.stack_status == "CREATE_IN_PROGRESS" and time.monotonic() < deadline:
            time.sleep(0.5)
            current = hc.stacks.get(stack_id)
        assert current.stack_status == "CREATE_COMPLETE", current.stack_status_reason
        outputs = {o["output_key"]: o["output_value"] for o in current.outputs}
        yield Stack(hc, query_client(f"http://{FRONT}:8003", state / "botocore"), stack_id,
                    outputs)
    finally:
        stop_all(list(reversed(services)))
        keystone.shutdown()


def _alarm(stack: Stack, name: str, url: str) -> None:
    stack.cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="App/Web", MetricName="Load",
        Dimensions=[{"Name": "Group", "Value": name}], Statistic="Maximum", Period=60,
        EvaluationPeriods=1, Threshold=70.0, ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[url])


def _load(stack: Stack, name: str, value: float) -> None:
    stack.cloudwatch.put_metric_data(Namespace="App/Web", MetricData=[
        {"MetricName": "Load", "Dimensions": [{"Name": "Group", "Value": name}],
         "Value": value, "Unit": "Percent"}])


def _state(stack: Stack, name: str) -> str:
    return str(stack.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0][
        "StateValue"])


def test_alarm_url_is_a_presigned_cfn_signal_url(stack: Stack):
    for key in ("alarm_url", "aws_alarm_url"):
        url = stack.outputs[key]
        assert url.startswith(f"http://{FRONT}:8000/v1/signal/arn%3Aopenstack%3Aheat"), url
        assert "Signature=" in url and "AWSAccessKeyId=" in url


def test_metric_data_above_the_threshold_grows_the_group(stack: Stack):
    name = "web-load-" + uuid.uuid4().hex[:6]
    start = stack.size()
    _alarm(stack, name, stack.outputs["alarm_url"])
    _load(stack, name, 20.0)
    assert _state(stack, name) == "OK"
    assert stack.size() == start

    _load(stack, name, 95.0)
    assert _state(stack, name) == "ALARM"
    assert stack.wait_size(start + 1) == start + 1

    # Still above the threshold: no new transition, so no second scaling.
    _load(stack, name, 99.0)
    time.sleep(3)
    assert stack.size() == start + 1

    # Re-armed through OK, the next crossing scales again.
    stack.cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="re-arm")
    _load(stack, name, 97.0)
    assert _state(stack, name) == "ALARM"
    assert stack.wait_size(start + 2) == start + 2
    stack.cloudwatch.delete_alarms(AlarmNames=[name])


def test_the_aws_scaling_policy_alarm_url_works_too(stack: Stack):
    name = "aws-load-" + uuid.uuid4().hex[:6]
    start = stack.size()
    _alarm(stack, name, stack.outputs["aws_alarm_url"])
    _load(stack, name, 90.0)
    assert _state(stack, name) == "ALARM"
    assert stack.wait_size(start + 1) == start + 1
    stack.cloudwatch.delete_alarms(AlarmNames=[name])
