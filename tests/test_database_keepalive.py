"""database.dead_client_within: how soon MariaDB drops a silent client machine's session.

A machine that loses power mid-transaction sends no FIN; MariaDB keeps its
session, and the transaction's row locks, until TCP keepalive or wait_timeout
(hours by default). The lab's machine-loss test
(tests/test_ansible_lab_operations.py) measures the window for real; these
check the arithmetic, the rendering, the error, and that mariadbd reads it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import REPO
from heat_wsgi.errors import TopologyError
from heat_wsgi.loader import loads_topology
from heat_wsgi.render import render_all
from heat_wsgi.render.database import keepalive

SAMPLE = REPO / "etc" / "heat" / "topology.sample.yaml"
DROPIN = PurePosixPath("A/etc/mysql/mariadb.conf.d/99-heat_wsgi.cnf")
MARIADBD = Path("/usr/sbin/mariadbd")


def sample_with(value: str | None) -> str:
    text = re.sub(r"(?m)^  dead_client_within: .*\n", "", SAMPLE.read_text())
    if value is None:
        return text
    return text.replace("  pool_size: 5\n", f"  pool_size: 5\n  dead_client_within: {value}\n", 1)


@given(st.integers(8, 86_400))
def test_the_probes_end_within_the_bound(within: int) -> None:
    time, interval, probes = keepalive(within)
    assert time >= 1 and interval >= 1 and probes >= 1
    # Not later than the bound, and not earlier either: an earlier drop would
    # cut a client that is only slow.
    assert time + interval * probes == within
    assert interval <= time


def test_the_sample_renders_keepalive_into_the_drop_in() -> None:
    files = render_all(loads_topology(SAMPLE.read_text(), str(SAMPLE), SAMPLE.parent))
    text = files[DROPIN].text
    assert "\ntcp_keepalive_time = 11\ntcp_keepalive_interval = 3\ntcp_keepalive_probes = 3\n" \
        in text


def test_unset_leaves_mariadb_defaults() -> None:
    text = sample_with(None)
    files = render_all(loads_topology(text, str(SAMPLE), SAMPLE.parent))
    assert "keepalive" not in files[DROPIN].text


@pytest.mark.parametrize("value, received", [("7", 7), ("-1", -1), ("soon", "soon"),
                                             ("86401", 86401)])
def test_a_bad_value_is_named(value: str, received: object) -> None:
    text = sample_with(value)
    if received == 86401:   # in range for the model, over the validator's limit
        from heat_wsgi.validate import validate
        problems = validate(loads_topology(text, str(SAMPLE), SAMPLE.parent))
        assert any(p.path == "database.dead_client_within" and p.value == 86401
                   for p in problems), problems
        return
    with pytest.raises(TopologyError) as info:
        loads_topology(text, str(SAMPLE), SAMPLE.parent)
    assert info.value.path == "database.dead_client_within" and info.value.value == received


@pytest.mark.real
def test_mariadbd_reads_the_rendered_values(tmp_path: Path) -> None:
    files = render_all(loads_topology(SAMPLE.read_text(), str(SAMPLE), SAMPLE.parent))
    conf = tmp_path / "my.cnf"
    conf.write_text(files[DROPIN].text)
    out = subprocess.run([str(MARIADBD), f"--defaults-file={conf}", "--verbose", "--help"],
                         capture_output=True, text=True, timeout=60, check=False).stdout
    values = dict(re.findall(r"(?m)^(tcp-keepalive-\w+)\s+(\d+)$", out))
    assert values == {"tcp-keepalive-time": "11", "tcp-keepalive-interval": "3",
                      "tcp-keepalive-probes": "3"}, out[-2000:]
    assert re.search(r"(?m)^skip-name-resolve\s+TRUE$", out), out[-2000:]
