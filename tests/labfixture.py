"""Pytest fixtures for tests on the lab of real machines (heat_wsgi.lab).

Use it from a test module with ``pytest_plugins = ["labfixture"]`` (or
``from labfixture import lab``). The session-scoped ``lab`` fixture boots
machines a, b, c (198.18.0.1-3) once per test session, with its own prefix
and state dir so it never collides with a lab that ``heat-wsgi lab up``
runs, and after the session checks that nothing of it is left: no
systemd-nspawn pid, no overlay mount, no namespace.

A test module that changes the lab's shape (powers a machine off, adds one)
should boot its own with :func:`booted_lab` and another prefix, so the
shared lab stays as other modules expect it.
"""

from __future__ import annotations

import signal
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
               boot_timeout: float = 60.0) -> Iterator[Lab]:
    """A started lab, stopped however the block ends, then checked to have left nothing."""
    lab = Lab(machines, prefix=prefix, state_dir=state_dir, boot_timeout=boot_timeout,
              progress=_progress)
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


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """Machines a, b, c on 198.18.0.1-3, shared by the whole session."""
    with booted_lab(prefix=SESSION_PREFIX, state_dir=SESSION_STATE) as running:
        yield running
