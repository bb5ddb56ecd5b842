"""Bounded client load on Heat's REST API: reads and stack creates, counted.

Run as a script where the clients must live (inside a lab namespace, say)::

    python tests/loadgen.py --api http://198.18.0.1:8004/v1/admin \\
        --readers 4 --creators 2 --seconds 120 --stop-file /tmp/stop --out result.json

It stops by itself: at ``--seconds`` at the latest, or as soon as the stop file
exists. Then it waits (bounded by ``--settle``) for every stack the API
accepted to finish, and writes a JSON summary: request counts, every failure
with its time, the outage window, and each accepted stack's final status.
Plain HTTP on a new connection per request, like a client meeting a proxy
afresh each time, so a failure is counted where a user would see one.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TEMPLATE: dict[str, Any] = {
    "heat_template_version": "2018-08-31",
    "resources": {"rs": {"type": "OS::Heat::RandomString", "properties": {"length": 8}}},
}
TERMINAL = ("CREATE_COMPLETE", "CREATE_FAILED")


@dataclass
class Failure:
    at: float          #: seconds since the load began, when it failed
    what: str          #: "read", "create" or "poll"
    error: str
    sent: float = 0.0  #: seconds since the load began, when the request was sent


@dataclass
class Summary:
    seconds: float = 0.0
    reads: int = 0
    creates: int = 0
    failures: list[Failure] = field(default_factory=list)
    stacks: dict[str, str] = field(default_factory=dict)   #: "name/id" -> final status

    @property
    def failed(self) -> int:
        return sum(1 for f in self.failures if f.what in ("read", "create"))

    @property
    def outage_seconds(self) -> float:
        """From the first failed request to the last one (0 when none failed)."""
        times = [f.at for f in self.failures if f.what in ("read", "create")]
        return max(times) - min(times) if times else 0.0

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(failed=self.failed, outage_seconds=round(self.outage_seconds, 3),
                    complete=sum(1 for s in self.stacks.values() if s == "CREATE_COMPLETE"))
        return data


class Api:
    """Heat's REST API under one base URL (``.../v1/<project>``), noauth style."""

    def __init__(self, base: str, timeout: float) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            payload = None if body is None else json.dumps(body)
            headers = {"Content-Type": "application/json", "X-Auth-Token": "load",
                       "Connection": "close"}
            conn.request(method, self.prefix + path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw.strip() else None
        finally:
            conn.close()


class Load:
    def __init__(self, api: Api, stop_file: Path | None, seconds: float,
                 read_limit: int = 0) -> None:
        self.api = api
        # 0 lists every stack; N reads one page of N, as a dashboard or a
        # paging client does (a long load piles up hundreds of stacks).
        self.read_path = f"/stacks?limit={read_limit}" if read_limit else "/stacks"
        self.stop_file = stop_file
        self.began = time.monotonic()
        self.deadline = self.began + seconds
        self.summary = Summary()
        self.lock = threading.Lock()
        self.accepted: list[str] = []

    def stopping(self) -> bool:
        return time.monotonic() >= self.deadline or bool(
            self.stop_file and self.stop_file.exists())

    def fail(self, what: str, error: str, sent: float) -> None:
        with self.lock:
            self.summary.failures.append(Failure(round(time.monotonic() - self.began, 3),
                                                 what, error[:300],
                                                 round(sent - self.began, 3)))

    def request(self, what: str, method: str, path: str, body: Any, expect: int) -> Any:
        sent = time.monotonic()
        try:
            status, data = self.api.call(method, path, body)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.fail(what, f"{type(exc).__name__}: {exc}", sent)
            return None
        if status != expect:
            self.fail(what, f"HTTP {status}: {json.dumps(data)[:200]}", sent)
            return None
        return data

    def reader(self) -> None:
        while not self.stopping():
            self.request("read", "GET", self.read_path, None, 200)
            with self.lock:
                self.summary.reads += 1

    def creator(self) -> None:
        while not self.stopping():
            name = f"load-{uuid.uuid4().hex[:10]}"
            # A bounded timeout: a stack whose engine vanished ends FAILED, not pending forever.
            data = self.request("create", "POST", "/stacks",
                                {"stack_name": name, "template": TEMPLATE,
                                 "timeout_mins": 2}, 201)
            with self.lock:
                self.summary.creates += 1
                if data is not None:
                    self.accepted.append(f"{name}/{data['stack']['id']}")
            time.sleep(0.2)   # a creator is a user, not a flood

    def clean_up(self, seconds: float = 30.0, workers: int = 8) -> None:
        """Delete the stacks this load created (after the summary), so the next
        load lists what a deployment holds, not every earlier test's stacks.

        Best effort and bounded: a DELETE returns once an engine has begun
        the delete, so a few in parallel clear hundreds of stacks in seconds;
        whatever is left after ``seconds`` (a lab that lost a machine) stays.
        A stack that had not finished when the settle ended is left alone: it
        is what the test will judge (the lab's losing-C test resets such a
        stack with forget-host and then looks at it), and a DELETE would make
        it DELETE_COMPLETE under the test's feet.
        """
        deadline = time.monotonic() + seconds
        pending = [ref for ref in self.accepted if self.summary.stacks.get(ref) in TERMINAL]

        def work() -> None:
            while time.monotonic() < deadline:
                with self.lock:
                    if not pending:
                        return
                    ref = pending.pop()
                _delete(self, ref)

        threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + self.api.timeout)

    def settle(self, seconds: float) -> None:
        """Wait for every accepted stack to reach a final status."""
        deadline = time.monotonic() + seconds
        pending = list(self.accepted)
        while pending and time.monotonic() < deadline:
            still: list[str] = []
            for ref in pending:
                data = self.request("poll", "GET", f"/stacks/{ref}", None, 200)
                status = data["stack"]["stack_status"] if data else "UNKNOWN"
                self.summary.stacks[ref] = status
                if status not in TERMINAL:
                    still.append(ref)
            pending = still
            if pending:
                time.sleep(0.5)


def _delete(load: "Load", ref: str) -> None:
    try:
        load.api.call("DELETE", f"/stacks/{ref}")
    except (OSError, http.client.HTTPException, ValueError):
        pass   # best effort: the summary is already taken


def run(load: Load, *, readers: int, creators: int, settle: float) -> Summary:
    seconds, api = load.deadline - load.began, load.api
    threads = [threading.Thread(target=load.reader, daemon=True) for _ in range(readers)]
    threads += [threading.Thread(target=load.creator, daemon=True) for _ in range(creators)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + api.timeout + 5)
    load.summary.seconds = round(time.monotonic() - load.began, 3)
    load.settle(settle)
    return load.summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True, help="base URL, e.g. http://h:8004/v1/admin")
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--creators", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=60, help="upper bound on the load")
    parser.add_argument("--stop-file", type=Path, help="stop as soon as this file exists")
    parser.add_argument("--ready-file", type=Path, help="written once the load has begun")
    parser.add_argument("--settle", type=float, default=120,
                        help="how long to wait for accepted stacks to finish")
    parser.add_argument("--timeout", type=float, default=30, help="per-request timeout")
    parser.add_argument("--read-limit", type=int, default=0,
                        help="reads list one page of this many stacks (0: all of them)")
    parser.add_argument("--out", type=Path, required=True, help="JSON summary goes here")
    args = parser.parse_args(argv)
    if args.ready_file:
        # The clock the failure times count from, so a caller can place its own events.
        args.ready_file.write_text(f"{time.monotonic()}\n")
    api = Api(args.api, args.timeout)
    load = Load(api, args.stop_file, args.seconds, args.read_limit)
    summary = run(load, readers=args.readers, creators=args.creators, settle=args.settle)
    # The summary first: the clean-up is not part of what was measured.
    args.out.write_text(json.dumps(summary.as_json(), indent=1) + "\n")
    load.clean_up()
    return 0


if __name__ == "__main__":
    sys.exit(main())
