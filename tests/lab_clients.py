"""AWS-style clients of the lab's proxy, run inside its control namespace; one JSON line out.

``lab_clients.py cfn URL NAME``: boto3's CloudFormation client creates a
stack, waits for it, and describes it (and lists every stack).
``lab_clients.py cloudwatch URL NAMESPACE DATADIR``: botocore's CloudWatch
client (Query protocol) puts metric data, then lists the namespace's metrics.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from heat_wsgi.cw.client import query_client
from heat_wsgi.demo import cfn_client

TEMPLATE = json.dumps({
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {"Secret": {"Type": "OS::Heat::RandomString"}},
    "Outputs": {"Value": {"Value": {"Fn::GetAtt": ["Secret", "value"]}}}})


def cfn(url: str, name: str) -> dict[str, object]:
    client = cfn_client(url)
    stack_id = client.create_stack(StackName=name, TemplateBody=TEMPLATE)["StackId"]
    deadline = time.monotonic() + 180
    while True:
        stack = client.describe_stacks(StackName=name)["Stacks"][0]
        if stack["StackStatus"] != "CREATE_IN_PROGRESS" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    listed = [s["StackName"] for s in client.list_stacks()["StackSummaries"]]
    return {"id": stack_id, "status": stack["StackStatus"],
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
            "listed": name in listed}


def cloudwatch(url: str, namespace: str, data_dir: str) -> dict[str, object]:
    client = query_client(url, Path(data_dir))
    for value in (1.0, 2.0, 3.0):
        client.put_metric_data(Namespace=namespace, MetricData=[
            {"MetricName": "Load", "Value": value, "Unit": "Percent",
             "Dimensions": [{"Name": "Host", "Value": "lab"}]}])
    metrics = client.list_metrics(Namespace=namespace)["Metrics"]
    return {"metrics": sorted(m["MetricName"] for m in metrics)}


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    result = cfn(*rest) if command == "cfn" else cloudwatch(*rest)
    print(json.dumps(result))
