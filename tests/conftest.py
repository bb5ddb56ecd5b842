"""Shared test helpers: the checkout and its venv, state directories, waiting
on a condition, and a keystone-less heat.conf for a test.

The fast loop is ``pytest -m "not real"``: a test marked ``real`` starts a
server or runs an outside program (Apache's or HAProxy's syntax check,
systemd-analyze, a Python that boots Heat, mypy, Sphinx); every other test
runs in this process. Real-server fixtures live next to the tests that use
them; the services themselves are started through :mod:`heat_wsgi.runtime`,
the same code ``heat-wsgi up`` uses.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from heat_wsgi import demo

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix)
PYTHON = VENV / "bin" / "python"
SHIPPED_HEAT_CONF = REPO / "etc" / "heat" / "heat.conf"

# The scaling guide's heat.conf from machine A, as the guide prints it: the
# legacy option names Heat 27 no longer reads.
GUIDE_HEAT_CONF = """[DEFAULT]
sql_connection = mysql+pymysql://root:admin@127.0.0.1/heat?charset=utf8
rabbit_host = localhost

[heat_api]
bind_port = 8004
bind_host = 10.0.0.1

[heat_api_cfn]
bind_port = 8000
bind_host = 10.0.0.1
"""


def heat_conf_text(*, state_dir: Path, transport_url: str, database_url: str | None = None,
                   host: str = "heat-test", flavor: str = "noauth",
                   extra: str = "") -> str:
    """The shipped keystone-less heat.conf with a test's own URLs and paths."""
    text = SHIPPED_HEAT_CONF.read_text()
    database_url = database_url or f"sqlite:///{state_dir}/heat.sqlite"
    replacements = {
        r"(?m)^host = .*$": f"host = {host}",
        r"(?m)^transport_url = .*$": f"transport_url = {transport_url}",
        r"(?m)^connection = sqlite.*$": f"connection = {database_url}",
        r"(?m)^flavor = .*$": f"flavor = {flavor}",
    }
    for pattern, value in replacements.items():
        text, count = re.subn(pattern, value.replace("\\", "\\\\"), text)
        assert count == 1, f"shipped heat.conf lost the line {pattern}"
    return text + extra


def write_heat_conf(path: Path, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(heat_conf_text(state_dir=path.parent, **kwargs))  # type: ignore[arg-type]
    return path


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """An environment with no OS_HEAT_* and a HOME with no heat.conf."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_HEAT_")}
    env["HOME"] = str(tmp_path / "home")
    return env


def reachable_dir(prefix: str) -> Path:
    """A fresh directory under /tmp that Apache's www-data children can enter
    (pytest's tmp_path sits below a mode-700 directory)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def state_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """The test module's own state directory (see :func:`reachable_dir`), removed afterwards."""
    path = reachable_dir(f"heat-wsgi-{request.module.__name__.removeprefix('test_')}-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def wait_until(probe: Callable[[], T], timeout: float, what: str, *,
               interval: float = 0.2) -> T:
    """Call ``probe`` until it returns something true and return that; fail naming ``what``."""
    try:
        return demo.wait_until(probe, timeout, what, interval=interval)
    except demo.WaitTimeout as timeout_error:
        raise AssertionError(f"{timeout_error} (last: {timeout_error.last!r})") from None


def holds_for(probe: Callable[[], object], seconds: float, what: str, *,
              interval: float = 0.2) -> None:
    """Check ``probe`` stays true for ``seconds``: a window in which nothing may change."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        assert value, f"{what}: stopped holding (got {value!r})"
        if time.monotonic() > deadline:
            return
        time.sleep(interval)


def hypothesis_examples(default: int) -> int:
    """``max_examples`` for a property test: ``default`` in CI, scaled up by
    ``HEAT_WSGI_HYPOTHESIS_SCALE`` for a long run (``HEAT_WSGI_HYPOTHESIS_SCALE=100``)."""
    return default * max(1, int(os.environ.get("HEAT_WSGI_HYPOTHESIS_SCALE", "1")))


# The lab's session fixtures are registered here, once: imported into two test
# modules, one fixture would become two, and a session-scoped lab would boot twice.
from ansiblelab import deployment, lab, rolling_restart  # noqa: E402,F401
from labfixture import SESSION as _SESSION_LAB  # noqa: E402


# The whole suite runs as two streams side by side (`pytest -n 2`, README's test
# command): the lab's booted machines in one worker, every test on this box's
# loopback in the other. The lab's machines have network namespaces of their own
# and never meet the loopback tests' addresses, so the streams cannot collide;
# within a stream tests run one at a time, in file order, as without xdist.
# (xdist's own --dist loadgroup cannot do this under pytest 9.2: it renames
# item._nodeid, which pytest no longer reads.)
LAB_MODULES = frozenset({"test_lab.py", "test_ansible_lab.py", "test_ansible_lab_operations.py"})


def stream_of(nodeid: str) -> str:
    """The stream a test runs in: "lab" for the lab's modules, else "loopback"."""
    return "lab" if module_name(nodeid) in LAB_MODULES else "loopback"


# The benchmarks' smoke runs load both cores for minutes. Early in the loopback
# stream they ran beside the lab's booted machines: each slowed the other (the
# entrypoint bench took 335 s instead of 85 s), and once a lazy-apps start ran
# past its 90 s bound. The lab's stream is done in about 20 min, the loopback
# stream's in about 40, so at the loopback stream's end they have the box alone.
LAST_IN_STREAM = frozenset({"test_bench_smoke.py"})


def module_name(nodeid: str) -> str:
    return nodeid.split("::")[0].rsplit("/", 1)[-1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move LAST_IN_STREAM's tests to the end, keeping every other order as collected."""
    items.sort(key=lambda item: module_name(item.nodeid) in LAST_IN_STREAM)


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    from xdist.scheduler import LoadScopeScheduling

    class TwoStreams(LoadScopeScheduling):
        """Each stream is one xdist scope: all of it on one worker, in order."""

        def _split_scope(self, nodeid: str) -> str:
            return stream_of(nodeid)

    if config.getoption("markexpr") == "not real":
        # The fast loop starts no server, so its modules need no stream: one
        # scope per module spreads them over both workers (twice as fast).
        return LoadScopeScheduling(config, log)
    return TwoStreams(config, log)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Find the last test that needs the session's lab (see labfixture.SessionLab)."""
    _SESSION_LAB.find_last_user(session.items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Tear the session's lab down right after its last test's own teardown, rather than
    leaving its machines running through the rest of the session."""
    try:
        return (yield)
    finally:
        _SESSION_LAB.close_after(item)
# Likewise the CloudWatch tests' one Keystone (tests/cwkeystone.py), shared by two modules.
from cwkeystone import cw_keystone  # noqa: E402,F401
