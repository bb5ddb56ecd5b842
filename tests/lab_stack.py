"""Create one stack with python-heatclient and wait for it: ``lab_stack.py ENDPOINT NAME``.

Run in the lab's control namespace by tests/test_ansible_lab.py; prints one
JSON line (id, status, seconds, the stack's output).
"""

import json
import sys
import time

from heatclient import client as heat_client

hc = heat_client.Client("1", endpoint=sys.argv[1], token="lab")
t0 = time.monotonic()
stack = hc.stacks.create(stack_name=sys.argv[2], template={
    "heat_template_version": "2018-08-31",
    "resources": {"rs": {"type": "OS::Heat::RandomString", "properties": {"length": 16}}},
    "outputs": {"value": {"value": {"get_attr": ["rs", "value"]}}}})
sid = stack["stack"]["id"]
deadline = time.monotonic() + 240
while True:
    st = hc.stacks.get(sid)
    if st.stack_status != "CREATE_IN_PROGRESS" or time.monotonic() > deadline:
        break
    time.sleep(0.2)
print(json.dumps({"id": sid, "status": st.stack_status, "seconds": round(time.monotonic() - t0, 2),
                  "output": hc.stacks.output_show(sid, "value")["output"]["output_value"]}))
