"""Clients for a running deployment: the demo stack ``heat-wsgi up --demo`` creates, a CFN client.

They need python-heatclient and boto3 (the ``test`` extra); nothing else in
heat_wsgi imports them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from heat_wsgi.errors import HeatWsgiError
from heat_wsgi.local.keystone import KeystoneAccounts
from heat_wsgi.runtime import keystone

T = TypeVar("T")

__all__ = ["demo_stack", "cfn_client", "AUTOSCALING_TEMPLATE", "ScalingGroup",
           "autoscaling_demo"]


def demo_stack(endpoint: str, name: str = "heat-wsgi-demo", timeout: float = 120.0) -> dict[str, object]:
    """Create (or find) a small stack through ``endpoint`` and return what it shows.

    :param endpoint: the REST API URL including ``/v1/<project>``.
    """
    from heatclient import client as heat_client  # python-heatclient, in the venv
    from heatclient import exc as heat_exc

    hc = heat_client.Client("1", endpoint=endpoint, token="noauth")
    template = {
        "heat_template_version": "2018-08-31",
        "description": "heat-wsgi demo: a random string and a test resource",
        "resources": {
            "secret": {"type": "OS::Heat::RandomString", "properties": {"length": 16}},
            "probe": {"type": "OS::Heat::TestResource",
                      "properties": {"value": {"get_attr": ["secret", "value"]}}}},
        "outputs": {"secret": {"value": {"get_attr": ["secret", "value"]}},
                    "probe": {"value": {"get_attr": ["probe", "output"]}}}}
    try:
        stack_id = hc.stacks.get(name).id
    except heat_exc.HTTPNotFound:
        stack_id = hc.stacks.create(stack_name=name, template=template)["stack"]["id"]
    deadline = time.monotonic() + timeout
    stack = hc.stacks.get(stack_id)
    while stack.stack_status.endswith("IN_PROGRESS") and time.monotonic() < deadline:
        time.sleep(0.3)
        stack = hc.stacks.get(stack_id)
    return {"name": stack.stack_name, "id": stack.id, "status": stack.stack_status,
            "reason": stack.stack_status_reason,
            "outputs": {o["output_key"]: o.get("output_value") for o in stack.outputs or []}}


def cfn_client(endpoint_url: str) -> Any:
    """A plain boto3 CloudFormation client for Heat's CFN API at ``endpoint_url`` (``.../v1/``).

    No response hooks: the CFN pipelines of heat_wsgi's ``api-paste.ini``
    (:mod:`heat_wsgi.cfn_compat`) already leave out the ``None`` timestamps
    Heat writes, so any client parses the answers.
    """
    import boto3

    return boto3.client("cloudformation", endpoint_url=endpoint_url, region_name="RegionOne",
                        aws_access_key_id="heat-wsgi", aws_secret_access_key="noauth")


#: A group of one to four members and a policy adding one; its alarm URL is
#: an EC2-pre-signed URL on the CFN API (``heat_waitcondition_server_url``).
AUTOSCALING_TEMPLATE: dict[str, Any] = {
    "heat_template_version": "2018-08-31",
    "description": "heat-wsgi demo: a CloudWatch alarm grows this group",
    "resources": {
        "group": {"type": "OS::Heat::AutoScalingGroup", "properties": {
            "min_size": 1, "max_size": 4,
            "resource": {"type": "OS::Heat::RandomString", "properties": {"length": 8}}}},
        "scale_up": {"type": "OS::Heat::ScalingPolicy", "properties": {
            "adjustment_type": "change_in_capacity",
            "auto_scaling_group_id": {"get_resource": "group"},
            "scaling_adjustment": 1, "cooldown": 0}}},
    "outputs": {"alarm_url": {"value": {"get_attr": ["scale_up", "alarm_url"]}},
                "size": {"value": {"get_attr": ["group", "current_size"]}}},
}
ALARM = {"Namespace": "HeatWsgi/Demo", "MetricName": "Load", "Statistic": "Maximum",
         "Period": 60, "EvaluationPeriods": 1, "Threshold": 70.0,
         "ComparisonOperator": "GreaterThanThreshold"}


class WaitTimeout(HeatWsgiError, TimeoutError):
    """What :func:`wait_until` waited for did not come; ``last`` is the probe's last answer.

    A :class:`~heat_wsgi.errors.HeatWsgiError`, so that ``heat-wsgi up --demo``
    reports it in one line rather than a traceback."""

    def __init__(self, what: str, timeout: float, last: object) -> None:
        super().__init__(f"{what}: not within {timeout:g}s")
        self.last = last


def wait_until(probe: Callable[[], T], timeout: float, what: str, *,
               interval: float = 0.5) -> T:
    """Call ``probe`` until it returns something true and return that; else :class:`WaitTimeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise WaitTimeout(what, timeout, value)
        time.sleep(interval)


@dataclass
class ScalingGroup:
    """The demo's stack as its owner sees it, through heat-api and CloudWatch."""

    heat: Any
    cloudwatch: Any
    stack_id: str
    name: str

    def output(self, key: str) -> Any:
        return self.heat.stacks.output_show(self.stack_id, key)["output"]["output_value"]

    def size(self) -> int:
        return int(self.output("size"))

    def settled(self) -> bool:
        """Not in the middle of a resize (Heat drops a signal that arrives during one)."""
        metadata = self.heat.resources.metadata(self.stack_id, "group") or {}
        return not metadata.get("scaling_in_progress", False)

    def wait_size(self, wanted: int, timeout: float = 300.0) -> int:
        wait_until(lambda: self.size() == wanted and self.settled(), timeout,
                   f"the group at size {wanted}, settled")
        return self.size()

    def put_load(self, alarm: str, value: float) -> None:
        self.cloudwatch.put_metric_data(Namespace=ALARM["Namespace"], MetricData=[
            {"MetricName": ALARM["MetricName"], "Dimensions": [{"Name": "Group", "Value": alarm}],
             "Value": value, "Unit": "Percent"}])

    def alarm_state(self, alarm: str) -> str:
        return str(self.cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0][
            "StateValue"])


def scaling_group(accounts: KeystoneAccounts, *, api: str, cloudwatch: str, data_dir: Path,
                  name: str = "heat-wsgi-autoscaling", timeout: float = 180.0) -> ScalingGroup:
    """Find or create the demo's autoscaling stack as the demo user.

    :param api: heat-api's root (``http://127.0.0.1:8004``): the user's
        token is checked by keystonemiddleware, and the engine makes a trust
        from it for the alarm's later signals
    :param cloudwatch: the CloudWatch API (``http://127.0.0.1:8003``), called
        by botocore signing with the demo user's EC2 credential
    """
    from heatclient import client as heat_client
    from heatclient import exc as heat_exc

    from heat_wsgi.cw.client import query_client

    sess = keystone.admin_session(accounts.url, accounts.demo_user, accounts.demo_password,
                                  accounts.demo_project)
    hc = heat_client.Client("1", session=sess,
                            endpoint=f"{api.rstrip('/')}/v1/{sess.get_project_id()}")
    try:
        stack_id = hc.stacks.get(name).id
    except heat_exc.HTTPNotFound:
        stack_id = hc.stacks.create(stack_name=name, template=AUTOSCALING_TEMPLATE)["stack"]["id"]
    # The probe answers None until the stack settles, so what comes back is a stack.
    stack: Any = wait_until(lambda: (lambda s: None if s.stack_status.endswith("IN_PROGRESS") else s)(
        hc.stacks.get(stack_id)), timeout, f"stack {name} settles")
    if stack.stack_status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise RuntimeError(f"stack {name}: {stack.stack_status}: {stack.stack_status_reason}")
    access, secret = keystone.ec2_credential(accounts.url, accounts.demo_user,
                                             accounts.demo_password, accounts.demo_project)
    cw = query_client(cloudwatch, data_dir, access_key=access, secret_key=secret,
                      region=accounts.region)
    return ScalingGroup(hc, cw, stack_id, name)


def autoscaling_demo(group: ScalingGroup, alarm: str = "heat-wsgi-demo-load",
                     load: float = 95.0, timeout: float = 300.0) -> dict[str, object]:
    """Metric data above the alarm's threshold grows the group by one.

    The alarm (re)made on the policy's alarm URL starts from OK; the load
    puts it in ALARM, which POSTs the URL; the engine adds a member.
    :returns: ``before``/``after`` sizes, the alarm's ``state`` and the ``stack``.
    """
    group.cloudwatch.put_metric_alarm(AlarmName=alarm, AlarmActions=[group.output("alarm_url")],
                                      Dimensions=[{"Name": "Group", "Value": alarm}], **ALARM)
    group.cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK",
                                     StateReason="heat-wsgi demo: armed")
    group.wait_size(group.size(), timeout)   # a resize still under way finishes first
    before = group.size()
    group.put_load(alarm, load)
    state = group.alarm_state(alarm)
    after = group.wait_size(before + 1, timeout) if before < 4 else before
    return {"before": before, "after": after, "state": state, "stack": group.name,
            "alarm": alarm}
