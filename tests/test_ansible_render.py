"""The generated Ansible content: Ansible itself reads it back as the model says.

ansible-playbook --syntax-check and ansible-inventory run here (about a
second each, no server); ansible-lint takes several seconds and is marked
real, like the playbook runs in test_ansible_local.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_checks import inventory_list, render_tree, run_tool
from heat_wsgi.loader import load_topology
from heat_wsgi.model import Topology
from heat_wsgi.render import render_all
from heat_wsgi.derive import build_index, instance_layout

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "etc" / "heat" / "topology.sample.yaml"
MODES = REPO / "tests" / "golden" / "modes" / "topology.yaml"


@pytest.fixture(scope="module")
def sample() -> Topology:
    return load_topology(SAMPLE)


@pytest.fixture(scope="module")
def sample_tree(sample: Topology, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_tree(sample, tmp_path_factory.mktemp("sample") / "out")


def test_render_writes_the_ansible_content_next_to_the_host_trees(sample_tree: Path) -> None:
    out = sample_tree.parent
    assert sorted(p.name for p in out.iterdir()) == ["A", "B", "C", "MANIFEST", "ansible"]
    names = sorted(str(p.relative_to(sample_tree)) for p in sample_tree.rglob("*") if p.is_file())
    assert names == [".ansible-lint", "ansible.cfg", "forget-host.yml", "host_vars/A.yml",
                     "inventory.yml", "library/heat_wsgi_files.py", "rolling-restart.yml",
                     "site.yml"]
    # The broker's passwords: only root reads them.
    assert (sample_tree / "host_vars" / "A.yml").stat().st_mode & 0o777 == 0o600
    assert "heat-mq-secret" not in (sample_tree / "inventory.yml").read_text()


@pytest.mark.parametrize("playbook", ["site.yml", "rolling-restart.yml", "forget-host.yml"])
def test_playbooks_pass_syntax_check(sample_tree: Path, playbook: str) -> None:
    result = run_tool("ansible-playbook", ["--syntax-check", playbook], sample_tree)
    assert result.returncode == 0, result.stdout + result.stderr


def test_inventory_groups_match_the_model(sample: Topology, sample_tree: Path) -> None:
    data = inventory_list(sample_tree)
    groups = {name: sorted(body.get("hosts", [])) for name, body in data.items()
              if name not in ("_meta", "all")}
    assert groups == {
        "database": ["A"], "message_bus": ["A"], "proxy": ["A"], "api": ["B", "C"],
        "engine": ["B", "C"], "heat": ["B", "C"], "heat_api": ["B", "C"],
        "heat_api_cfn": ["B", "C"], "heat_api_cloudwatch": ["B", "C"]}


def test_host_vars_match_the_model(sample: Topology, sample_tree: Path) -> None:
    hostvars: dict[str, dict[str, Any]] = inventory_list(sample_tree)["_meta"]["hostvars"]
    files = render_all(sample)
    index = build_index(sample)
    for host in sample.hosts:
        got = hostvars[host.name]
        assert got["ansible_host"] == host.address
        assert got["heat_wsgi_tree"] == f"../{host.name}"
        tree = sample_tree / got["heat_wsgi_tree"]
        # Every rendered file of the host is copied (haproxy.cfg by its own,
        # validating task), from the tree, with the writer's mode.
        copied = {path: group for group in got["heat_wsgi_files"] for path in group["paths"]}
        if "heat_wsgi_haproxy_config" in got:
            copied[got["heat_wsgi_haproxy_config"]["dest"]] = got["heat_wsgi_haproxy_config"]
        rendered = {item.path for item in files.values() if item.host == host.name}
        assert set(copied) == rendered
        for dest, entry in copied.items():
            source = tree / dest.lstrip("/")
            assert source.is_file(), source
            assert entry["mode"] == f"{source.stat().st_mode & 0o777:04o}", dest
            if dest.endswith(".conf") and "/heat/" in dest:
                assert (entry["owner"], entry["group"], entry["mode"]) == ("root", "heat", "0640")
                assert entry["secret"] is True
        # The HAProxy servers and health URLs are the host's instances'.
        instances = index.instances_by_host.get(host.name, [])
        assert sorted(s["server"] for s in got.get("heat_wsgi_haproxy_servers", [])) \
            == sorted(i.name for i in instances)
        assert sorted(got.get("heat_wsgi_healthchecks", [])) == sorted(
            "http://{0}:{1}/healthcheck".format(*instance_layout(sample, i, host, index).front)
            for i in instances)
    assert {s["backend"] for s in hostvars["B"]["heat_wsgi_haproxy_servers"]} == {
        "rest_api_proxy", "cfn_api_proxy", "cloudwatch_api_proxy"}
    units = [(u["name"], u["stage"]) for u in hostvars["B"]["heat_wsgi_units"]]
    assert units == [("heat-engine-1.service", "engine"), ("heat-engine-2.service", "engine"),
                     ("heat-uwsgi-rest-server-1.service", "api"),
                     ("heat-uwsgi-cfn-server-1.service", "api"),
                     ("heat-uwsgi-cloudwatch-server-1.service", "api")]
    assert [(u["name"], u["stage"]) for u in hostvars["A"]["heat_wsgi_units"]] == [
        ("mariadb.service", "database"), ("rabbitmq-server.service", "message_bus"),
        ("haproxy.service", "proxy")]
    assert hostvars["A"]["heat_wsgi_haproxy_socket"] == "/run/heat/haproxy.sock"
    assert hostvars["A"]["heat_wsgi_rabbitmq_accounts"] == [
        {"user": "heat", "password": "heat-mq-secret", "vhost": "/"}]


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader plus Ansible's !unsafe (a plain string here)."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def load(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass


def test_site_yml_starts_services_in_order(sample_tree: Path) -> None:
    plays = load(sample_tree / "site.yml")
    assert [p["hosts"] for p in plays] == ["all", "database", "message_bus", "heat", "engine",
                                           "api", "proxy"]
    schema = plays[3]
    assert all(task.get("run_once") for task in schema["tasks"])
    rolling = load(sample_tree / "rolling-restart.yml")
    assert rolling[0]["serial"] == 1 and rolling[0]["hosts"] == "api"
    modules = [next(k for k in t if "." in k) for t in rolling[0]["tasks"]]
    assert modules == ["ansible.builtin.assert", "community.general.haproxy",
                       "ansible.builtin.systemd_service", "ansible.builtin.systemd_service",
                       "ansible.builtin.async_status", "ansible.builtin.uri",
                       "community.general.haproxy"]
    # The API units always; the engines (HAProxy cannot drain them) unless told
    # not to, side by side: started in the background, then waited for.
    api_units, engine_units, engine_wait = rolling[0]["tasks"][2:5]
    assert "'api'" in api_units["loop"] and "when" not in api_units
    assert "'engine'" in engine_units["loop"] and engine_units["poll"] == 0
    assert engine_wait["loop"] == "{{ heat_wsgi_engine_restarts.results }}"
    assert engine_units["register"] == "heat_wsgi_engine_restarts"
    for task in engine_units, engine_wait:
        assert task["when"] == "heat_wsgi_restart_engines | default(true) | bool"
    # Hosts that run engines and no API get the same engine restart, one at a time.
    assert rolling[1]["hosts"] == "engine:!api" and rolling[1]["serial"] == 1
    assert rolling[1]["tasks"] == rolling[0]["tasks"][3:5]


@pytest.mark.real
@pytest.mark.parametrize("topology_file", [SAMPLE, MODES], ids=["sample", "modes"])
def test_ansible_lint_passes(topology_file: Path, tmp_path: Path) -> None:
    tree = render_tree(load_topology(topology_file), tmp_path / "out")
    result = run_tool("ansible-lint", ["--offline"], tree, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout + result.stderr


def test_adding_a_host_changes_only_the_proxy_config_on_the_others(sample: Topology) -> None:
    # What doc/ansible.rst promises for "adding a host": site.yml then
    # changes nothing on B and C, and reloads HAProxy on A.
    import dataclasses

    from heat_wsgi.model import ApiInstance, EngineGroup, Host, Paths
    grown = dataclasses.replace(
        sample, hosts=sample.hosts + (Host(name="D", address="10.0.0.4",
                                           paths=Paths(venv="/opt/heat")),),
        api_instances=sample.api_instances + (
            ApiInstance(name="rest-server-3", service="api", host="D"),),
        engines=sample.engines + (EngineGroup(host="D", processes=1),))
    before, after = render_all(sample), render_all(grown)
    changed = sorted(str(key) for key in set(before) | set(after)
                     if not str(key).startswith("D/")
                     and (key not in before or key not in after or before[key].text != after[key].text))
    assert changed == ["A/etc/haproxy/haproxy.cfg", "ansible/inventory.yml"]
    assert "server rest-server-3 10.0.0.4:8004" in after[next(
        k for k in after if str(k) == "A/etc/haproxy/haproxy.cfg")].text


def test_the_lab_deploys_the_sample_with_only_its_addresses_moved(sample: Topology) -> None:
    # tests/test_ansible_lab*.py deploy ansiblelab.lab_topology(): every file
    # it renders must be the shipped sample's, with 10.0.0.N as 198.18.0.N
    # and nothing else changed (no venv path, name or setting of its own).
    from ansiblelab import lab_addresses, lab_links, lab_machines, lab_topology
    lab = lab_topology()
    shipped, deployed = render_all(sample), render_all(lab)
    assert sorted(map(str, deployed)) == sorted(map(str, shipped))
    differ = [key for key in shipped if deployed[key].text != shipped[key].text]
    assert differ, "the addresses must differ"
    def same(text: str) -> str:   # the inventory carries each file's SHA-1
        return re.sub(r"\"?\b[0-9a-f]{40}\b\"?", "SHA-1", text)

    for key in shipped:
        assert same(deployed[key].text) == same(lab_addresses(shipped[key].text)), key
        assert "10.0.0." not in deployed[key].text and "198.18." not in shipped[key].text, key
        assert (deployed[key].mode, deployed[key].host) == (shipped[key].mode, shipped[key].host)
    assert lab_machines(lab) == {"A": "198.18.0.1", "B": "198.18.0.2", "C": "198.18.0.3"}
    assert list(lab_links(lab)) == ["/opt/heat"]
    # Only whole addresses move.
    assert lab_addresses("110.0.0.1 10.0.0.12 10.0.0.1:5672 10.0.0.1.5") == \
        "110.0.0.1 198.18.0.12 198.18.0.1:5672 10.0.0.1.5"
