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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

RANDOM_STRING_TEMPLATE: dict[str, Any] = {
    "heat_template_version": "2018-08-31",
    "resources": {"rs": {"type": "OS::Heat::RandomString", "properties": {"length": 16}}},
    "outputs": {"value": {"value": {"get_attr": ["rs", "value"]}}},
}
# Status reads while a stack is created go out on a fixed schedule from the
# POST's answer, from a small pool of threads, without waiting for the
# earlier ones: the same read rate for every tier, however fast it answers.
# (Reads that wait for the previous answer, as this once did, give a tier
# that answers slowly fewer reads, 2.0 requests per create against 3.6 for
# a faster one in one run, so less engine work and sooner creates.)
# The completion time is the answer to the first read that saw the stack
# done, so it is known to within one interval. At most MAX_READS_IN_FLIGHT
# per create: a tier that stops answering is not flooded.
POLL_INTERVAL = 0.25
MAX_READS_IN_FLIGHT = 8
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
    """POST one RandomString stack and read its status, on the fixed schedule
    above, until a read sees it no longer in progress."""
    started = time.monotonic()
    stacks = f"{base}/v1/{project}/stacks"
    status, answer = call("POST", stacks, project,
                          {"stack_name": name, "template": RANDOM_STRING_TEMPLATE})
    if status != 201 or not isinstance(answer, dict) or "stack" not in answer:
        return Created(name, "", time.monotonic() - started, False,
                       f"POST answered {status}: {str(answer)[:200]}")
    stack_id = str(answer["stack"]["id"])
    url = f"{stacks}/{name}/{stack_id}"

    def read() -> tuple[float, str | None, str]:
        """(when answered, the final status, None while in progress or "" when
        the read failed, and the status or what went wrong)"""
        try:
            status, answer = call("GET", url, project)
        except LoadError as exc:
            return time.monotonic(), "", str(exc)
        if status != 200 or not isinstance(answer, dict):
            return time.monotonic(), "", f"GET answered {status}"
        state = str(answer["stack"]["stack_status"])
        return time.monotonic(), (None if state == "CREATE_IN_PROGRESS" else state), state

    reads: list[Future[tuple[float, str | None, str]]] = []
    with ThreadPoolExecutor(max_workers=MAX_READS_IN_FLIGHT) as pool:
        schedule = time.monotonic()
        while schedule - started < CREATE_TIMEOUT:
            schedule += POLL_INTERVAL
            time.sleep(max(0.0, schedule - time.monotonic()))
            # Answers in the order the reads were sent: the first one done
            # decides, even if a later read happened to answer first.
            for future in reads:
                if not future.done():
                    break
                answered, final, detail = future.result()
                if final is not None:
                    return Created(name, stack_id, answered - started,
                                   final == "CREATE_COMPLETE", detail, 1 + len(reads))
            if sum(not f.done() for f in reads) < MAX_READS_IN_FLIGHT:
                reads.append(pool.submit(read))
    return Created(name, stack_id, time.monotonic() - started, False, "timed out",
                   1 + len(reads))


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
