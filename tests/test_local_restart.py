"""``heat-wsgi restart``'s steps, decided without a server."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from heat_wsgi.errors import RestartError
from heat_wsgi.local.localize import LocalPlan, default_topology, localize
from heat_wsgi.local.restart import restart_steps, restart_units


def _plan(tmp_path: Path, **modes: str) -> LocalPlan:
    topology = default_topology(cloudwatch=False)
    instances = tuple(dataclasses.replace(i, mode=modes.get(i.name, i.mode))  # type: ignore[arg-type]
                      for i in topology.api_instances)
    return localize(dataclasses.replace(topology, api_instances=instances), tmp_path / "s",
                    tmp_path / "venv")


def test_rolling_takes_each_api_instance_then_each_engine(tmp_path: Path) -> None:
    units = restart_units(_plan(tmp_path))
    assert [(u.service, u.how) for u in units] == [
        ("uwsgi-api-node-2", "reload"), ("uwsgi-cfn-node-2", "reload"),
        ("uwsgi-api-node-3", "reload"), ("uwsgi-cfn-node-3", "reload"),
        ("heat-engine-node-2-1", "restart"), ("heat-engine-node-2-2", "restart"),
        ("heat-engine-node-3-1", "restart"), ("heat-engine-node-3-2", "restart")]
    assert units[0].servers == (("rest_api_proxy", "api-node-2"),)
    assert units[0].health == ("http://127.0.0.2:8004/healthcheck",)
    assert units[-1].servers == () and units[-1].health == ()


def test_an_api_instance_is_drained_idle_reloaded_healthy_and_back_in_that_order(
        tmp_path: Path) -> None:
    unit = restart_units(_plan(tmp_path), ["uwsgi-cfn-node-3"])[0]
    steps = [(s.action, s.backend, s.server, s.url) for s in restart_steps(unit)]
    assert steps == [
        ("drain", "cfn_api_proxy", "cfn-node-3", ""),
        ("wait-idle", "cfn_api_proxy", "cfn-node-3", ""),
        ("reload", "", "", ""),
        ("wait-healthy", "", "", "http://127.0.0.3:8000/healthcheck"),
        ("ready", "cfn_api_proxy", "cfn-node-3", ""),
        ("wait-up", "cfn_api_proxy", "cfn-node-3", "")]
    assert restart_steps(unit)[0].describe().split() == ["drain", "cfn_api_proxy/cfn-node-3"]


def test_an_engine_or_a_shared_service_is_restarted_without_draining(tmp_path: Path) -> None:
    units = restart_units(_plan(tmp_path), ["rabbitmq", "heat-engine-node-3-1", "mariadb"])
    assert [(u.service, u.how) for u in units] == [
        ("rabbitmq", "restart"), ("heat-engine-node-3-1", "restart"), ("mariadb", "restart")]
    assert [s.action for s in restart_steps(units[0])] == ["restart"]


def test_mod_wsgi_instances_restart_with_their_hosts_apache_gracefully(tmp_path: Path) -> None:
    plan = _plan(tmp_path, **{"api-node-2": "mod_wsgi", "cfn-node-2": "mod_wsgi"})
    units = {u.service: u for u in restart_units(plan)}
    apache = units["apache-node-2"]
    assert apache.how == "graceful" and "uwsgi-api-node-2" not in units
    assert apache.servers == (("rest_api_proxy", "api-node-2"), ("cfn_api_proxy", "cfn-node-2"))
    actions = [s.action for s in restart_steps(apache)]
    assert actions == ["drain", "drain", "wait-idle", "wait-idle", "graceful", "wait-healthy",
                       "wait-healthy", "ready", "ready", "wait-up", "wait-up"]


def test_an_unknown_name_is_refused_with_the_names_there_are(tmp_path: Path) -> None:
    with pytest.raises(RestartError, match=r"no service 'uwsgi-api-node-9' .*have: .*mariadb"):
        restart_units(_plan(tmp_path), ["uwsgi-api-node-9"])
