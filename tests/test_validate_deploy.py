"""Validation of what a deployment to real machines needs: admin socket, log,
check timing (down_within), and the accounts heat_wsgi creates."""

from __future__ import annotations

import dataclasses

import pytest

from heat_wsgi.loader import load_topology
from heat_wsgi.model import (
    AdminSocket, ApiInstance, Database, HealthCheck, Host, Listener, MessageBus, ProxyConfig,
    ProxyLog, ProxyTimeouts, Topology,
)
from heat_wsgi.validate import validate
from heat_wsgi.validate.deploy import check_down_seconds
from test_ansible_render import SAMPLE


def topology(**proxy: object) -> Topology:
    return Topology(
        hosts=(Host(name="a", address="10.0.0.1"), Host(name="b", address="10.0.0.2")),
        api_instances=(ApiInstance(name="api-b", service="api", host="b"),),
        proxy=ProxyConfig(host="a", listeners=(Listener(service="api"),), **proxy),  # type: ignore[arg-type]
        database=Database(url="mysql+pymysql://heat:pw@10.0.0.1/heat", host="a"),
        message_bus=MessageBus(transport_url="rabbit://heat:pw@10.0.0.1:5672/", host="a"),
        base_config="[DEFAULT]\n")


def errors(t: Topology) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in validate(t) if p.severity == "error"]


def test_the_sample_marks_a_dead_machine_down_within_3s() -> None:
    sample = load_topology(SAMPLE)
    assert sample.proxy is not None
    assert check_down_seconds(sample.proxy) == pytest.approx(2.25)
    assert errors(sample) == []


def test_down_within_is_checked_against_the_timing() -> None:
    slow = topology(health_check=HealthCheck(down_within="3s"))   # inter 2s, fall 3, connect 10s
    assert check_down_seconds(slow.proxy) == pytest.approx(2 + 3 * 2 + 2 * 2)  # type: ignore[arg-type]
    [(path, message)] = errors(slow)
    assert path == "proxy.health_check.down_within" and "after up to 12s" in message
    fast = topology(health_check=HealthCheck(inter="1s", fastinter="250ms", fall=2,
                                             down_within="3s"),
                    timeouts=ProxyTimeouts(connect="500ms"))
    assert errors(fast) == []
    # Without a short connect timeout each probe waits a whole inter.
    assert check_down_seconds(dataclasses.replace(
        fast.proxy, timeouts=ProxyTimeouts())) == pytest.approx(3.25)  # type: ignore[arg-type]


@pytest.mark.parametrize("proxy, path", [
    ({"admin_socket": AdminSocket(mode="0660")}, "proxy.admin_socket.group"),
    ({"admin_socket": AdminSocket(mode="0660", group="bad group")}, "proxy.admin_socket.group"),
    ({"admin_socket": AdminSocket(path="run/haproxy.sock")}, "proxy.admin_socket.path"),
    ({"log": ProxyLog(target="syslog.example:99999")}, "proxy.log.target"),
    ({"log": ProxyLog(target="/dev/my log")}, "proxy.log.target"),
    ({"log": ProxyLog(facility="local9")}, "proxy.log.facility"),
    ({"health_check": HealthCheck(fastinter="soon")}, "proxy.health_check.fastinter"),
], ids=["no-group", "bad-group", "relative", "port", "space", "facility", "duration"])
def test_bad_proxy_fields_are_errors(proxy: dict[str, object], path: str) -> None:
    assert [p for p, _ in errors(topology(**proxy))] == [path]


def test_good_proxy_fields_pass() -> None:
    assert errors(topology(admin_socket=AdminSocket(mode="0660", group="haproxy"),
                           log=ProxyLog(target="10.0.0.9:514"))) == []
    assert errors(topology(log=ProxyLog(target="stderr"), admin_socket=None)) == []
    [warning] = [p for p in validate(topology(admin_socket=AdminSocket(group="adm")))]
    assert warning.severity == "warning" and warning.path == "proxy.admin_socket.group"


def test_accounts_heat_wsgi_creates_must_be_creatable() -> None:
    t = topology()
    guest = dataclasses.replace(t, message_bus=MessageBus(
        transport_url="rabbit://guest:guest@10.0.0.1:5672/", host="a"))
    assert [p for p, _ in errors(guest)] == ["message_bus.transport_url"]
    nouser = dataclasses.replace(t, database=Database(url="mysql+pymysql://10.0.0.1/heat", host="a"))
    assert [p for p, _ in errors(nouser)] == ["database.url"]
