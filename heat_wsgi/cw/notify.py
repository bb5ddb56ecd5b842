"""Firing alarm actions: POST the transition to each http(s) action URL.

A Heat signal URL (the pre-signed ``alarm_url`` of a scaling policy) takes
a JSON body; the one sent here has the keys Aodh sends, which Heat's
scaling policies read (``current`` is the new state, lower case).
Actions run on a small thread pool, after the transaction that won the
transition has committed, so a slow or dead URL never holds a DB lock or
the API response. Failures are logged, not retried: an alarm action is a
notification of a transition, and a retried scaling signal would scale
twice.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

LOG = logging.getLogger(__name__)

# What Heat and Aodh call the states.
STATE_WORDS = {"OK": "ok", "ALARM": "alarm", "INSUFFICIENT_DATA": "insufficient data"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    alarm_name: str
    alarm_arn: str
    previous: str
    current: str
    reason: str
    reason_data: str | None

    def body(self) -> bytes:
        data = None
        if self.reason_data:
            try:
                data = json.loads(self.reason_data)
            except ValueError:
                data = self.reason_data
        return json.dumps({
            "alarm_name": self.alarm_name, "alarm_id": self.alarm_arn,
            "previous": STATE_WORDS[self.previous], "current": STATE_WORDS[self.current],
            "state": STATE_WORDS[self.current], "reason": self.reason, "reason_data": data,
        }).encode("utf-8")


Poster = Callable[[str, bytes, float], int]


def http_post(url: str, body: bytes, timeout: float) -> int:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) only)
        return int(response.status)


class Notifier:
    """Sends transitions to action URLs; ``wait`` is for tests and shutdown."""

    def __init__(self, timeout: float, poster: Poster = http_post, workers: int = 4) -> None:
        self._timeout = timeout
        self._poster = poster
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cw-action")
        self._pending: list[Future[None]] = []
        self._lock = threading.Lock()  # fire() runs on several request threads

    def fire(self, actions: tuple[str, ...], transition: Transition) -> None:
        for url in actions:
            if not url.startswith(("http://", "https://")):
                LOG.warning("alarm %s -> %s: action %s is not an http(s) URL; heat_wsgi "
                            "has nothing to deliver it to", transition.alarm_name,
                            transition.current, url)
                continue
            future = self._pool.submit(self._send, url, transition)
            with self._lock:
                self._pending = [f for f in self._pending if not f.done()]
                self._pending.append(future)

    def _send(self, url: str, transition: Transition) -> None:
        shown = url.split("?", 1)[0]  # the query of a pre-signed URL is a credential
        try:
            status = self._poster(url, transition.body(), self._timeout)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            LOG.error("alarm %s -> %s: action POST %s failed: %s", transition.alarm_name,
                      transition.current, shown, exc)
            return
        LOG.info("alarm %s -> %s: action POST %s answered %s", transition.alarm_name,
                 transition.current, shown, status)

    def wait(self, timeout: float = 30.0) -> None:
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.result(timeout=timeout)
