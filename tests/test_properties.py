"""Property-based attack on the model (issue 11): hostile values in every string field, random topologies.

The rules, for every example:

* validation never fails internally, and nothing raises but the library's
  own :class:`~heat_wsgi.errors.HeatWsgiError`;
* either validation reports an error, or every file renders, and (the
  ``real`` part) the output parses back with the real parser of its format
  (``haproxy -c``; oslo.config for heat.conf) carrying the exact value.

CI runs a fixed number of examples (``HEAT_WSGI_PROPERTY_EXAMPLES``, default
15 per property and field; the pure part runs in seconds). A long run::

    HEAT_WSGI_PROPERTY_EXAMPLES=5000 .venv/bin/python -m pytest -p no:cacheprovider \\
        tests/test_properties.py
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck as HC
from hypothesis import given, settings
from hypothesis import strategies as st

from heat_wsgi import (ApiInstance, ConfOption, Database, EngineGroup, Host, Listener,
                       MessageBus, Paths, ProxyConfig, Topology)
from heat_wsgi.errors import HeatWsgiError
from heat_wsgi.loader import loads_topology
from heat_wsgi.model import AdminSocket, HealthCheck, ProxyLog, ProxyTimeouts, StatsListener
from heat_wsgi.render import render_all
from heat_wsgi.render.haproxy import render_haproxy
from heat_wsgi.validate import validate
from render_checks import haproxy_check

EXAMPLES = int(os.environ.get("HEAT_WSGI_PROPERTY_EXAMPLES", "15"))
PROFILE = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                   suppress_health_check=[HC.too_slow, HC.filter_too_much])
replace = dataclasses.replace

#: What attackers put in strings: quoting characters of every format, expansions,
#: separators, non-ASCII digits and spaces, surrogates, control characters.
HOSTILE = st.one_of(
    st.text(alphabet=st.sampled_from(list(
        "aZ09 _-./:=,+@#;%$'\"\\{}()[]*?!~`|&<>\t\n\r\x00\x1b\u0085\u2028\u00a0\u0663\ufeff")),
        max_size=24),
    st.text(max_size=16),
    st.sampled_from(["", " ", "${X}", "$(X)", "%n", "@(/etc/passwd)", "{{ x }}", "a\nb",
                     "[::1", "fe80::1%eth0", "10.0.0.256", "0", "\u0663s", "9" * 5000,
                     "/a/../b", "/a*b", "'", '"', "\\", "\ud800", "#x", ";x", "x y"]),
)


def base() -> Topology:
    return Topology(
        hosts=(Host(name="a", address="10.0.0.1"), Host(name="b", address="10.0.0.2")),
        api_instances=(ApiInstance(name="api-b", service="api", host="b"),
                       ApiInstance(name="cfn-b", service="cfn", host="b", mode="mod_wsgi"),
                       ApiInstance(name="cw-b", service="cloudwatch", host="b", mode="mod_proxy")),
        engines=(EngineGroup(host="b"),),
        proxy=ProxyConfig(host="a", listeners=(Listener(service="api"), Listener(service="cfn"),
                                               Listener(service="cloudwatch")),
                          stats=StatsListener(), admin_socket=AdminSocket(), log=ProxyLog()),
        database=Database(url="mysql+pymysql://heat:pw@10.0.0.1/heat", host="a"),
        message_bus=MessageBus(transport_url="rabbit://heat:pw@10.0.0.1:5672/", host="a"),
        base_config="[DEFAULT]\ndebug = false\n",
    )


Setter = Callable[[Topology, str], Topology]


def _proxy(t: Topology, **kw: Any) -> Topology:
    assert t.proxy is not None
    return replace(t, proxy=replace(t.proxy, **kw))


def _sub(attr: str, cls_default: Any, name: str) -> Setter:
    def setter(t: Topology, value: str) -> Topology:
        assert t.proxy is not None
        current = getattr(t.proxy, attr) or cls_default
        return _proxy(t, **{attr: replace(current, **{name: value})})
    return setter


def _host(name: str) -> Setter:
    return lambda t, v: replace(t, hosts=(t.hosts[0], replace(t.hosts[1], **{name: v})))


def _paths(name: str) -> Setter:
    return lambda t, v: replace(t, hosts=(t.hosts[0], replace(
        t.hosts[1], paths=replace(t.hosts[1].paths, **{name: v}))))


def _instance(name: str, index: int = 0) -> Setter:
    def setter(t: Topology, v: str) -> Topology:
        items = list(t.api_instances)
        items[index] = replace(items[index], **{name: v})
        return replace(t, api_instances=tuple(items))
    return setter


#: Every string field of the model, with how to set it on base().
FIELDS: dict[str, Setter] = {
    "name": lambda t, v: replace(t, name=v),
    **{f"hosts[b].{n}": _host(n) for n in ("name", "address", "user", "group", "web_group")},
    **{f"hosts[b].paths.{f.name}": _paths(f.name) for f in dataclasses.fields(Paths)},
    "api_instances[api-b].name": _instance("name"),
    "api_instances[api-b].host": _instance("host"),
    "api_instances[api-b].address": _instance("address"),
    "api_instances[api-b].socket": _instance("socket"),
    "api_instances[cw-b].address": _instance("address", 2),
    "engines[b].host": lambda t, v: replace(t, engines=(EngineGroup(host=v),)),
    "proxy.host": lambda t, v: _proxy(t, host=v),
    "proxy.address": lambda t, v: _proxy(t, address=v),
    "proxy.retry_on": lambda t, v: _proxy(t, retry_on=v),
    "proxy.listeners[api].address": lambda t, v: _proxy(t, listeners=(
        Listener(service="api", address=v),) + t.proxy.listeners[1:]),  # type: ignore[union-attr]
    **{f"proxy.timeouts.{f.name}": _sub("timeouts", ProxyTimeouts(), f.name)
       for f in dataclasses.fields(ProxyTimeouts)},
    **{f"proxy.health_check.{n}": _sub("health_check", HealthCheck(), n)
       for n in ("uri", "inter", "fastinter", "downinter", "down_within")},
    **{f"proxy.stats.{n}": _sub("stats", StatsListener(), n)
       for n in ("address", "uri", "credentials")},
    "proxy.admin_socket.path": _sub("admin_socket", AdminSocket(), "path"),
    "proxy.admin_socket.group": _sub("admin_socket", AdminSocket(), "group"),
    "proxy.log.target": _sub("log", ProxyLog(), "target"),
    "proxy.log.facility": _sub("log", ProxyLog(), "facility"),
    "database.url": lambda t, v: replace(t, database=replace(t.database, url=v)),  # type: ignore[type-var]
    "message_bus.transport_url": lambda t, v: replace(
        t, message_bus=replace(t.message_bus, transport_url=v)),  # type: ignore[type-var]
    "heat_conf.DEFAULT.x_value": lambda t, v: replace(
        t, heat_conf=(ConfOption(section="DEFAULT", key="x_value", value=v),)),
}


def outcome(topology: Topology) -> dict[Any, Any] | None:
    """The rendered files, or None when validation reports an error; asserts the rules."""
    problems = validate(topology)
    internal = [p for p in problems if p.path == "<internal>"]
    assert not internal, internal
    if any(p.severity == "error" for p in problems):
        return None
    try:
        return render_all(topology, validated=True)
    except HeatWsgiError as exc:   # whatever validates renders
        raise AssertionError(f"validated, but rendering failed: {exc}") from exc


def test_base_renders() -> None:
    assert outcome(base()) is not None


@pytest.mark.parametrize("field", sorted(FIELDS))
@PROFILE
@given(value=HOSTILE)
def test_hostile_value_in_every_string_field(field: str, value: str) -> None:
    topology = FIELDS[field](base(), value)
    files = outcome(topology)
    if files is None or field == "proxy.stats.credentials":
        return
    written = "".join(f.text for f in files.values())
    # A value that validated and reaches a file reaches it whole (quoted or not).
    if field.startswith("proxy.timeouts") or field.startswith("proxy.health_check"):
        assert value in written


# -- random topologies through the loader ------------------------------------

_WORD = st.text(alphabet="abc-0.:/[]%", min_size=0, max_size=8)
_SCALAR = st.one_of(_WORD, HOSTILE, st.integers(-5, 70000), st.booleans(), st.none())


def _doc() -> st.SearchStrategy[dict[str, Any]]:
    host = st.fixed_dictionaries({"name": st.sampled_from(["a", "b", "c"]),
                                  "address": st.sampled_from(["10.0.0.1", "10.0.0.2", "::1",
                                                              "10.0.0.256", "[::1", "b.example"])},
                                 optional={"user": _SCALAR, "paths": st.fixed_dictionaries(
                                     {}, optional={"venv": _SCALAR, "wsgi_dir": _SCALAR,
                                                   "config_dir": _SCALAR})})
    inst = st.fixed_dictionaries(
        {"name": st.sampled_from(["i1", "i2", "i3"]),
         "service": st.sampled_from(["api", "cfn", "cloudwatch", "nope"]),
         "host": st.sampled_from(["a", "b", "c"])},
        optional={"mode": st.sampled_from(["uwsgi", "mod_wsgi", "mod_proxy", "mod_proxy_uwsgi"]),
                  "port": _SCALAR, "address": _SCALAR, "processes": st.integers(-1, 9)})
    proxy = st.fixed_dictionaries(
        {"host": st.sampled_from(["a", "b", "c"]),
         "listeners": st.lists(st.fixed_dictionaries(
             {"service": st.sampled_from(["api", "cfn", "cloudwatch"])},
             optional={"port": _SCALAR, "address": _SCALAR}), max_size=3)},
        optional={"stats": st.one_of(st.none(), st.fixed_dictionaries(
            {}, optional={"address": _SCALAR, "port": _SCALAR, "uri": _SCALAR})),
            "timeouts": st.fixed_dictionaries({}, optional={"connect": _SCALAR})})
    return st.fixed_dictionaries(
        {"hosts": st.lists(host, max_size=3), "api_instances": st.lists(inst, max_size=3)},
        optional={"proxy": proxy, "engines": st.lists(st.fixed_dictionaries(
            {"host": st.sampled_from(["a", "b", "c"])}), max_size=2),
            "base_config": st.sampled_from(["[DEFAULT]\n", "[DEFAULT]\ndebug = x\n"])})


@PROFILE
@given(doc=_doc())
def test_random_topologies_through_the_loader(doc: dict[str, Any]) -> None:
    text = yaml.safe_dump(doc, allow_unicode=True)
    try:
        topology = loads_topology(text, "random.yaml")
    except HeatWsgiError:
        return
    outcome(topology)


# -- the real parsers ----------------------------------------------------------

def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
        return True
    except ValueError:
        return value in ("*", "0.0.0.0", "::")


HAPROXY_FIELDS = sorted(n for n in FIELDS if n.startswith("proxy.") and n not in (
    "proxy.host", "proxy.log.target"))


@pytest.mark.real
@pytest.mark.parametrize("field", HAPROXY_FIELDS)
@settings(max_examples=max(EXAMPLES // 4, 5), deadline=None, derandomize=True,
          suppress_health_check=[HC.too_slow])
@given(value=HOSTILE)
def test_haproxy_accepts_what_validates(field: str, value: str) -> None:
    topology = FIELDS[field](base(), value)
    if field == "proxy.stats.credentials":
        topology = _proxy(topology, stats=replace(topology.proxy.stats,  # type: ignore[union-attr]
                                                  address="10.0.0.1"))
    if outcome(topology) is None:
        return
    if field.endswith("address") and not _is_ip(value):
        return     # a host name: haproxy -c resolves it, with this machine's resolver
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "haproxy.cfg"
        cfg.write_text(render_haproxy(topology), encoding="utf-8")
        result = haproxy_check(cfg)
        assert result.returncode == 0, (value, result.stdout + result.stderr)


@PROFILE
@given(value=HOSTILE)
def test_heat_conf_value_reads_back_through_oslo_config(value: str) -> None:
    from oslo_config import cfg
    topology = FIELDS["heat_conf.DEFAULT.x_value"](base(), value)
    files = outcome(topology)
    if files is None:
        return
    text = next(f.text for f in files.values() if f.kind == "heat.conf")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "heat.conf"
        path.write_text(text, encoding="utf-8")
        conf = cfg.ConfigOpts()
        conf.register_opt(cfg.StrOpt("x_value"))
        conf(args=[], default_config_files=[str(path)], project="q")
        assert conf.x_value == value
