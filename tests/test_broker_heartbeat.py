"""message_bus.heartbeat_timeout: how soon the broker and oslo.messaging drop a silent peer.

A powered-off engine host keeps its consumers on RabbitMQ until the
connection's heartbeat expires; the lab's machine-loss test
(tests/test_ansible_lab_operations.py) measures that window for real.
"""

from __future__ import annotations

import configparser
import re
from pathlib import PurePosixPath

import pytest

from conftest import REPO
from heat_wsgi.errors import TopologyError
from heat_wsgi.loader import loads_topology
from heat_wsgi.render import render_all

SAMPLE = REPO / "etc" / "heat" / "topology.sample.yaml"
# These tests set the field themselves (the sample's own value, which the lab
# deploys, is taken out first).
BUS_LINE = "  transport_url: rabbit://heat:heat-mq-secret@127.0.0.1:5672/\n"


def sample_text(bus_extra: str = "") -> str:
    text = re.sub(r"(?m)^  heartbeat_timeout: .*\n", "", SAMPLE.read_text())
    assert BUS_LINE in text
    return text.replace(BUS_LINE, BUS_LINE + bus_extra)


def test_heartbeat_reaches_heat_conf_and_the_broker() -> None:
    text = sample_text("  heartbeat_timeout: 10\n")
    files = render_all(loads_topology(text, str(SAMPLE), SAMPLE.parent))
    conf = configparser.RawConfigParser(strict=False, interpolation=None)
    conf.read_string(files[PurePosixPath("B/etc/heat/heat.conf")].text)
    assert conf.get("oslo_messaging_rabbit", "heartbeat_timeout_threshold") == "10"
    rabbit = files[PurePosixPath("A/etc/rabbitmq/rabbitmq.conf")].text
    assert "\nheartbeat = 10\n" in rabbit


def test_no_heartbeat_leaves_the_defaults() -> None:
    files = render_all(loads_topology(sample_text(), str(SAMPLE), SAMPLE.parent))
    assert "heartbeat" not in files[PurePosixPath("B/etc/heat/heat.conf")].text
    assert "heartbeat" not in files[PurePosixPath("A/etc/rabbitmq/rabbitmq.conf")].text


@pytest.mark.parametrize("edit, path, value", [
    ("  heartbeat_timeout: 0\n", "message_bus.heartbeat_timeout", 0),
    ("  heartbeat_timeout: soon\n", "message_bus.heartbeat_timeout", "soon"),
    ("  heartbeat_timeout: 10\n  options:\n    oslo_messaging_rabbit:\n"
     "      heartbeat_timeout_threshold: 30\n",
     "message_bus.options.oslo_messaging_rabbit.heartbeat_timeout_threshold", 10),
])
def test_a_bad_heartbeat_is_named(edit: str, path: str, value: object) -> None:
    text = sample_text(edit)
    with pytest.raises(TopologyError) as info:
        loads_topology(text, str(SAMPLE), SAMPLE.parent)
    assert info.value.path == path and info.value.value == value
