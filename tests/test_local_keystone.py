"""What ``heat-wsgi up --keystone`` changes in the plan, decided without a server."""

from __future__ import annotations

import configparser
from pathlib import Path

from heat_wsgi.local.keystone import REAL_KEYSTONE_BACKEND, KeystoneAccounts, client_help
from heat_wsgi.local.localize import default_topology, localize
from heat_wsgi.local.plan import endpoints, keystone_catalog, plan_files, plan_services
from heat_wsgi.local.localize import LocalPlan


def _plan(tmp_path: Path, keystone: bool) -> LocalPlan:
    return localize(default_topology(), tmp_path / "state", tmp_path / "venv", keystone=keystone)


def _conf(plan: LocalPlan, name: str) -> configparser.RawConfigParser:
    texts = {Path(f.path).name: f.text for f in plan_files(plan).values()
             if f.host == "node-2" and f.kind == "heat.conf"}
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.read_string(texts[name])
    return parser


def test_keystone_runs_after_mariadb_and_before_the_engines(tmp_path: Path) -> None:
    planned = plan_services(_plan(tmp_path, keystone=True))
    names = [s.name for s in planned]
    keystone = next(s for s in planned if s.kind == "keystone")
    assert names.index("mariadb") < names.index("keystone") < names.index("heat-engine-node-2-1")
    assert keystone.ports == (("127.0.0.1", 5000),)
    assert keystone.probes == ("http://127.0.0.1:5000/v3",)
    assert "keystone" not in {s.kind for s in plan_services(_plan(tmp_path, keystone=False))}


def test_every_heat_conf_gets_keystone_trusts_and_the_stack_user_domain(tmp_path: Path) -> None:
    plan = _plan(tmp_path, keystone=True)
    accounts = plan.keystone
    assert accounts is not None and accounts.url == "http://127.0.0.1:5000/v3"
    for name in ("heat.conf", "heat-api-node-2.conf", "heat-cfn-node-2.conf",
                 "heat-cloudwatch-node-2.conf"):
        conf = _conf(plan, name)
        assert conf.get("DEFAULT", "keystone_backend") == REAL_KEYSTONE_BACKEND
        assert conf.get("DEFAULT", "deferred_auth_method") == "trusts"
        assert conf.get("DEFAULT", "stack_user_domain_name") == "heat"
        assert conf.get("DEFAULT", "stack_domain_admin") == accounts.domain_admin
        # the Keystone flavors: authtoken for heat-api, ec2authtoken for CFN/CloudWatch
        assert conf.get("paste_deploy", "flavor") == "default"
        assert conf.get("keystone_authtoken", "www_authenticate_uri") == accounts.url
        assert conf.get("keystone_authtoken", "username") == accounts.heat_user
        assert conf.get("trustee", "auth_url") == accounts.url
        assert not conf.has_option("trustee", "project_name")  # a trustee has no project
        assert conf.get("ec2authtoken", "endpoint_override") == "http://127.0.0.1:5000"
        assert conf.get("clients_keystone", "auth_uri") == accounts.url
        # the signal URLs still go to the proxy's CFN port
        assert conf.get("DEFAULT", "heat_waitcondition_server_url") == \
            "http://127.0.0.1:8000/v1/waitcondition"


def test_without_keystone_the_run_stays_keystone_less(tmp_path: Path) -> None:
    plan = _plan(tmp_path, keystone=False)
    conf = _conf(plan, "heat.conf")
    assert plan.keystone is None
    assert "FakeKeystoneClient" in conf.get("DEFAULT", "keystone_backend")
    assert conf.get("paste_deploy", "flavor") == "noauth"
    assert not conf.has_section("trustee")
    assert "Keystone" not in endpoints(plan) and keystone_catalog(plan) == (
        ("heat", "orchestration", "http://127.0.0.1:8004/v1/%(project_id)s"),
        ("heat-cfn", "cloudformation", "http://127.0.0.1:8000/v1"))


def test_up_reports_keystone_and_how_to_use_it(tmp_path: Path) -> None:
    plan = _plan(tmp_path, keystone=True)
    assert endpoints(plan)["Keystone"] == "http://127.0.0.1:5000/v3"
    text = client_help(KeystoneAccounts())
    assert "token issue" in text and "export OS_AUTH_URL=http://127.0.0.1:5000/v3" in text
    assert "OS_USERNAME=demo OS_PASSWORD=local-demo OS_PROJECT_NAME=demo" in text
