"""The shipped three-machine sample reproduces the scaling guide's result,
and every rendered heat.conf reads back through oslo.config."""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath

import pytest

import heat_wsgi
from oslo_config import cfg

from heat_wsgi import ApiInstance, ConfOption, EngineGroup, Host, Topology
from heat_wsgi.loader import load_topology
from heat_wsgi.render import render_all
from heat_wsgi.derive.heatconf import legacy_transport_url
from heat_wsgi.derive.ini import parse_ini
from heat_wsgi.render.inifile import edit_ini
from conftest import GUIDE_HEAT_CONF, REPO

SAMPLE = REPO / "etc" / "heat" / "topology.sample.yaml"
#: The same machines with the guide's own heat.conf (legacy option names).
LEGACY = REPO / "etc" / "heat" / "topology.legacy.yaml"

#: What a keystone-less Heat needs (shared/notes §6): the shipped heat.conf
#: and the sample topology's base file both set these.
KEYSTONELESS = {
    ("DEFAULT", "keystone_backend"):
        "heat.engine.clients.os.keystone.fake_keystoneclient.FakeKeystoneClient",
    ("DEFAULT", "deferred_auth_method"): "password",
    ("paste_deploy", "flavor"): "noauth",
    ("oslo_policy", "enforce_new_defaults"): "False",
}


@pytest.fixture(scope="module")
def sample() -> Topology:
    return load_topology(SAMPLE)


@pytest.fixture(scope="module")
def legacy() -> Topology:
    return load_topology(LEGACY)


def text(files: dict[PurePosixPath, object], key: str) -> str:
    return files[PurePosixPath(key)].text  # type: ignore[attr-defined]


def test_sample_validates_without_a_problem(sample: Topology) -> None:
    assert heat_wsgi.validate(sample) == []


def test_sample_renders_the_keystoneless_settings(sample: Topology) -> None:
    shipped = parse_ini((REPO / "etc" / "heat" / "heat.conf").read_text())
    assert {key: shipped.get(key) for key in KEYSTONELESS} == KEYSTONELESS
    # oslo.policy 6 dropped it: oslo-config-validator flags it on every release.
    assert ("oslo_policy", "enforce_scope") not in shipped
    for item in heat_wsgi.render(sample).values():
        if item.kind == "heat.conf":
            settings = parse_ini(item.text)
            assert {key: settings.get(key) for key in KEYSTONELESS} == KEYSTONELESS, item.path
            assert ("oslo_policy", "enforce_scope") not in settings, item.path


def test_legacy_sample_only_warns_about_the_guides_legacy_options(legacy: Topology) -> None:
    # The guide's base file uses sql_connection and rabbit_host, which Heat 27
    # ignores; the topology's database and message_bus replace them.
    problems = heat_wsgi.validate(legacy)
    assert [(p.severity, p.path) for p in problems] == [
        ("warning", "base_config.DEFAULT.sql_connection"),
        ("warning", "base_config.DEFAULT.rabbit_host")]
    line = LEGACY.read_text().splitlines().index("  sql_connection = mysql+pymysql://heat:heat-db-secret@127.0.0.1/heat?charset=utf8") + 1
    assert problems[0].source is not None and problems[0].source.endswith(f"topology.legacy.yaml:{line}")
    assert "[database] connection" in problems[0].message
    assert "[DEFAULT] transport_url" in problems[1].message


def test_haproxy_matches_the_scaling_guide(sample: Topology) -> None:
    haproxy = text(heat_wsgi.render(sample), "A/etc/haproxy/haproxy.cfg")
    rest = haproxy.split("listen rest_api_proxy\n")[1].split("\n\n")[0]
    cfn = haproxy.split("listen cfn_api_proxy\n")[1].split("\n\n")[0]
    assert "    bind 10.0.0.1:8004" in rest
    assert "    bind 10.0.0.1:8000" in cfn
    assert "server rest-server-1 10.0.0.2:8004 check" in rest
    assert "server rest-server-2 10.0.0.3:8004 check" in rest
    assert "server cfn-server-1 10.0.0.2:8000 check" in cfn
    assert "server cfn-server-2 10.0.0.3:8000 check" in cfn
    # Each server takes what its processes x threads run at once; the rest
    # waits in HAProxy's queue (proxy.queue_in_proxy).
    for server in rest.splitlines()[-2:] + cfn.splitlines()[-2:]:
        assert server.endswith(" maxconn 2"), server
    # leastconn, not the guide's "balance source": Heat's APIs keep no
    # session, and source sent every client behind one address to one server
    # (the sample's comment says why).
    for line in ("balance leastconn", "option httpchk", "http-check send meth GET uri /healthcheck",
                 "http-check expect status 200", "option forwardfor",
                 "http-request set-header X-Forwarded-Proto http"):
        assert line in rest and line in cfn
    assert "balance source" not in haproxy
    # The guide's timeouts, but for connect and check: the sample marks a
    # powered-off machine down within 3 s (proxy.health_check.down_within).
    # Layer 7 retries only where no instance has acted on the request.
    for line in ("option redispatch", "retries 3", "timeout http-request 10s", "timeout queue 1m",
                 "timeout connect 500ms", "timeout client 1m", "timeout server 2m",
                 "timeout check 2s", "retry-on conn-failure empty-response"):
        assert f"    {line}\n" in haproxy


def read_back(path: Path, opts: dict[str, list[cfg.Opt]]) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    for group, group_opts in opts.items():
        conf.register_opts(group_opts, group=None if group == "DEFAULT" else group)
    conf(args=[], default_config_files=[str(path)], project="heat-test")
    return conf


HEAT_OPTS: dict[str, list[cfg.Opt]] = {
    "DEFAULT": [cfg.StrOpt("host"), cfg.StrOpt("transport_url"), cfg.StrOpt("sql_connection"),
                cfg.StrOpt("rabbit_host"), cfg.IntOpt("num_engine_workers"),
                cfg.IntOpt("rpc_response_timeout"), cfg.StrOpt("heat_metadata_server_url"),
                cfg.StrOpt("heat_waitcondition_server_url"), cfg.BoolOpt("debug")],
    "database": [cfg.StrOpt("connection"), cfg.IntOpt("max_pool_size"),
                 cfg.IntOpt("max_overflow")],
    "oslo_middleware": [cfg.BoolOpt("enable_proxy_headers_parsing")],
    "heat_api": [cfg.StrOpt("bind_host"), cfg.PortOpt("bind_port")],
    "paste_deploy": [cfg.StrOpt("flavor")],
}


@pytest.mark.parametrize("which", ["sample", "legacy"])
@pytest.mark.parametrize("host, address", [("B", "10.0.0.2"), ("C", "10.0.0.3")])
def test_api_hosts_heat_conf_points_at_a(sample: Topology, legacy: Topology, tmp_path: Path,
                                         host: str, address: str, which: str) -> None:
    topology = sample if which == "sample" else legacy
    body = text(heat_wsgi.render(topology), f"{host}/etc/heat/heat.conf")
    path = tmp_path / "heat.conf"
    path.write_text(body)
    conf = read_back(path, HEAT_OPTS)
    assert conf.host == host
    assert conf.database.connection == \
        "mysql+pymysql://heat:heat-db-secret@10.0.0.1/heat?charset=utf8"
    assert conf.sql_connection is None and conf.rabbit_host is None
    if which == "legacy":
        # The guide's legacy options stay only as comments.
        assert "#sql_connection = " in body and "#rabbit_host = localhost" in body
    assert conf.transport_url == "rabbit://heat:heat-mq-secret@10.0.0.1:5672/"
    assert conf.num_engine_workers == 1
    assert conf.rpc_response_timeout == 60
    assert conf.debug is False
    assert conf.database.max_pool_size == 5 and conf.database.max_overflow == 10
    assert conf.oslo_middleware.enable_proxy_headers_parsing is True
    assert conf.heat_metadata_server_url == "http://10.0.0.1:8000"
    assert conf.heat_waitcondition_server_url == "http://10.0.0.1:8000/v1/waitcondition"
    assert conf.paste_deploy.flavor == "noauth"
    # Heat 27 has no [heat_api] bind options: the base file's stale ones go.
    assert conf.heat_api.bind_host is None
    live = [line for line in body.splitlines() if not line.startswith("#")]
    assert not [line for line in live if "127.0.0.1" in line or "localhost" in line]


def test_heat_24_writes_the_guides_bind_options(sample: Topology, tmp_path: Path) -> None:
    old = dataclasses.replace(sample, heat_version=24)
    assert [p for p in heat_wsgi.validate(old) if p.severity == "error"] == []
    files = heat_wsgi.render(old)
    path = tmp_path / "heat.conf"
    path.write_text(text(files, "B/etc/heat/heat.conf"))
    opts = dict(HEAT_OPTS, heat_api_cfn=[cfg.StrOpt("bind_host"), cfg.PortOpt("bind_port")])
    conf = read_back(path, opts)
    assert (conf.heat_api.bind_host, conf.heat_api.bind_port) == ("10.0.0.2", 8004)
    assert (conf.heat_api_cfn.bind_host, conf.heat_api_cfn.bind_port) == ("10.0.0.2", 8000)
    assert "heat_api_cloudwatch" not in text(files, "B/etc/heat/heat.conf")


def test_heat_24_gives_each_of_several_instances_its_own_copy(sample: Topology,
                                                             tmp_path: Path) -> None:
    extra = ApiInstance(name="rest-server-3", service="api", host="B", port=8014)
    old = dataclasses.replace(sample, heat_version=24,
                              api_instances=sample.api_instances + (extra,))
    assert [p for p in heat_wsgi.validate(old) if p.severity == "error"] == []
    files = heat_wsgi.render(old)
    ini = text(files, "B/etc/heat/uwsgi/rest-server-3.ini")
    assert "\npyargv = --config-file /etc/heat/heat-rest-server-3.conf\n" in ini
    opts = dict(HEAT_OPTS, heat_api=[cfg.StrOpt("bind_host"), cfg.PortOpt("bind_port")])
    for name, port in (("rest-server-1", 8004), ("rest-server-3", 8014)):
        path = tmp_path / f"heat-{name}.conf"
        path.write_text(text(files, f"B/etc/heat/heat-{name}.conf"))
        conf = read_back(path, opts)
        assert (conf.heat_api.bind_host, conf.heat_api.bind_port) == ("10.0.0.2", port)
        assert conf.host == f"B-{name}"
        # A full copy: the database and AMQP settings are there too.
        assert conf.database.connection.startswith("mysql+pymysql://heat:heat-db-secret@10.0.0.1/")
    # B's own heat.conf (its engines') cannot pick one of two REST instances.
    assert "bind_port = 8014" not in text(files, "B/etc/heat/heat.conf")


def test_each_instance_has_its_own_heat_conf_and_host(sample: Topology) -> None:
    files = heat_wsgi.render(sample)
    for instance in sample.api_instances:
        item = files[PurePosixPath(f"{instance.host}/etc/heat/heat-{instance.name}.conf")]
        assert item.mode == 0o640 and item.kind == "heat.conf"
        assert parse_ini(item.text)[("DEFAULT", "host")] == f"{instance.host}-{instance.name}"
        ini = text(files, f"{instance.host}/etc/heat/uwsgi/{instance.name}.ini")
        assert f"\npyargv = --config-file /etc/heat/heat-{instance.name}.conf\n" in ini
    for host in ("B", "C"):
        assert parse_ini(text(files, f"{host}/etc/heat/heat.conf"))[("DEFAULT", "host")] == host
        unit = text(files, f"{host}/etc/systemd/system/heat-engine-1.service")
        assert "--config-file /etc/heat/heat.conf" in unit


def test_comments_and_untouched_options_survive() -> None:
    base = ("# top comment\n[DEFAULT]\n# about debug\ndebug = true\nhost = old\n"
            "multi = one\n    two\n\n[database]\n# keep me\nconnection = sqlite://\n")
    out = edit_ini(base, {("DEFAULT", "host"): "new", ("database", "max_overflow"): "3",
                          ("oslo_middleware", "x"): "y", ("DEFAULT", "multi"): None})
    assert out == ("# top comment\n[DEFAULT]\n# about debug\ndebug = true\nhost = new\n\n"
                   "[database]\n# keep me\nconnection = sqlite://\nmax_overflow = 3\n\n"
                   "[oslo_middleware]\nx = y\n")


def test_repeated_keys_collapse_to_one() -> None:
    out = edit_ini("[DEFAULT]\nhost = a\nhost = b\n[DEFAULT]\nhost = c\n", {("DEFAULT", "host"): "z"})
    assert parse_ini(out) == {("DEFAULT", "host"): "z"}
    assert out.count("host") == 1


def test_missing_default_section_is_added_first() -> None:
    out = edit_ini("# hello\n[database]\nconnection = x\n", {("DEFAULT", "host"): "h"})
    assert out.startswith("# hello\n[DEFAULT]\nhost = h\n\n[database]")


@pytest.mark.parametrize("value", ["$literal", "  padded  ", '"quoted"', "a#b", "x = y", "ünï"])
def test_awkward_values_read_back_through_oslo(sample: Topology, tmp_path: Path, value: str) -> None:
    topo = dataclasses.replace(sample, heat_conf=(ConfOption(section="DEFAULT", key="awkward", value=value),))
    path = tmp_path / "heat.conf"
    path.write_text(text(heat_wsgi.render(topo), "B/etc/heat/heat.conf"), encoding="utf-8")
    conf = read_back(path, {"DEFAULT": [cfg.StrOpt("awkward")]})
    assert conf.awkward == value


@pytest.mark.parametrize("scenario", [SAMPLE, LEGACY, REPO / "tests" / "golden" / "modes" / "topology.yaml"])
def test_every_heat_conf_parses_in_oslo_config(scenario: Path, tmp_path: Path) -> None:
    topology = load_topology(scenario)
    confs = [f for f in heat_wsgi.render(topology).values() if f.kind == "heat.conf"]
    assert confs
    hosts = []
    for item in confs:
        name = Path(item.path).name
        path = tmp_path / f"{item.host}-{name}"
        path.write_text(item.text, encoding="utf-8")
        sections: dict[str, dict[str, list[str]]] = {}
        cfg.ConfigParser(str(path), sections).parse()
        expected = item.host if name == "heat.conf" else \
            f"{item.host}-{name.removeprefix('heat-').removesuffix('.conf')}"
        assert sections["DEFAULT"]["host"] == [expected]
        assert sections["oslo_middleware"]["enable_proxy_headers_parsing"] == ["true"]
        hosts.append(expected)
    assert len(hosts) == len(set(hosts))


SEED_BASE = GUIDE_HEAT_CONF


def test_legacy_options_alone_become_the_current_ones(tmp_path: Path) -> None:
    # The guide's base file with nothing else: validation says it is an error
    # (Heat 27 would use the defaults), but what renders is still right.
    topology = Topology(hosts=(Host(name="a", address="127.0.0.1"),),
                        engines=(EngineGroup(host="a"),), base_config=SEED_BASE)
    assert {p.path for p in heat_wsgi.validate(topology) if p.severity == "error"} == {
        "base_config.DEFAULT.sql_connection", "base_config.DEFAULT.rabbit_host"}
    body = text(render_all(topology, validated=True), "a/etc/heat/heat.conf")
    assert ("# heat_wsgi: Heat 27 does not read [DEFAULT] sql_connection; [database] connection "
            "carries its value\n#sql_connection = mysql+pymysql://root:admin@127.0.0.1/heat"
            "?charset=utf8\n") in body
    assert "\n#rabbit_host = localhost\n" in body
    path = tmp_path / "heat.conf"
    path.write_text(body)
    conf = read_back(path, HEAT_OPTS)
    assert conf.database.connection == "mysql+pymysql://root:admin@127.0.0.1/heat?charset=utf8"
    assert conf.transport_url == "rabbit://guest:guest@localhost:5672/"
    assert conf.sql_connection is None and conf.rabbit_host is None


def test_legacy_rabbit_options_make_one_transport_url() -> None:
    settings = {("DEFAULT", "rabbit_hosts"): "10.0.0.1,10.0.0.2:5673,::1",
                ("DEFAULT", "rabbit_port"): "5671",
                ("oslo_messaging_rabbit", "rabbit_userid"): "heat",
                ("DEFAULT", "rabbit_userid"): "ignored: the newer section wins",
                ("DEFAULT", "rabbit_password"): "p@ss:word/",
                ("DEFAULT", "rabbit_virtual_host"): "heat"}
    assert legacy_transport_url(settings) == (
        "rabbit://heat:p%40ss%3Aword%2F@10.0.0.1:5671,heat:p%40ss%3Aword%2F@10.0.0.2:5673,"
        "heat:p%40ss%3Aword%2F@[::1]:5671/heat")
    assert legacy_transport_url({("DEFAULT", "rabbit_host"): "mq"}) == "rabbit://guest:guest@mq:5672/"


def test_legacy_options_are_rewritten_for_the_serving_host(legacy: Topology) -> None:
    # The legacy sample keeps the guide's base file: each instance's copy
    # gets the current options with A's address, the old ones as comments.
    files = heat_wsgi.render(legacy)
    body = text(files, "B/etc/heat/heat-rest-server-1.conf")
    assert "\nconnection = mysql+pymysql://heat:heat-db-secret@10.0.0.1/heat?charset=utf8\n" in body
    assert "\ntransport_url = rabbit://heat:heat-mq-secret@10.0.0.1:5672/\n" in body
    assert "\n#sql_connection = " in body and "\n#rabbit_host = localhost\n" in body


def test_up_runs_the_guides_sample_on_the_current_options(legacy: Topology, tmp_path: Path) -> None:
    # `heat-wsgi up` adds no [database] connection of its own: the renderer
    # writes it from the topology's database, whatever the base file says.
    from heat_wsgi.local.localize import localize

    plan = localize(legacy, tmp_path / "state", venv=tmp_path)
    assert not [c for c in plan.topology.heat_conf if (c.section, c.key) == ("database", "connection")]
    confs = [f for f in render_all(plan.topology).values() if f.kind == "heat.conf"]
    assert len(confs) == 2 + 6
    for item in confs:
        settings = parse_ini(item.text)
        assert settings[("database", "connection")] == plan.db_url
        assert settings[("DEFAULT", "transport_url")] == plan.transport_url
        assert ("DEFAULT", "sql_connection") not in settings
        assert ("DEFAULT", "rabbit_host") not in settings
