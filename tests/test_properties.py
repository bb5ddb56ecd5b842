"""Property-based attack on the model (issue 11): hostile values in every string field, random topologies.

The rules, for every example:

* validation never fails internally, and nothing raises but the library's
  own :class:`~heat_wsgi.errors.HeatWsgiError`;
* either validation reports an error, or every file renders, and (the
  ``real`` part) the output parses back with the real parser of its format
  carrying the exact value: oslo.config for heat.conf; ``haproxy -c``;
  ``apache2 -t`` on the mod_wsgi and mod_proxy sites, whose ``DUMP_VHOSTS``
  lists every virtual host where the site put it, and which checks the log
  directory and (mod_wsgi) the accounts; ``uwsgi --strict --get`` on every
  ini, which must read each option exactly as written; ``systemd-analyze
  verify`` on every unit, which checks that ExecStart's program is at the
  exact venv path. systemd does not read ``User=`` back: for units only
  acceptance (no complaint) and that path are checked.

CI runs a fixed number of examples (``HEAT_WSGI_PROPERTY_EXAMPLES``, default
15 per property and field; the whole file took 47 s to 129 s on the busy
2-core machine, most of it in the real programs). A long run::

    HEAT_WSGI_PROPERTY_EXAMPLES=1000 .venv/bin/python -m pytest -p no:cacheprovider \\
        tests/test_properties.py

(the time grows with the count, nearly all of it in the real programs.)
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck as HC
from hypothesis import example as explicit_example
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
from render_checks import apache_check, haproxy_check, uwsgi_get

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


# -- Apache, uwsgi and systemd read back what validated -------------------------
#
# Per field, a fixed number of hostile values; those that validate are
# rendered, and every Apache site, uwsgi ini and systemd unit of the example
# goes through the real program. Two paths are put under the test's own
# directory, because the programs check that they exist: the log directory
# (Apache checks each ErrorLog's directory) and the venv (systemd checks that
# ExecStart's program exists), so each check also reads the exact value back.

#: Fields whose values reach Apache sites, uwsgi inis or systemd units.
SERVER_FIELDS = sorted(n for n in FIELDS if not n.startswith(
    ("proxy.", "database.", "message_bus.", "heat_conf.")))
ROOTED = ("hosts[b].paths.log_dir", "hosts[b].paths.venv")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
REAL_PROFILE = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                        database=None, suppress_health_check=[HC.too_slow, HC.filter_too_much])
#: Hostile values, and as many that are nearly plain: paths, names and addresses
#: full of the characters each format quotes, so that most of them validate
#: and reach the programs.
_PATH_CHARS = "aZ09_-.:=,+@#{}()!~&<>|*?[]\u00e9\u0663"
_PATH = st.lists(st.text(alphabet=_PATH_CHARS, min_size=1, max_size=8), min_size=1,
                 max_size=3).map(lambda parts: "/" + "/".join(parts))
_NAME = st.text(alphabet="abcxyz019._-@+:\u00e9", min_size=1, max_size=12)
_ADDRESS = st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str),
                     st.sampled_from(["127.0.0.70", "[::1]", "[fe80::1]"]))


#: A value that validates, for the fields that only few values do (a reference to a host).
SURE_VALUES = {"hosts[b].name": "b", "api_instances[api-b].host": "b", "engines[b].host": "b"}


def server_values(field: str) -> st.SearchStrategy[str]:
    """The field's nearly plain values first (what most examples draw), then HOSTILE."""
    if ".paths." in field or field.endswith(".socket"):
        near = _PATH
    elif field.endswith("address"):
        near = _ADDRESS
    elif field.endswith(".host") or field == "hosts[b].name":
        near = st.sampled_from(["a", "b"])
    elif field.endswith(("user", "group")):
        # Accounts that exist, and names that do not (mod_wsgi looks them up).
        near = st.one_of(st.sampled_from(["www-data", "root", "nobody", "daemon"]),
                         st.from_regex(r"[a-z_][a-z0-9_.-]{0,12}", fullmatch=True), _NAME)
    else:
        near = _NAME
    return st.one_of(near, HOSTILE)


_VHOST = re.compile(r"(?m)^<VirtualHost (\S+)>$")
_INI_LINE = re.compile(r"(?m)^([a-z0-9-]+) = (.*)$")


def server_base(root: Path) -> Topology:
    """base(), with accounts Apache can resolve and the two checked paths under ``root``."""
    t = base()
    b = replace(t.hosts[1], user="www-data", group="www-data", web_group="www-data",
                paths=replace(t.hosts[1].paths, log_dir=f"{root}/log", venv=f"{root}/venv"))
    return replace(t, hosts=(t.hosts[0], b))


def _prepare(topology: Topology) -> None:
    """Create what the programs check: the log directory, and the venv's two programs
    (uwsgi, and python3 that runs ``-m heat_wsgi.engine``)."""
    paths = topology.hosts[1].paths
    Path(paths.log_dir).mkdir(parents=True, exist_ok=True)
    bin_dir = Path(paths.bin_dir)
    bin_dir.mkdir(parents=True, exist_ok=True)
    for program in ("uwsgi", "python3"):
        if not (bin_dir / program).exists():
            (bin_dir / program).symlink_to(Path(sys.executable).parent / program)


def _check_apache(example: Path, sites: list[tuple[str, str]], field: str, value: str) -> None:
    files = []
    for name, text in sites:
        files.append(example / name)
        files[-1].write_text(text, encoding="utf-8")
    result = apache_check(example / "apache", files, ("DUMP_VHOSTS",))
    if result.returncode != 0 and field.endswith((".user", ".group")):
        # mod_wsgi looks the account up: the name Apache reports is exactly the value.
        assert result.stderr.strip().endswith((f"bad user name {value}",
                                               f"bad group name {value}")), result.stderr
        return
    # (With a dump, Apache prints the dump instead of "Syntax OK".)
    assert result.returncode == 0, (field, value, result.stderr)
    assert result.stdout.startswith("VirtualHost configuration:\n"), result.stdout
    for path in files:
        text = path.read_text(encoding="utf-8")
        for match in _VHOST.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            # Apache's own listing of what it read: address:port, then (file:line);
            # it lists the wildcard addresses as '*'.
            vhost = re.sub(r"^(0\.0\.0\.0|\[::\]):", "*:", match.group(1))
            assert re.search(rf"(?m)^{re.escape(vhost)} .*\({re.escape(str(path))}:"
                             rf"{line}\)$", result.stdout), (match.group(1), result.stdout)


def _check_uwsgi(example: Path, name: str, text: str) -> None:
    ini = example / name
    ini.write_text(text, encoding="utf-8")
    written: dict[str, str] = {}
    for key, val in _INI_LINE.findall(text.split("[uwsgi]\n", 1)[1]):
        written.setdefault(key, val)
    result = uwsgi_get(ini, list(written))
    assert result.returncode == 0, (name, result.stdout + result.stderr)
    # uwsgi's own parser reads every option as written: no expansion, comment or strip.
    assert result.stdout.split("\n")[:-1] == list(written.values()), (text, result.stdout)


def _check_systemd(units: list[tuple[Path, str]]) -> None:
    if not units:
        return
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", *(str(p) for p, _ in units)],
                            capture_output=True, text=True, timeout=120)
    # Every complaint names its unit: find the example it came from.
    for path, what in units:
        assert path.name not in result.stdout + result.stderr, (what, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.real
@pytest.mark.parametrize("field", SERVER_FIELDS)
def test_apache_uwsgi_and_systemd_read_back_what_validates(field: str, tmp_path: Path) -> None:
    units: list[tuple[Path, str]] = []
    examples = iter(range(10**6))

    @REAL_PROFILE
    @explicit_example(value=SURE_VALUES.get(field, "/x"))
    @given(value=server_values(field))
    def example(value: str) -> None:
        if field in ROOTED:
            value = f"{tmp_path}/{value}"
        topology = FIELDS[field](server_base(tmp_path), value)
        files = outcome(topology)
        if files is None or (field.endswith("address") and not _is_ip(value)):
            return      # refused; or a host name, which Apache would resolve
        # A warning that names the field is what systemd would say: it may say it.
        warned = any(p.path == field for p in validate(topology))
        _prepare(topology)
        where = tmp_path / f"x{next(examples)}"
        where.mkdir()
        ours = [f for f in files.values() if f.host == topology.hosts[1].name]
        _check_apache(where, [(Path(f.path).name, f.text) for f in ours if f.kind == "apache"],
                      field, value)
        for f in ours:
            if f.kind == "uwsgi":
                _check_uwsgi(where, Path(f.path).name, f.text)
            elif f.kind == "systemd" and not warned:
                # systemd-analyze runs once for all examples: a prefix keeps names apart.
                unit = where / f"{where.name}-{Path(f.path).name}"
                unit.write_text(f.text, encoding="utf-8")
                units.append((unit, f"{field}={value!r}: {Path(f.path).name}"))

    example()
    _check_systemd(units)
    checked = next(examples)
    if os.environ.get("HEAT_WSGI_PROPERTY_COUNT"):
        print(f"\nCOUNT {field} {checked}")
    assert checked, f"no value of {field} validated: the programs checked nothing"


@pytest.mark.real
def test_the_read_back_checks_can_fail(tmp_path: Path) -> None:
    # uwsgi expands %n (the ini's name): read back, the value differs.
    with pytest.raises(AssertionError):
        _check_uwsgi(tmp_path, "x.ini", "[uwsgi]\nlogto = /var/log/%n.log\n")
    _check_uwsgi(tmp_path, "y.ini", "[uwsgi]\nlogto = /var/log/n.log\n")
    # An ErrorLog whose directory does not exist, as a misread log_dir would be.
    site = ("Listen 127.0.0.70:18079\n<VirtualHost 127.0.0.70:18079>\n"
            f"    ErrorLog {tmp_path}/missing/e.log\n</VirtualHost>\n")
    with pytest.raises(AssertionError):
        _check_apache(tmp_path, [("s.conf", site)], "hosts[b].paths.log_dir", "x")
    _check_apache(tmp_path, [("s.conf", site.replace("/missing", ""))], "x", "x")
    unit = tmp_path / "heat-x.service"
    unit.write_text("[Service]\nExecStart=/no/such/program\n")
    with pytest.raises(AssertionError):
        _check_systemd([(unit, "a unit whose program does not exist")])
