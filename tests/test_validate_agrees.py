"""Whatever validates renders, and whatever renders is accepted by the real program (issue 11, item 7)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from heat_wsgi import (ApiInstance, Database, EngineGroup, HealthCheck, Host, Listener,
                       MessageBus, Paths, ProxyConfig, ProxyTimeouts, Topology)
from heat_wsgi.model import StatsListener
from heat_wsgi.render import render_all
from heat_wsgi.validate import Problem, validate
from render_checks import apache_check

replace = dataclasses.replace


def base(**proxy: object) -> Topology:
    return Topology(
        hosts=(Host(name="a", address="10.0.0.1"), Host(name="b", address="10.0.0.2"),
               Host(name="c", address="10.0.0.3")),
        api_instances=(ApiInstance(name="api-b", service="api", host="b"),
                       ApiInstance(name="api-c", service="api", host="c")),
        engines=(EngineGroup(host="b"),),
        proxy=ProxyConfig(host="a", listeners=(Listener(service="api"),), **proxy),  # type: ignore[arg-type]
        database=Database(url="mysql+pymysql://heat:pw@10.0.0.1/heat", host="a"),
        message_bus=MessageBus(transport_url="rabbit://heat:pw@10.0.0.1:5672/", host="a"),
        base_config="[DEFAULT]\ndebug = false\n",
    )


def errors(topology: Topology, path: str) -> list[Problem]:
    return [p for p in validate(topology) if p.severity == "error" and p.path == path]


def test_base_validates_and_renders() -> None:
    assert [p for p in validate(base()) if p.severity == "error"] == []
    render_all(base())


# -- addresses ---------------------------------------------------------------

@pytest.mark.parametrize("address", [
    "fe80::1%eth0", "[fe80::1%25eth0]", "[::1", "::1]", "[10.0.0.9]", "[]",
    "10.0.0.256", "1.2.3", "0x7f.1", "999.1.1.1",
])
def test_bad_addresses_are_refused(address: str) -> None:
    t = base()
    t = replace(t, hosts=t.hosts + (Host(name="d", address=address),))
    assert errors(t, "hosts[d].address"), address
    t = replace(base(), api_instances=base().api_instances[:1] + (
        ApiInstance(name="api-c", service="api", host="c", address=address),))
    assert errors(t, "api_instances[api-c].address"), address


@pytest.mark.parametrize("address", ["10.0.0.9", "[::1]", "fe80::1", "api.example.org",
                                     "host-1", "a.b9"])
def test_good_addresses_pass(address: str) -> None:
    t = base()
    t = replace(t, hosts=t.hosts + (Host(name="d", address=address),))
    assert not errors(t, "hosts[d].address")


def test_hosts_sharing_an_address_share_their_ports() -> None:
    t = base()
    t = replace(t, hosts=(t.hosts[0], t.hosts[1], Host(name="c", address="10.0.0.2")))
    problems = errors(t, "api_instances[api-c].port")
    assert problems and "same machine as host b" in problems[0].message


def test_hosts_sharing_an_address_share_unix_sockets() -> None:
    t = base()
    t = replace(t, hosts=(t.hosts[0], t.hosts[1], Host(name="c", address="10.0.0.2")),
                api_instances=(
                    ApiInstance(name="api-b", service="api", host="b", port=8004, socket="/run/x.sock"),
                    ApiInstance(name="api-c", service="api", host="c", port=8005, socket="/run/x.sock")))
    assert errors(t, "api_instances[api-c].socket")


def test_the_same_address_spelled_twice_clashes() -> None:
    t = base()
    t = replace(t, hosts=(t.hosts[0], Host(name="b", address="fd00::2"), t.hosts[2]),
                api_instances=(ApiInstance(name="api-b", service="api", host="b"),
                               ApiInstance(name="api-b2", service="api", host="b",
                                           address="fd00:0::2")))
    assert errors(t, "api_instances[api-b2].port")


# -- durations ---------------------------------------------------------------

@pytest.mark.parametrize("value", ["0", "0s", "\u0663s", "\uff11\uff10s", "25d", "99999999999s",
                                   "9" * 5000, "1" + "0" * 4999 + "ms"])
def test_durations_haproxy_refuses(value: str) -> None:
    t = base(timeouts=ProxyTimeouts(connect=value), health_check=HealthCheck(inter=value))
    problems = validate(t)
    assert not [p for p in problems if p.path == "<internal>"], problems
    assert errors(t, "proxy.timeouts.connect")
    assert errors(t, "proxy.health_check.inter")


def test_a_huge_down_within_does_not_break_a_rule() -> None:
    t = base(health_check=HealthCheck(down_within="9" * 5000, fastinter="9" * 5000))
    problems = validate(t)
    assert not [p for p in problems if p.path == "<internal>"], problems
    assert errors(t, "proxy.health_check.down_within")


# -- paths -------------------------------------------------------------------

@pytest.mark.parametrize("wsgi_dir", ["/var/www/he*at", "/var/www/h?", "/var/www/[ab]"])
def test_wsgi_dir_without_wildcards(wsgi_dir: str) -> None:
    t = base()
    t = replace(t, hosts=(t.hosts[0], replace(t.hosts[1], paths=Paths(wsgi_dir=wsgi_dir)),
                          t.hosts[2]))
    assert errors(t, "hosts[b].paths.wsgi_dir")


def test_dotdot_in_a_path_is_refused_by_validation() -> None:
    t = base()
    t = replace(t, hosts=(t.hosts[0], replace(t.hosts[1], paths=Paths(config_dir="/etc/../heat")),
                          t.hosts[2]))
    assert errors(t, "hosts[b].paths.config_dir")


def test_colliding_files_name_both_fields() -> None:
    t = base()
    # The instance 'heat' gets an Apache site heat.conf in the config dir: the host's heat.conf.
    t = replace(t, hosts=(t.hosts[0], replace(t.hosts[1], paths=Paths(
        apache_site_dir="/etc/heat")), t.hosts[2]),
        api_instances=(ApiInstance(name="heat", service="api", host="b", mode="mod_proxy"),
                       t.api_instances[1]))
    problems = errors(t, "hosts[b].paths.apache_site_dir")
    assert problems and "hosts[b].paths.config_dir" in problems[0].message


def test_haproxy_cfg_on_heat_conf_collides() -> None:
    t = base()
    t = replace(t, hosts=(t.hosts[0], t.hosts[1], t.hosts[2]),
                engines=(EngineGroup(host="a"),),
                proxy=replace(t.proxy, host="a"))
    t = replace(t, hosts=(replace(t.hosts[0], paths=Paths(haproxy_config="/etc/heat//heat.conf")),)
                + t.hosts[1:])
    assert errors(t, "hosts[a].paths.config_dir")


@pytest.mark.parametrize("where, field, renders", [
    # HAProxy's config on a file of the database host (a), of the broker host (a) or of
    # any host's tmpfiles.d line; an instance named after the file, in that directory.
    ("/etc/mysql/mariadb.conf.d/99-heat_wsgi.cnf", "database.host", "haproxy"),
    ("/etc/heat/bootstrap/heat-database.sql", "hosts[a].paths.config_dir", "haproxy"),
    ("/etc/heat/bootstrap/heat-database.cnf", "hosts[a].paths.config_dir", "haproxy"),
    ("/etc/rabbitmq/rabbitmq.conf", "message_bus.host", "haproxy"),
    ("/etc/rabbitmq/rabbitmq-env.conf", "message_bus.host", "haproxy"),
    ("/etc/tmpfiles.d/heat_wsgi.conf", "hosts[a].paths.run_dir", "haproxy"),
    ("/etc/rabbitmq/rabbitmq.conf", "message_bus.host", "apache"),
    ("/etc/tmpfiles.d/heat_wsgi.conf", "hosts[a].paths.run_dir", "apache"),
])
def test_collisions_with_machine_files_name_both_fields(where: str, field: str,
                                                        renders: str) -> None:
    t = base()
    a = t.hosts[0]
    if renders == "haproxy":
        # An engine on a gives it a run directory, hence a tmpfiles.d line.
        t = replace(t, hosts=(replace(a, paths=Paths(haproxy_config=where)),) + t.hosts[1:],
                    engines=t.engines + (EngineGroup(host="a"),))
        wrong = "hosts[a].paths.haproxy_config"
    else:
        directory, name = where.rsplit("/", 1)
        t = replace(t, hosts=(replace(a, paths=Paths(apache_site_dir=directory)),) + t.hosts[1:],
                    api_instances=t.api_instances + (ApiInstance(
                        name=name.removesuffix(".conf"), service="api", host="a",
                        mode="mod_proxy"),))
        wrong = "hosts[a].paths.apache_site_dir"
    with pytest.raises(Exception, match="same path"):
        render_all(t, validated=True)     # the renderer refuses it ...
    problems = errors(t, wrong)           # ... and validation names both fields
    assert problems and field in problems[0].message and where in problems[0].message, \
        validate(t)


def test_mod_wsgi_under_root_is_refused() -> None:
    # Found by tests/test_properties.py: apache2 -t says "WSGI process blocked from
    # running as root." (user=root only; group=root passes).
    t = base()
    t = replace(t, hosts=(t.hosts[0], replace(t.hosts[1], user="root"), t.hosts[2]),
                api_instances=(ApiInstance(name="api-b", service="api", host="b",
                                           mode="mod_wsgi"), t.api_instances[1]))
    problems = errors(t, "hosts[b].user")
    assert problems and "mod_wsgi" in problems[0].message and problems[0].value == "root"
    # Under uwsgi, root is not refused (its unit runs it as the host's user).
    t = replace(t, api_instances=(ApiInstance(name="api-b", service="api", host="b"),
                                  t.api_instances[1]))
    assert errors(t, "hosts[b].user") == []


@pytest.mark.parametrize("marker", ["@(", "{{"])
def test_paths_uwsgi_would_expand_are_refused(marker: str) -> None:
    # Found by tests/test_properties.py: log_dir "/x/@(" validated, then the
    # renderer refused it ("uwsgi expands '@('").
    t = base()
    t = replace(t, hosts=(t.hosts[0], replace(t.hosts[1], paths=Paths(
        log_dir=f"/var/log/{marker}x")), t.hosts[2]))
    assert errors(t, "hosts[b].paths.log_dir")


def test_the_user_nobody_is_warned_about() -> None:
    # Found by tests/test_properties.py: systemd-analyze verify says "Special user
    # nobody configured, this is not safe!".
    t = base()
    t = replace(t, hosts=(t.hosts[0], replace(t.hosts[1], user="nobody"), t.hosts[2]))
    assert [p.severity for p in validate(t) if p.path == "hosts[b].user"] == ["warning"]


def test_a_bracketed_ipv6_host_address_is_bracketed_once() -> None:
    # Found by tests/test_properties.py: apache2 -t refused "Listen [[::1]]:8000".
    t = base()
    t = replace(t, hosts=(t.hosts[0], replace(t.hosts[1], address="[::1]"), t.hosts[2]),
                api_instances=(ApiInstance(name="api-b", service="api", host="b",
                                           mode="mod_proxy"), t.api_instances[1]))
    site = next(f.text for f in render_all(t).values() if f.kind == "apache")
    assert "\nListen [::1]:8004\n<VirtualHost [::1]:8004>\n" in site


# -- mod_wsgi options --------------------------------------------------------

def _mod_wsgi(venv: str, log_dir: str = "/var/log/heat") -> Topology:
    t = base()
    return replace(t, hosts=(t.hosts[0], replace(t.hosts[1], paths=Paths(venv=venv, log_dir=log_dir),
                                                 user="www-data", group="www-data"),
                             t.hosts[2]),
                   api_instances=(ApiInstance(name="api-b", service="api", host="b",
                                              mode="mod_wsgi", address="127.0.0.41",
                                              port=18004),
                                  t.api_instances[1]))


@pytest.mark.parametrize("venv", ["/opt/v#1", "/opt/v(1)", "/opt/v\u00e9", "/opt/v~1"])
def test_mod_wsgi_option_values_are_quoted_inside(venv: str) -> None:
    files = render_all(_mod_wsgi(venv))
    site = next(f.text for f in files.values() if f.kind == "apache")
    assert "python-home=" in site and '"python-home' not in site


@pytest.mark.real
@pytest.mark.parametrize("venv", ["/opt/v#1", "/opt/v(1)", "/opt/v\u00e9", "/opt/venv"])
def test_apache_accepts_mod_wsgi_options(tmp_path: Path, venv: str) -> None:
    files = render_all(_mod_wsgi(venv, str(tmp_path)))
    site = next(f for f in files.values() if f.kind == "apache")
    path = tmp_path / "site.conf"
    path.write_text(site.text)
    result = apache_check(tmp_path / "state", [path])
    assert "Syntax OK" in result.stdout + result.stderr, result.stderr


def test_stats_empty_address_refused() -> None:
    assert errors(base(stats=StatsListener(address="", credentials="a:b")), "proxy.stats.address")
