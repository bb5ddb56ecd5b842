"""Clients for a running deployment: the demo stack ``heat-wsgi up --demo`` creates, a CFN client.

They need python-heatclient and boto3 (the ``test`` extra); nothing else in
heat_wsgi imports them.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["demo_stack", "cfn_client"]


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
