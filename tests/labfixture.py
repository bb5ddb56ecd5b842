"""Pytest fixtures for tests on the lab of real machines (heat_wsgi.lab).

The session-scoped ``lab`` fixture (registered in conftest.py, booted by
``tests/ansiblelab.py`` with the machines of the shipped sample topology)
boots its machines once per test session, with its own prefix and state
dir so it never collides with a lab that ``heat-wsgi lab up`` runs.

It does not wait for the end of the session: conftest's
``pytest_runtest_teardown`` calls :meth:`SessionLab.close_after` after every
test, and the lab is torn down right after the teardown of the last
collected test that needs it (the booted machines, with their engines,
broker, database and uwsgi, would otherwise idle through the rest of the
suite). The fixture's own finalizer closes it too, a no-op by then unless
the run ended early (``-x``, Ctrl-C, a CI timeout's SIGTERM). Either way the
close checks that nothing is left: no systemd-nspawn pid, no overlay mount,
no namespace.

A test module that changes the lab's shape (powers a machine off, adds one)
may boot its own with :func:`booted_lab` and another prefix.
"""

from __future__ import annotations

import signal
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from heat_wsgi.lab import Lab
from heat_wsgi.lab import executor
from heat_wsgi.runtime.process import is_alive

REPO = Path(__file__).resolve().parent.parent
#: Another prefix lets two checkouts run their lab tests side by side.
SESSION_PREFIX = os.environ.get("HEAT_WSGI_TEST_LAB_PREFIX", "hwlt-")
SESSION_STATE = REPO / ".state" / "lab-tests"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def leftovers(prefix: str, state_dir: Path, pids: list[int]) -> list[str]:
    """What of a lab is still there: live pids, overlay mounts, namespaces."""
    found = [f"pid {p} alive" for p in pids if is_alive(p)]
    found += [f"{r.kind} {r.name}" for r in executor.leftovers(prefix, state_dir)]
    return found


@contextmanager
def booted_lab(machines: Mapping[str, str] | None = None, *, prefix: str, state_dir: Path,
               boot_timeout: float = 60.0, links: Mapping[str, str] | None = None
               ) -> Iterator[Lab]:
    """A started lab, stopped however the block ends, then checked to have left nothing."""
    lab = Lab(machines, prefix=prefix, state_dir=state_dir, boot_timeout=boot_timeout,
              progress=_progress, links=links)
    started = time.monotonic()
    # A SIGTERM (a CI timeout) becomes a KeyboardInterrupt, so the finally
    # below still tears the lab down; pytest then ends the session.
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        lab.start()
        _progress(f"lab {prefix}: booted {len(lab.machines)} machines in "
                  f"{lab.boot_seconds:.1f}s ({time.monotonic() - started:.1f}s with setup)")
        yield lab
    finally:
        stopping = time.monotonic()
        try:
            lab.stop()
        finally:
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, previous)
        _progress(f"lab {prefix}: torn down in {time.monotonic() - stopping:.1f}s")
    left = leftovers(prefix, state_dir, lab.started_pids)
    assert not left, f"lab {prefix} left behind: {left}"


class SessionLab:
    """The session's one lab: opened by the ``lab`` fixture, closed after its last test."""

    def __init__(self) -> None:
        self._stack: ExitStack | None = None
        self._last: str | None = None

    def open(self, machines: Mapping[str, str], links: Mapping[str, str]) -> Lab:
        assert self._stack is None, "the session lab is already open"
        stack = ExitStack()
        running = stack.enter_context(booted_lab(machines, prefix=SESSION_PREFIX,
                                                 state_dir=SESSION_STATE, links=links))
        self._stack = stack
        return running

    def close(self) -> None:
        """Tear the lab down (and check it left nothing), if it is open."""
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def find_last_user(self, items: list[pytest.Item]) -> None:
        """Remember the last of ``items`` (in run order) that needs the ``lab`` fixture,
        directly or through another fixture (``deployment``, ``rolling_restart``)."""
        users = [item.nodeid for item in items if "lab" in getattr(item, "fixturenames", ())]
        self._last = users[-1] if users else None

    def close_after(self, item: pytest.Item) -> None:
        """Called after each test's teardown: close the lab once its last user is done."""
        if item.nodeid == self._last and self._stack is not None:
            _progress(f"lab {SESSION_PREFIX}: its last test ({item.nodeid}) is done")
            self.close()


SESSION = SessionLab()
