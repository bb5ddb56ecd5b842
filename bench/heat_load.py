"""Heat API calls for the benchmarks: stack creates to completion, from client threads.

Plain urllib with no proxy and one connection per request (every tier
closes the connection after each answer anyway), so the client side costs
every tier the same. ``noauth`` makes the caller admin of the project named
in ``X-Auth-Project``, which is also the project in the URL.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

RANDOM_STRING_TEMPLATE: dict[str, Any] = {
    "heat_template_version": "2018-08-31",
    "resources": {"rs": {"type": "OS::Heat::RandomString", "properties": {"length": 16}}},
    "outputs": {"value": {"value": {"get_attr": ["rs", "value"]}}},
}
# Status reads while a stack is created, on a fixed schedule from the POST
# (a late answer skips a slot, it does not push the next read back), so a
# tier that answers faster is not read more often: every tier gets the same
# poll load, and the completion time is known to within one interval.
POLL_INTERVAL = 0.25
CREATE_TIMEOUT = 120.0

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LoadError(Exception):
    pass


def call(method: str, url: str, project: str, body: Any = None,
         timeout: float = 60.0) -> tuple[int, Any]:
    """(status, decoded JSON body or None) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", "Accept": "application/json",
        "X-Auth-Project": project})
    try:
        with _opener.open(request, timeout=timeout) as response:
            raw = response.read()
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), int(exc.code)
    except OSError as exc:
        raise LoadError(f"{method} {url}: {exc}") from None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


@dataclass(frozen=True, slots=True)
class Created:
    name: str
    stack_id: str
    seconds: float   # POST to CREATE_COMPLETE seen
    ok: bool
    detail: str = ""
    calls: int = 1   # HTTP requests made: the POST and the status reads


def create_to_completion(base: str, project: str, name: str) -> Created:
    """POST one RandomString stack and read its status until it is no longer
    in progress."""
    started = time.monotonic()
    stacks = f"{base}/v1/{project}/stacks"
    status, answer = call("POST", stacks, project,
                          {"stack_name": name, "template": RANDOM_STRING_TEMPLATE})
    if status != 201 or not isinstance(answer, dict) or "stack" not in answer:
        return Created(name, "", time.monotonic() - started, False,
                       f"POST answered {status}: {str(answer)[:200]}")
    stack_id = str(answer["stack"]["id"])
    url = f"{stacks}/{name}/{stack_id}"
    calls = 1
    while time.monotonic() - started < CREATE_TIMEOUT:
        elapsed = time.monotonic() - started
        time.sleep(POLL_INTERVAL - elapsed % POLL_INTERVAL)
        status, answer = call("GET", url, project)
        calls += 1
        seconds = time.monotonic() - started
        if status != 200 or not isinstance(answer, dict):
            return Created(name, stack_id, seconds, False, f"GET answered {status}", calls)
        state = str(answer["stack"]["stack_status"])
        if state != "CREATE_IN_PROGRESS":
            return Created(name, stack_id, seconds, state == "CREATE_COMPLETE", state, calls)
    return Created(name, stack_id, time.monotonic() - started, False, "timed out", calls)


def delete_to_completion(base: str, project: str, stack: Created) -> str | None:
    """DELETE one stack and read it back until it is gone; None when it
    went, else what went wrong."""
    url = f"{base}/v1/{project}/stacks/{stack.name}/{stack.stack_id}"
    status, answer = call("DELETE", url, project)
    if status not in (204, 404):
        return f"DELETE {stack.name} answered {status}: {str(answer)[:200]}"
    started = time.monotonic()
    while time.monotonic() - started < CREATE_TIMEOUT:
        status, answer = call("GET", url, project)
        if status == 404:
            return None
        if status != 200 or not isinstance(answer, dict):
            return f"GET {stack.name} answered {status}"
        state = str(answer["stack"]["stack_status"])
        if state == "DELETE_COMPLETE":
            return None
        if state == "DELETE_FAILED":
            return f"{stack.name}: {state}"
        time.sleep(POLL_INTERVAL)
    return f"{stack.name}: not deleted in {CREATE_TIMEOUT:g}s"


def delete_many(base: str, project: str, stacks: list[Created], concurrency: int) -> list[str]:
    """Delete ``stacks`` (those that were created), each to completion;
    return what went wrong."""
    def one(stack: Created) -> str | None:
        try:
            return delete_to_completion(base, project, stack)
        except LoadError as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return [e for e in pool.map(one, [s for s in stacks if s.stack_id]) if e]


def create_many(base: str, project: str, names: list[str], concurrency: int) -> list[Created]:
    """Create ``names``, ``concurrency`` at a time, each to completion."""
    def one(name: str) -> Created:
        try:
            return create_to_completion(base, project, name)
        except LoadError as exc:
            return Created(name, "", 0.0, False, str(exc))

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(one, names))
