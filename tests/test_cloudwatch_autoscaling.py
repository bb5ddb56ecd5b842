"""End to end: a CloudWatch alarm scales a Heat autoscaling group.

Everything is the real server a user would run: RabbitMQ, MariaDB,
heat-engine, OpenStack Keystone (``heat_wsgi.runtime.keystone``, its
database in the same MariaDB), and heat-api, heat-api-cfn and
heat-api-cloudwatch under uwsgi. heat-api runs its ``default`` flavor
(keystonemiddleware ``authtoken``) and is called by python-heatclient with
a keystoneauth session holding the admin's token; heat-api-cfn and
heat-api-cloudwatch run the ``noauth`` flavor.

Why Keystone is needed at all: Heat 27's engine handles every resource
signal under the stack's *stored* context (``Stack.load(...,
use_stored_context=True)``), and ``StoredContext`` asks Keystone for the
owner's roles and domain (``_load_keystone_data``) as soon as the scaling
policy makes its first RPC call. In the keystone-less deployment (heat-api
``noauth``, FakeKeystoneClient) the stored auth URL is the literal
``"url"``: the signal is accepted (HTTP 200, "adjusting group ... by 1" in
the engine log) and then fails with ``EndpointNotFound``, so the group never
grows. With Keystone the engine is configured as Heat documents it: the
real keystone backend, ``deferred_auth_method = trusts`` with a ``heat``
service user as ``[trustee]``, and a ``heat`` stack-user domain.
``deferred_auth_method = password`` is no way round: Heat stores no user
domain with the password, and Keystone v3 refuses a user name without one
("Expecting to find domain in user").

Which alarm URL works, and why:

* A scaling policy's ``alarm_url`` (``OS::Heat::ScalingPolicy``) or
  ``AlarmUrl`` (``AWS::AutoScaling::ScalingPolicy``) is an EC2-pre-signed
  URL on the CFN API: ``<heat_waitcondition_server_url, with /signal>/
  <resource ARN>?AWSAccessKeyId=...&Signature=...``, signed with the EC2
  credential of a stack user the engine creates in Keystone's ``heat``
  domain. heat-api-cfn's noauth flavor serves ``POST /v1/signal/<arn>``
  without checking that signature and passes our JSON body to the engine as
  the signal's details; the engine then acts under the stack's trust. That
  is the URL used, and heat.conf must point ``heat_waitcondition_server_url``
  (and the metadata URL) at the CFN API for it.
* ``OS::Heat::ScalingPolicy``'s ``signal_url`` is heat-api's native
  ``.../resources/<name>/signal``; it needs a Keystone token to call.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import cwkeystone
from conftest import VENV, heat_conf_text, holds_for, wait_until
from cwkeystone import KeystoneDeployment, service_user_options
from heat_wsgi.cw.client import query_client
from heat_wsgi.runtime import heat, rabbitmq, uwsgi
from heat_wsgi.runtime.service import Service, stop_all
from realstack import wait_settled
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


# Keystone (127.0.0.24:5000, its MariaDB on 127.0.0.23) and the identities
# Heat is deployed with come from the session's cw_keystone (tests/cwkeystone.py),
# shared with tests/test_cloudwatch_keystone.py.
KEYSTONE_URL = cwkeystone.URL


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
        """The group's size once it reached ``wanted`` and settled."""
        wait_until(lambda: self.size() == wanted and self.settled(), timeout,
                   f"the group at size {wanted}, settled", interval=0.5)
        return self.size()


def _heat_conf(state: Path, transport_url: str, database_url: str, name: str,
               flavor: str) -> Path:
    """The shipped heat.conf, turned from keystone-less to Keystone-backed.

    The engine talks to Keystone for real (the default keystone_backend
    instead of FakeKeystoneClient) and keeps trusts instead of passwords:
    deferred_auth_method = password cannot work against Keystone v3, since
    Heat stores no user domain and v3 needs one to authenticate a user name.
    """
    text = heat_conf_text(state_dir=state, transport_url=transport_url,
                          database_url=database_url, host="cw-e2e", flavor=flavor)
    cfn = f"http://{FRONT}:8000"
    for pattern, line in (
            (r"(?m)^heat_metadata_server_url = .*$", f"heat_metadata_server_url = {cfn}"),
            (r"(?m)^heat_waitcondition_server_url = .*$",
             f"heat_waitcondition_server_url = {cfn}/v1/waitcondition"),
            (r"(?m)^keystone_backend = .*\n", ""),
            (r"(?m)^deferred_auth_method = .*$", "deferred_auth_method = trusts\n"
             "stack_user_domain_name = heat\n"
             f"stack_domain_admin = {cwkeystone.DOMAIN_ADMIN}\n"
             f"stack_domain_admin_password = {cwkeystone.DOMAIN_ADMIN_PASSWORD}")):
        text, count = re.subn(pattern, line, text)
        assert count == 1, f"shipped heat.conf lost the line {pattern}"
    text += (f"\n[clients_keystone]\nauth_uri = {KEYSTONE_URL}\n"
             f"\n[keystone_authtoken]\nwww_authenticate_uri = {KEYSTONE_URL}\n"
             f"{service_user_options()}"
             f"\n[trustee]\n{service_user_options(project=False)}"
             "\n[heat_wsgi_cloudwatch]\nevaluation_interval = 0\n")
    path = state / "etc" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory,
          cw_keystone: KeystoneDeployment) -> Iterator[Stack]:
    from heatclient import client as heat_client

    state = tmp_path_factory.mktemp("cw-e2e")
    (state / "logs").mkdir()
    sess = cw_keystone.admin_session()
    database_url = cw_keystone.database("heat_cw_e2e")
    services: list[Service] = []
    try:
        mq = rabbitmq.start_rabbitmq(state, address=BACKEND, port=5672, dist_port=DIST_PORT,
                                     epmd_port=EPMD_PORT)
        services.append(mq)
        conf = _heat_conf(state, mq.transport_url, database_url, "heat.conf", "noauth")
        api_conf = _heat_conf(state, mq.transport_url, database_url, "heat-api.conf", "default")
        heat.db_sync(VENV, conf)
        subprocess.run([str(VENV / "bin" / "heat-wsgi"), "cloudwatch", "db-sync",
                        "--config-file", str(conf)], check=True, capture_output=True, text=True)
        services.append(heat.start_engine(VENV, conf, state, "heat-engine", host="cw-e2e",
                                          workers=1, database_url=database_url))
        for name, module, port, service_conf in (
                ("heat-api", "heat_wsgi.api:application", 8004, api_conf),
                ("heat-api-cfn", "heat_wsgi.cfn:application", 8000, conf),
                ("heat-api-cloudwatch", "heat_wsgi.cloudwatch:application", 8003, conf)):
            ini = write_uwsgi_ini(state, name, FRONT, port, service_conf, module=module)
            services.append(uwsgi.start_uwsgi(VENV, ini, state, name))

        # default flavor: keystonemiddleware checks the admin's token with
        # Keystone, and the engine makes a trust from it for later signals.
        project_id = sess.get_project_id()
        hc = heat_client.Client("1", session=sess,
                                endpoint=f"http://{FRONT}:8004/v1/{project_id}")
        created = hc.stacks.create(stack_name="cw-e2e-" + uuid.uuid4().hex[:6], template=TEMPLATE)
        stack_id = created["stack"]["id"]
        current = wait_settled(hc, stack_id, 120, interval=0.5)
        assert current.stack_status == "CREATE_COMPLETE", current.stack_status_reason
        outputs = {o["output_key"]: o["output_value"] for o in current.outputs}
        yield Stack(hc, query_client(f"http://{FRONT}:8003", state / "botocore"), stack_id,
                    outputs)
    finally:
        stop_all(list(reversed(services)))


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


def _crossing_scales(stack: Stack, name: str, value: float, size: int) -> None:
    """Metric data above the threshold puts the alarm in ALARM and the group at ``size``."""
    _load(stack, name, value)
    assert _state(stack, name) == "ALARM"
    assert stack.wait_size(size) == size


def test_metric_data_above_the_threshold_grows_the_group(stack: Stack):
    name = "web-load-" + uuid.uuid4().hex[:6]
    start = stack.size()
    _alarm(stack, name, stack.outputs["alarm_url"])
    _load(stack, name, 20.0)
    assert _state(stack, name) == "OK"
    assert stack.size() == start

    _crossing_scales(stack, name, 95.0, start + 1)

    # Still above the threshold: no new transition, so no second scaling.
    _load(stack, name, 99.0)
    holds_for(lambda: stack.size() == start + 1, 3.0, "no second scaling", interval=0.5)

    # Re-armed through OK, the next crossing scales again.
    stack.cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="re-arm")
    _crossing_scales(stack, name, 97.0, start + 2)
    stack.cloudwatch.delete_alarms(AlarmNames=[name])


def test_the_aws_scaling_policy_alarm_url_works_too(stack: Stack):
    name = "aws-load-" + uuid.uuid4().hex[:6]
    start = stack.size()
    _alarm(stack, name, stack.outputs["aws_alarm_url"])
    _crossing_scales(stack, name, 90.0, start + 1)
    stack.cloudwatch.delete_alarms(AlarmNames=[name])
