"""Every validation rule, made to fire; and validate never raises."""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath

import pytest

import heat_wsgi
from hypothesis import HealthCheck as HC
from hypothesis import given, settings
from hypothesis import strategies as st

from heat_wsgi import (
    ApiInstance, ConfOption, Database, EngineGroup, HealthCheck, Host, Listener, MessageBus,
    Paths, ProxyConfig, ProxyTimeouts, Topology,
)
from heat_wsgi.errors import TopologyError
from heat_wsgi.loader import loads_topology
from heat_wsgi.validate import Problem, validate
from conftest import GUIDE_HEAT_CONF

replace = dataclasses.replace


def base() -> Topology:
    return Topology(
        hosts=(Host(name="a", address="10.0.0.1"), Host(name="b", address="10.0.0.2"),
               Host(name="c", address="10.0.0.3")),
        api_instances=(ApiInstance(name="api-b", service="api", host="b"),
                       ApiInstance(name="api-c", service="api", host="c"),
                       ApiInstance(name="cfn-b", service="cfn", host="b")),
        engines=(EngineGroup(host="b"), EngineGroup(host="c")),
        proxy=ProxyConfig(host="a", listeners=(Listener(service="api"), Listener(service="cfn"))),
        database=Database(url="mysql+pymysql://heat:pw@127.0.0.1/heat", host="a"),
        message_bus=MessageBus(transport_url="rabbit://heat:pw@127.0.0.1:5672/", host="a"),
        base_config="[DEFAULT]\ndebug = false\n",
    )


def fired(topology: Topology, path: str, severity: str = "error", text: str = "") -> Problem:
    problems = validate(topology)
    for problem in problems:
        if problem.path == path and problem.severity == severity and text in problem.message:
            return problem
    raise AssertionError(f"no {severity} at {path} ({text!r}) in:\n" + "\n".join(map(str, problems)))


def with_instance(t: Topology, **kw: object) -> Topology:
    return replace(t, api_instances=t.api_instances + (ApiInstance(**kw),))  # type: ignore[arg-type]


def test_base_is_clean() -> None:
    assert validate(base()) == []


def test_duplicate_instance_names() -> None:
    t = with_instance(base(), name="api-b", service="api", host="c", port=9000)
    assert fired(t, "api_instances[#3].name", text="unique").value == "api-b"


def test_reserved_host_name() -> None:
    t = replace(base(), hosts=base().hosts + (Host(name="ansible", address="10.0.0.9"),))
    assert fired(t, "hosts[ansible].name", text="reserved").value == "ansible"


def test_duplicate_host_names() -> None:
    t = replace(base(), hosts=base().hosts + (Host(name="a", address="10.0.0.9"),))
    fired(t, "hosts[#3].name", text="unique")


def test_two_instances_on_one_host_port() -> None:
    t = with_instance(base(), name="api-b2", service="api", host="b")
    fired(t, "api_instances[api-b2].port", text="clashes with instance api-b on 10.0.0.2:8004")


def test_wildcard_address_clashes_with_any_address() -> None:
    t = with_instance(base(), name="cfn-b2", service="cfn", host="b", address="0.0.0.0")
    fired(t, "api_instances[cfn-b2].port", text="clashes with instance cfn-b")


def test_mod_proxy_backend_port_clash() -> None:
    t = with_instance(base(), name="api-b3", service="api", host="b", mode="mod_proxy",
                      port=8104, backend_port=8105)
    t = with_instance(t, name="api-b4", service="api", host="b", address="127.0.0.1", port=8105)
    fired(t, "api_instances[api-b4].port", text="uwsgi backend")


def test_same_unix_socket() -> None:
    t = with_instance(base(), name="u1", service="api", host="b", mode="mod_proxy_uwsgi",
                      port=8101, socket="/run/heat/x.sock")
    t = with_instance(t, name="u2", service="cfn", host="b", mode="mod_proxy_uwsgi",
                      port=8102, socket="/run/heat/x.sock")
    fired(t, "api_instances[u2].socket", text="also used by instance u1")


def test_proxy_binds_an_instance_address() -> None:
    t = with_instance(base(), name="api-a", service="api", host="a")
    fired(t, "proxy.listeners[api].port", text="must be left free for the proxy")


def test_proxy_stats_clash() -> None:
    t = with_instance(base(), name="api-a", service="api", host="a", port=8404)
    assert t.proxy is not None
    exposed = replace(t.proxy.stats, address="10.0.0.1", credentials="admin:pw")
    t = replace(t, proxy=replace(t.proxy, stats=exposed))
    fired(t, "proxy.stats.port", text="must be left free")


@pytest.mark.parametrize("port", [0, -1, 65536, 80999])
def test_ports_out_of_range(port: int) -> None:
    t = with_instance(base(), name="bad", service="api", host="c", port=port)
    assert fired(t, "api_instances[bad].port", text="1..65535").value == port
    proxy = replace(base().proxy, listeners=(Listener(service="api", port=port), Listener(service="cfn")))
    fired(replace(base(), proxy=proxy), "proxy.listeners[api].port", text="1..65535")


def test_default_backend_port_out_of_range() -> None:
    t = with_instance(base(), name="mp", service="api", host="c", mode="mod_proxy", port=60000)
    fired(t, "api_instances[mp].backend_port", text="1..65535")


def test_service_with_instances_but_no_listener() -> None:
    t = with_instance(base(), name="cw", service="cloudwatch", host="c")
    fired(t, "proxy.listeners", text="must include service cloudwatch")


def test_listener_without_instances() -> None:
    proxy = replace(base().proxy, listeners=base().proxy.listeners + (Listener(service="cloudwatch"),))
    fired(replace(base(), proxy=proxy), "proxy.listeners[cloudwatch]", text="has no instances")


def test_no_proxy_with_several_instances_warns() -> None:
    fired(replace(base(), proxy=None), "proxy", "warning", "nothing balances")


def test_loopback_database_on_a_remote_host() -> None:
    hosts = (base().hosts[0], base().hosts[1], replace(base().hosts[2], heat_conf=(
        ConfOption(section="database", key="connection", value="mysql://heat:pw@localhost/heat"),)))
    problem = fired(replace(base(), hosts=hosts), "hosts[c].heat_conf.database.connection",
                    text="does not run the database")
    assert problem.value == "mysql://heat:***@localhost/heat"


def test_loopback_without_a_serving_host() -> None:
    t = replace(base(), database=Database(url="mysql+pymysql://heat:pw@127.0.0.1/heat"),
                message_bus=MessageBus(transport_url="rabbit://heat:pw@localhost:5672/"))
    p = fired(t, "database.url", text="host b and 1 more hosts")
    assert "heat:***@127.0.0.1" in str(p.value)
    fired(t, "message_bus.transport_url", text="message bus")


SEED_BASE = GUIDE_HEAT_CONF


def _seed_yaml(extra: str = "") -> str:
    body = "".join(f"    {line}\n" if line else "\n" for line in SEED_BASE.splitlines())
    return ("hosts:\n  - {name: a, address: 10.0.0.1}\n  - {name: b, address: 10.0.0.2}\n"
            "engines:\n  - {host: b}\n" + extra + "base_config: |\n" + body)


def test_legacy_options_alone_are_errors_with_file_and_line() -> None:
    t = loads_topology(_seed_yaml(), "t.yaml")
    db = fired(t, "base_config.DEFAULT.sql_connection", text="nothing sets [database] connection")
    assert db.source == "t.yaml:8"     # [DEFAULT] is line 7
    assert db.value == "mysql+pymysql://root:***@127.0.0.1/heat?charset=utf8"
    assert "Heat 27" in db.message and "database.url" in db.message
    mq = fired(t, "base_config.DEFAULT.rabbit_host", text="nothing sets [DEFAULT] transport_url")
    assert mq.source == "t.yaml:9" and mq.value == "localhost"
    assert "message_bus.transport_url" in mq.message


def test_legacy_options_next_to_the_current_ones_are_warnings() -> None:
    # The topology gives both (database.url, message_bus.transport_url) ...
    t = replace(base(), base_config=SEED_BASE)
    assert "[database] connection from the topology's database.url" in fired(
        t, "base_config.DEFAULT.sql_connection", "warning").message
    fired(t, "base_config.DEFAULT.rabbit_host", "warning", "[DEFAULT] transport_url")
    assert [p for p in validate(t) if p.severity == "error"] == []
    # ... or the base file itself does; a password never shows.
    text = ("[DEFAULT]\ntransport_url = rabbit://h:p@10.0.0.1/\nrabbit_password = s3cret\n"
            "[database]\nconnection = mysql+pymysql://h:p@10.0.0.1/heat\n"
            "sql_connection = mysql+pymysql://h:p@10.0.0.1/old\n")
    t = replace(base(), database=None, message_bus=None, base_config=text)
    problem = fired(t, "base_config.DEFAULT.rabbit_password", "warning", "from the base heat.conf")
    assert problem.value == "***" and "s3cret" not in str(validate(t))
    fired(t, "base_config.database.sql_connection", "warning", "[database] connection")


def test_loopback_is_fine_on_the_serving_host_and_on_loopback_hosts() -> None:
    t = replace(base(), hosts=tuple(replace(h, address=f"127.0.0.{i + 1}") for i, h in enumerate(base().hosts)),
                database=Database(url="mysql+pymysql://heat:pw@127.0.0.1/heat"))
    assert [p for p in validate(t) if "loopback" in p.message] == []


def test_engines_amqp_settings_differ() -> None:
    hosts = (base().hosts[0], base().hosts[1], replace(base().hosts[2], heat_conf=(
        ConfOption(section="oslo_messaging_rabbit", key="rabbit_ha_queues", value="true"),
        ConfOption(section="DEFAULT", key="transport_url", value="rabbit://heat:pw@10.0.0.9:5672/"))))
    t = replace(base(), hosts=hosts)
    fired(t, "hosts[c].heat_conf.oslo_messaging_rabbit.rabbit_ha_queues", text="differs from engine host b")
    p = fired(t, "hosts[c].heat_conf.DEFAULT.transport_url", text="share one AMQP")
    assert "***" in str(p.value)


def test_engine_on_the_broker_host_is_not_a_difference() -> None:
    t = replace(base(), engines=base().engines + (EngineGroup(host="a"),))
    assert validate(t) == []


def test_heat_conf_host_values_must_be_unique() -> None:
    # Host "b" with instance "x-y" and host "b-x" with instance "y" would
    # both be "b-x-y"; an engine host named like an instance's value clashes too.
    t = replace(base(), hosts=base().hosts + (Host(name="b-x", address="10.0.0.4"),
                                              Host(name="c-api-c", address="10.0.0.5")))
    t = with_instance(t, name="x-y", service="api", host="b", port=9000)
    t = with_instance(t, name="y", service="api", host="b-x", port=9000)
    t = replace(t, engines=t.engines + (EngineGroup(host="c-api-c"),))
    problem = fired(t, "api_instances[y].name", text="unique host")
    assert problem.value == "b-x-y" and "instance x-y" in problem.message
    clash = fired(t, "hosts[c-api-c].name", text="unique host")
    assert clash.value == "c-api-c" and "instance api-c" in clash.message


def test_a_hosts_own_host_option_must_stay_unique() -> None:
    hosts = tuple(replace(h, heat_conf=(ConfOption(section="DEFAULT", key="host", value="same"),))
                  if h.name in ("b", "c") else h for h in base().hosts)
    problem = fired(replace(base(), hosts=hosts), "hosts[c].heat_conf.DEFAULT.host",
                    text="unique host")
    assert problem.value == "same"


def test_proxy_timeout_shorter_than_rpc_timeout() -> None:
    proxy = replace(base().proxy, timeouts=ProxyTimeouts(server="30s"))
    fired(replace(base(), proxy=proxy), "proxy.timeouts.server", "warning", "rpc_response_timeout of 60s")
    t = replace(base(), heat_conf=(ConfOption(section="DEFAULT", key="rpc_response_timeout", value="600"),))
    fired(t, "proxy.timeouts.server", "warning", "600s")
    longer = replace(base().proxy, timeouts=ProxyTimeouts(server="10m"))
    assert validate(replace(t, proxy=longer)) == []


def test_max_json_body_size_not_larger_than_template() -> None:
    t = replace(base(), base_config="[DEFAULT]\nmax_json_body_size = 524288\n")
    fired(t, "base_config.DEFAULT.max_json_body_size", text="larger than max_template_size")
    t = replace(base(), heat_conf=(ConfOption(section="DEFAULT", key="max_template_size", value="2000000"),))
    fired(t, "base_config.DEFAULT.max_json_body_size", text="(2000000)")


def test_health_checks_without_check() -> None:
    proxy = replace(base().proxy, health_check=HealthCheck(server_check=False))
    fired(replace(base(), proxy=proxy), "proxy.health_check.server_check", "warning", "never runs")


def test_database_connection_budget() -> None:
    db = replace(base().database, max_connections=100)
    problem = fired(replace(base(), database=db), "database.max_connections", text="110 connections")
    assert "2 engine worker(s) use 110" in problem.message
    engines = (EngineGroup(host="b", processes=2, workers=4), EngineGroup(host="c"))
    cw = with_instance(replace(base(), engines=engines, database=replace(db, max_connections=1000,
                                                                        pool_size=2, max_overflow=3)),
                       name="cw", service="cloudwatch", host="c", processes=4)
    cw = replace(cw, proxy=replace(cw.proxy, listeners=cw.proxy.listeners + (Listener(service="cloudwatch"),)))
    assert validate(cw) == []   # 9 engine workers * 5 + 4 cloudwatch * 5 = 65
    problem = fired(replace(cw, database=replace(cw.database, max_connections=64)),
                    "database.max_connections", text="65 connections")
    assert "4 cloudwatch worker process(es) use 20" in problem.message


def test_budget_reads_pool_sizes_from_heat_conf() -> None:
    t = replace(base(), database=replace(base().database, max_connections=20),
                base_config="[database]\nmax_pool_size = 5\nmax_overflow = 5\n")
    assert validate(t) == []
    t = replace(t, base_config="[database]\nmax_pool_size = lots\n")
    fired(t, "base_config.database.max_pool_size", text="must be an integer")


@pytest.mark.parametrize("where", ["name", "address"])
def test_newline_in_a_value_is_an_error(where: str) -> None:
    bad = "api-x\nserver evil 6.6.6.6:80" if where == "name" else "10.0.0.2\n"
    kw = {"name": "api-x", "service": "api", "host": "c", "port": 9100, where: bad}
    problems = validate(with_instance(base(), **kw))
    assert any("control character" in p.message and p.severity == "error" for p in problems)


def test_unsafe_heat_conf_value() -> None:
    t = replace(base(), heat_conf=(ConfOption(section="DEFAULT", key="x", value="a\nb = c"),))
    fired(t, "heat_conf.DEFAULT.x", text="control character")
    t = replace(base(), heat_conf=(ConfOption(section="DEFA]ULT", key="x y", value="1"),))
    fired(t, "heat_conf.DEFA]ULT.x y", text="section must be")


def test_unknown_host_references() -> None:
    t = with_instance(base(), name="lost", service="api", host="nowhere", port=9000)
    t = replace(t, engines=t.engines + (EngineGroup(host="zz"),), proxy=replace(t.proxy, host="pp"))
    fired(t, "api_instances[lost].host", text="must name a host")
    fired(t, "engines[zz].host", text="must name a host")
    fired(t, "proxy.host", text="must name a host")


def test_one_engine_group_per_host() -> None:
    fired(replace(base(), engines=base().engines + (EngineGroup(host="b"),)), "engines[#2].host", text="unique")


def test_bad_durations_and_paths() -> None:
    proxy = replace(base().proxy, timeouts=ProxyTimeouts(client="forever"))
    fired(replace(base(), proxy=proxy), "proxy.timeouts.client", text="HAProxy duration")
    hosts = (replace(base().hosts[0], paths=Paths(run_dir="run/heat")),) + base().hosts[1:]
    fired(replace(base(), hosts=hosts), "hosts[a].paths.run_dir", text="absolute")


def test_base_config_syntax_errors_point_at_the_line(tmp_path: Path) -> None:
    (tmp_path / "heat.conf").write_text("[DEFAULT]\ndebug = true\n...\n")
    yaml_text = (tmp_path / "t.yaml")
    yaml_text.write_text("hosts: [{name: a, address: 10.0.0.1}]\nbase_config_file: heat.conf\n")
    from heat_wsgi.loader import load_topology
    problems = validate(load_topology(yaml_text))
    problem = next(p for p in problems if p.path == "base_config line 3")
    assert problem.source == f"{tmp_path / 'heat.conf'}:3"


def test_problems_carry_file_and_line() -> None:
    text = ("hosts:\n  - {name: a, address: 10.0.0.1}\n"
            "api_instances:\n  - name: x\n    service: api\n    host: a\n    port: 0\n")
    problem = fired(loads_topology(text, "t.yaml"), "api_instances[x].port")
    assert problem.source == "t.yaml:7"
    assert str(problem) == "error: api_instances[x].port: must be a port in 1..65535 (got 0) in t.yaml:7"


def test_errors_come_before_warnings() -> None:
    proxy = replace(base().proxy, health_check=HealthCheck(server_check=False))
    t = with_instance(replace(base(), proxy=proxy), name="bad", service="api", host="c", port=0)
    severities = [p.severity for p in validate(t)]
    assert severities == sorted(severities)   # "error" < "warning"


# -- validate never raises ------------------------------------------------------

text = st.text(max_size=12)
names = st.sampled_from(["a", "b", "c", "x y", "", "a\n"]) | text
ports = st.none() | st.integers(min_value=-5, max_value=70000)
instances = st.builds(ApiInstance, name=names, service=st.sampled_from(["api", "cfn", "cloudwatch"]),
                      host=names, mode=st.sampled_from(["uwsgi", "mod_wsgi", "mod_proxy", "mod_proxy_uwsgi"]),
                      port=ports, address=st.none() | text | st.just("0.0.0.0"), backend_port=ports,
                      socket=st.none() | text, processes=st.integers(1, 4), threads=st.integers(1, 4))
options = st.builds(ConfOption, section=text, key=text, value=text)
hosts = st.builds(Host, name=names, address=text | st.just("127.0.0.1"),
                  heat_conf=st.lists(options, max_size=2).map(tuple))
topologies = st.builds(
    Topology, name=text, heat_version=st.integers(-1, 40),
    hosts=st.lists(hosts, max_size=4).map(tuple),
    api_instances=st.lists(instances, max_size=5).map(tuple),
    engines=st.lists(st.builds(EngineGroup, host=names, processes=st.integers(1, 3)), max_size=3).map(tuple),
    proxy=st.none() | st.builds(ProxyConfig, host=names, address=st.none() | text,
                                listeners=st.lists(st.builds(Listener, service=st.sampled_from(["api", "cfn", "cloudwatch"]),
                                                             port=ports), max_size=3).map(tuple),
                                timeouts=st.builds(ProxyTimeouts, server=text)),
    database=st.none() | st.builds(Database, url=text, host=st.none() | names,
                                   max_connections=st.none() | st.integers(1, 500)),
    message_bus=st.none() | st.builds(MessageBus, transport_url=text, host=st.none() | names),
    base_config=text | st.sampled_from(["[DEFAULT]\nrpc_response_timeout = x\n", "[x\n", " a\n"]),
    heat_conf=st.lists(options, max_size=2).map(tuple),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HC.too_slow])
@given(topologies)
def test_validate_never_raises(topology: Topology) -> None:
    problems = validate(topology)
    assert all(isinstance(p, Problem) for p in problems)
    assert not any(p.path == "<internal>" for p in problems), problems
    if not any(p.severity == "error" for p in problems):
        heat_wsgi.render(topology)        # a clean topology always renders


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["name", "hosts", "api_instances", "port", "service", "host", "address",
                         "proxy", "listeners", "engines", "heat_conf", "database", "url", "x"]),
        children, max_size=4),
    max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(yaml_values)
def test_loader_raises_only_topology_errors(value: object) -> None:
    import yaml
    try:
        topology = loads_topology(yaml.safe_dump(value), "fuzz.yaml")
    except TopologyError as exc:
        assert exc.source and exc.source.startswith("fuzz.yaml")
    else:
        validate(topology)


def test_retry_on_keywords() -> None:
    proxy = replace(base().proxy, retry_on="conn-failure empty-response 503")
    assert validate(replace(base(), proxy=proxy)) == []
    proxy = replace(base().proxy, retry_on="conn-failure\nserver evil 6.6.6.6:80")
    fired(replace(base(), proxy=proxy), "proxy.retry_on", text="control character")
    proxy = replace(base().proxy, retry_on="sometimes")
    fired(replace(base(), proxy=proxy), "proxy.retry_on", text="retry-on keywords")


def test_roundrobin_with_per_server_maxconn_is_refused() -> None:
    """The pairing that stranded queued requests during a drain (doc/uwsgi.rst)."""
    proxy = replace(base().proxy, balance="roundrobin")
    problem = fired(replace(base(), proxy=proxy), "proxy.balance", text="queue_in_proxy")
    assert problem.value == "roundrobin"
    for balance, queue in (("roundrobin", False), ("leastconn", True), ("source", True)):
        proxy = replace(base().proxy, balance=balance, queue_in_proxy=queue)
        assert validate(replace(base(), proxy=proxy)) == [], (balance, queue)


HAPROXY_CFG = PurePosixPath("a/etc/haproxy/haproxy.cfg")


def test_each_server_line_takes_its_instances_processes_times_threads() -> None:
    t = replace(base(), api_instances=(
        ApiInstance(name="api-b", service="api", host="b", processes=3, threads=2),
        ApiInstance(name="api-c", service="api", host="c", mode="mod_wsgi"),
        ApiInstance(name="cfn-b", service="cfn", host="b", processes=1, threads=1)))
    haproxy = heat_wsgi.render(t)[HAPROXY_CFG].text
    servers = {line.split()[1]: line for line in haproxy.splitlines()
               if line.startswith("    server ")}
    assert servers["api-b"].endswith(" maxconn 6")
    assert servers["api-c"].endswith(" maxconn 2")   # the default 2 x 1, under mod_wsgi too
    assert servers["cfn-b"].endswith(" maxconn 1")
    unlimited = heat_wsgi.render(replace(t, proxy=replace(t.proxy, queue_in_proxy=False)))
    assert " maxconn" not in "".join(line for line in unlimited[HAPROXY_CFG].text.splitlines()
                                     if line.startswith("    server "))
