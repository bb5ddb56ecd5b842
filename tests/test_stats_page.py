"""HAProxy's stats page: on the proxy host's loopback by default, behind credentials when exposed."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from heat_wsgi import ApiInstance, Database, EngineGroup, Host, Listener, MessageBus, ProxyConfig
from heat_wsgi import Topology
from heat_wsgi.errors import TopologyError
from heat_wsgi.files import safe_mode
from heat_wsgi.loader import load_topology
from heat_wsgi.model import StatsListener
from heat_wsgi.render import render_all
from heat_wsgi.render.haproxy import render_haproxy
from heat_wsgi.validate import validate
from render_checks import haproxy_check

replace = dataclasses.replace
SECRET = "s3cr#t pass"


def base(stats: StatsListener | None = StatsListener()) -> Topology:
    return Topology(
        hosts=(Host(name="a", address="10.0.0.1"), Host(name="b", address="10.0.0.2")),
        api_instances=(ApiInstance(name="api-b", service="api", host="b"),),
        engines=(EngineGroup(host="b"),),
        proxy=ProxyConfig(host="a", listeners=(Listener(service="api"),), stats=stats),
        database=Database(url="mysql+pymysql://heat:pw@10.0.0.1/heat", host="a"),
        message_bus=MessageBus(transport_url="rabbit://heat:pw@10.0.0.1:5672/", host="a"),
        base_config="[DEFAULT]\ndebug = false\n",
    )


def errors_at(topology: Topology, path: str) -> list[str]:
    return [p.message for p in validate(topology) if p.severity == "error" and p.path == path]


def test_default_binds_the_proxy_hosts_loopback() -> None:
    text = render_haproxy(base())
    assert "    bind 127.0.0.1:8404\n" in text
    assert "10.0.0.1:8404" not in text
    assert "stats auth" not in text


def test_loopback_proxy_host_keeps_its_own_address() -> None:
    t = base()
    t = replace(t, hosts=(Host(name="a", address="127.0.0.2"), t.hosts[1]))
    assert "    bind 127.0.0.2:8404\n" in render_haproxy(t)


@pytest.mark.parametrize("address", ["10.0.0.1", "0.0.0.0", "::", "*"])
def test_exposed_page_requires_credentials(address: str) -> None:
    t = base(StatsListener(address=address))
    assert any("is required" in m for m in errors_at(t, "proxy.stats.credentials_file"))


def test_empty_address_is_refused() -> None:
    # "" binds every interface in HAProxy.
    t = base(StatsListener(address="", credentials="admin:pw"))
    assert errors_at(t, "proxy.stats.address")


def test_exposed_page_with_credentials_renders_auth_and_0640() -> None:
    t = base(StatsListener(address="10.0.0.1", credentials=f"admin:{SECRET}"))
    assert validate(t) == []
    files = render_all(t)
    cfg = next(f for f in files.values() if f.kind == "haproxy")
    assert f"    stats auth 'admin:{SECRET}'\n" in cfg.text
    assert safe_mode(cfg) == 0o640


@pytest.mark.parametrize("secret", ["nocolon", ":pw", "admin:", "ad min:pw", "admin:it's",
                                    "admin: pw "])
def test_bad_credentials_are_refused_without_echoing(secret: str) -> None:
    t = base(StatsListener(address="10.0.0.1", credentials=secret))
    problems = [p for p in validate(t) if p.path == "proxy.stats.credentials_file"]
    assert problems
    assert all(p.value is None for p in problems)


def test_unread_credentials_file_is_reported() -> None:
    t = base(StatsListener(address="10.0.0.1", credentials_file="stats.auth"))
    assert any("was not read" in m for m in errors_at(t, "proxy.stats.credentials_file"))


def _topology_file(tmp_path: Path, mode: int, content: str = f"admin:{SECRET}\n") -> Path:
    cred = tmp_path / "stats.auth"
    cred.write_text(content)
    os.chmod(cred, mode)
    yaml = tmp_path / "t.yaml"
    yaml.write_text("""\
hosts: [{name: a, address: 10.0.0.1}, {name: b, address: 10.0.0.2}]
api_instances: [{name: api-b, service: api, host: b}]
engines: [{host: b}]
proxy:
  host: a
  listeners: [{service: api}]
  stats: {address: 10.0.0.1, credentials_file: stats.auth}
base_config: "[DEFAULT]\\n"
""")
    return yaml


def test_loader_reads_a_private_credentials_file(tmp_path: Path) -> None:
    t = load_topology(_topology_file(tmp_path, 0o600))
    assert t.proxy is not None and t.proxy.stats is not None
    assert t.proxy.stats.credentials == f"admin:{SECRET}"
    assert SECRET not in repr(t)
    assert [p for p in validate(t) if p.severity == "error"] == []


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o602])
def test_loader_refuses_a_credentials_file_others_can_read(tmp_path: Path, mode: int) -> None:
    with pytest.raises(TopologyError) as info:
        load_topology(_topology_file(tmp_path, mode))
    assert info.value.path == "proxy.stats.credentials_file"
    assert "others" in str(info.value)
    assert SECRET not in str(info.value)


def test_loader_refuses_a_fifo_and_several_lines(tmp_path: Path) -> None:
    yaml = _topology_file(tmp_path, 0o600, f"admin:{SECRET}\nmore:lines\n")
    with pytest.raises(TopologyError) as info:
        load_topology(yaml)
    assert "one line" in str(info.value) and SECRET not in str(info.value)
    (tmp_path / "stats.auth").unlink()
    os.mkfifo(tmp_path / "stats.auth", 0o600)
    with pytest.raises(TopologyError, match="regular file"):
        load_topology(yaml)


@pytest.mark.real
@pytest.mark.parametrize("stats", [
    StatsListener(),
    StatsListener(address="10.0.0.1", credentials=f"admin:{SECRET}"),
    StatsListener(address="::", credentials="admin:pw\\x$y%z"),
])
def test_haproxy_accepts_the_stats_section(tmp_path: Path, stats: StatsListener) -> None:
    t = base(stats)
    assert [p for p in validate(t) if p.severity == "error"] == []
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render_haproxy(t))
    result = haproxy_check(cfg)
    assert result.returncode == 0, result.stdout + result.stderr
