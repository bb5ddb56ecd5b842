"""``heat-wsgi up``'s plan, decided without a server: which services, in which order,
which files, which probes; and the writer that puts those files in place."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest

from heat_wsgi import ApiInstance
from heat_wsgi.errors import RenderError
from heat_wsgi.files import RenderedFile
from heat_wsgi.local.localize import LocalPlan, default_topology, localize
from heat_wsgi.local.plan import (
    STAGES, db_sync_config, endpoints, needs_own_tables, plan_files, plan_services, stats_socket,
)
from heat_wsgi.services import SERVICES
from heat_wsgi.writer import write_in_place


def _plan(tmp_path: Path, **kwargs: object) -> LocalPlan:
    topology = default_topology(engines_per_host=2, **kwargs)  # type: ignore[arg-type]
    return localize(topology, tmp_path / "state", tmp_path / "venv")


def test_services_come_in_stage_order_with_their_ports(tmp_path: Path) -> None:
    planned = plan_services(_plan(tmp_path))
    assert [s.stage for s in planned] == sorted(s.stage for s in planned)
    names = [s.name for s in planned]
    assert names[:2] == ["mariadb", "rabbitmq"] and names[-1] == "haproxy"
    assert [n for n in names if n.startswith("heat-engine-")] == [
        "heat-engine-node-2-1", "heat-engine-node-2-2", "heat-engine-node-3-1",
        "heat-engine-node-3-2"]
    by_name = {s.name: s for s in planned}
    assert by_name["mariadb"].ports == (("127.0.0.1", 3306),)
    assert by_name["rabbitmq"].ports == (("127.0.0.1", 5672), ("127.0.0.1", 4369))
    assert by_name["uwsgi-api-node-2"].ports == (("127.0.0.2", 8004),)
    assert by_name["uwsgi-cloudwatch-node-3"].ports == (("127.0.0.3", 8003),)
    assert set(by_name["haproxy"].ports) == {("127.0.0.1", 8004), ("127.0.0.1", 8000),
                                             ("127.0.0.1", 8003), ("127.0.0.1", 8404)}
    assert {s.kind for s in planned} == set(STAGES) - {"apache"}


def test_each_service_runs_from_a_file_the_plan_writes(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    written = {item.path for item in plan_files(plan).values()}
    for planned in plan_services(plan):
        for path in filter(None, (planned.config, *planned.extra_configs, *planned.includes)):
            assert path in written, (planned.name, path)
    engine = next(s for s in plan_services(plan) if s.kind == "heat-engine")
    assert engine.config == f"{tmp_path}/state/hosts/node-2/etc/heat/heat.conf"
    assert engine.host == "node-2" and engine.workers == 1


def test_the_admin_socket_file_quotes_its_path(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    cfg = [f for f in plan_files(plan).values() if f.kind == "haproxy"]
    assert len(cfg) == 1 and cfg[0].host == "controller"
    assert f"    stats socket {stats_socket(plan)} mode 600 level admin\n" in cfg[0].text
    # '#' starts a comment in haproxy.cfg; validation lets it into paths.
    odd = localize(default_topology(), tmp_path / "state#1", tmp_path / "venv")
    cfg_odd = next(f for f in plan_files(odd).values() if f.kind == "haproxy")
    assert f"stats socket '{stats_socket(odd)}' mode" in cfg_odd.text


def test_apache_modes_get_one_apache_per_host_with_its_probes(tmp_path: Path) -> None:
    topology = default_topology(cloudwatch=False)
    modes = {"api-node-2": "mod_wsgi", "cfn-node-2": "mod_proxy_uwsgi"}
    instances = tuple(dataclasses.replace(i, mode=modes.get(i.name, i.mode))
                      for i in topology.api_instances)
    plan = localize(dataclasses.replace(topology, api_instances=instances), tmp_path / "s",
                    tmp_path / "venv")
    planned = {s.name: s for s in plan_services(plan)}
    apache = planned["apache-node-2"]
    assert apache.ports == (("127.0.0.2", 8004), ("127.0.0.2", 8000))
    assert apache.probes == ("http://127.0.0.2:8004/healthcheck",
                             "http://127.0.0.2:8000/healthcheck")
    assert apache.modules == ("authz_core", "log_config", "proxy", "proxy_uwsgi", "wsgi")
    assert [Path(p).name for p in apache.includes] == ["api-node-2.conf", "cfn-node-2.conf"]
    assert "uwsgi-api-node-2" not in planned          # mod_wsgi: no uwsgi
    assert planned["uwsgi-cfn-node-2"].ports == ()    # behind Apache on a unix socket
    assert "apache-node-3" not in planned


def test_endpoints_and_db_sync_come_from_the_services_table(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert endpoints(plan) == {
        SERVICES["api"].label: "http://127.0.0.1:8004/v1/admin",
        SERVICES["cfn"].label: "http://127.0.0.1:8000/v1/",
        SERVICES["cloudwatch"].label: "http://127.0.0.1:8003/",
        "HAProxy stats": "http://127.0.0.1:8404/"}
    assert db_sync_config(plan) == f"{tmp_path}/state/hosts/node-2/etc/heat/heat.conf"
    assert needs_own_tables(plan)
    assert not needs_own_tables(_plan(tmp_path, cloudwatch=False))


def test_only_host_files_are_planned(tmp_path: Path) -> None:
    files = plan_files(_plan(tmp_path))
    assert files and all(f.host is not None and f.path.startswith(str(tmp_path)) for f in
                         files.values())


def test_write_in_place_writes_each_file_at_its_path(tmp_path: Path) -> None:
    conf = RenderedFile(host="h", path=str(tmp_path / "etc" / "heat.conf"), text="[DEFAULT]\n",
                        mode=0o644, kind="heat.conf", purpose="x")
    unit = RenderedFile(host="h", path=str(tmp_path / "units" / "a.service"), text="[Unit]\n",
                        mode=0o644, kind="systemd", purpose="y")
    write_in_place({conf.key: conf, unit.key: unit}, group_ids={"h": os.getgid()})
    assert Path(conf.path).read_text() == "[DEFAULT]\n"
    assert stat.S_IMODE(Path(conf.path).stat().st_mode) == 0o640   # heat.conf holds credentials
    assert stat.S_IMODE(Path(unit.path).stat().st_mode) == 0o644
    assert sorted(p.name for p in (tmp_path / "etc").iterdir()) == ["heat.conf"]  # no leftovers
    again = dataclasses.replace(conf, text="[DEFAULT]\nx = 1\n")
    write_in_place({again.key: again})
    assert Path(conf.path).read_text() == "[DEFAULT]\nx = 1\n"


def test_write_in_place_refuses_deployment_wide_files(tmp_path: Path) -> None:
    wide = RenderedFile(host=None, path="ansible/site.yml", text="---\n", mode=0o644,
                        kind="haproxy", purpose="z")
    with pytest.raises(RenderError, match="ansible/site.yml"):
        write_in_place({wide.key: wide})


def test_the_plan_runs_every_service_of_the_table(tmp_path: Path) -> None:
    planned = {s.name for s in plan_services(_plan(tmp_path))}
    assert {f"uwsgi-{name}-node-2" for name in SERVICES} <= planned
    assert isinstance(default_topology().api_instances[0], ApiInstance)
