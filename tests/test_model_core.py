"""The model's constructors, the YAML loader, the schema and the diagrams."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

import heat_wsgi

from heat_wsgi import ApiInstance, EngineGroup, Host, Listener, ProxyConfig, Topology
from heat_wsgi.diagram import render_dot, render_text_diagram
from heat_wsgi.errors import TopologyError
from heat_wsgi.loader import load_topology, loads_topology
from heat_wsgi.schema import topology_schema
from conftest import REPO

SAMPLE = REPO / "etc" / "heat" / "topology.sample.yaml"


def test_package_imports_without_heat() -> None:
    code = ("import sys, heat_wsgi, heat_wsgi.render, heat_wsgi.validate, heat_wsgi.loader;"
            "bad = [m for m in sys.modules if m == 'heat' or m.startswith(('heat.', 'oslo_messaging'))];"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("kwargs, path, value", [
    ({"service": "heat"}, "api_instances[x].service", "heat"),
    ({"port": "8004"}, "api_instances[x].port", "8004"),
    ({"port": True}, "api_instances[x].port", True),
    ({"processes": 0}, "api_instances[x].processes", 0),
    ({"mode": "gunicorn"}, "api_instances[x].mode", "gunicorn"),
])
def test_constructor_errors_name_field_and_value(kwargs: dict[str, object], path: str, value: object) -> None:
    with pytest.raises(TopologyError) as info:
        ApiInstance(**{"name": "x", "service": "api", "host": "h", **kwargs})  # type: ignore[arg-type]
    assert info.value.path == path and info.value.value == value
    assert path in str(info.value) and repr(value) in str(info.value)


def test_model_is_frozen_and_uses_tuples() -> None:
    host = Host(name="a", address="10.0.0.1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        host.name = "b"  # type: ignore[misc]
    with pytest.raises(TopologyError, match="hosts"):
        Topology(hosts=[host])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Host("a", "10.0.0.1")  # type: ignore[misc]  # keyword-only


def test_python_built_topology_validates_and_renders() -> None:
    t = Topology(hosts=(Host(name="a", address="10.0.0.1"), Host(name="b", address="10.0.0.2")),
                 api_instances=(ApiInstance(name="api-b", service="api", host="b"),),
                 engines=(EngineGroup(host="b", processes=2),),
                 proxy=ProxyConfig(host="a", listeners=(Listener(service="api"),)),
                 base_config="[DEFAULT]\ntransport_url = rabbit://x:y@10.0.0.1/\n"
                             "[database]\nconnection = sqlite:////tmp/h.db\n")
    assert heat_wsgi.validate(t) == []
    assert {str(k) for k in heat_wsgi.render(t)} >= {"a/etc/haproxy/haproxy.cfg", "b/etc/heat/heat.conf",
                                            "b/etc/systemd/system/heat-engine-2.service"}


def test_render_refuses_a_topology_with_errors() -> None:
    t = Topology(hosts=(Host(name="a", address="10.0.0.1"),),
                 api_instances=(ApiInstance(name="x\ny", service="api", host="a"),))
    with pytest.raises(TopologyError, match="control character"):
        heat_wsgi.render(t)


def test_loader_records_lines() -> None:
    t = load_topology(SAMPLE)
    sources = t.source_map()
    lines = SAMPLE.read_text().splitlines()
    where = sources["api_instances[rest-server-2].host"]
    assert where.startswith(str(SAMPLE))
    assert "rest-server-2" in lines[int(where.rsplit(":", 1)[1]) - 1]
    assert "keystone_backend = " in t.base_config


@pytest.mark.parametrize("text, path, line", [
    ("hosts: [\n", "<yaml>", 2),
    ("hosts:\n  - name: a\n    address: 10.0.0.1\n    colour: red\n", "hosts[a].colour", 4),
    ("hosts:\n  - name: a\n    address: 10\n", "hosts[a].address", 3),
    ("api_instances:\n  - name: x\n    service: api\n    host: a\n    port: eighty\n",
     "api_instances[x].port", 5),
    ("api_instances:\n  - name: x\n    service: api\n    host: a\n    processes: 0\n",
     "api_instances[x].processes", 5),
    ("engines:\n  - processes: 2\n", "engines[#0]", 2),
    ("proxy: 3\n", "proxy", 1),
    ("name: a\nname: b\n", "name", 2),
    ("- 1\n", "<top>", 1),
])
def test_loader_errors_have_file_and_line(text: str, path: str, line: int) -> None:
    with pytest.raises(TopologyError) as info:
        loads_topology(text, "t.yaml")
    assert info.value.path == path
    assert info.value.source == f"t.yaml:{line}"


def test_heat_conf_shorthand_keeps_written_text() -> None:
    t = loads_topology("heat_conf:\n  DEFAULT: {debug: true, rpc_response_timeout: 600}\n", "t.yaml")
    assert [(o.section, o.key, o.value) for o in t.heat_conf] == [
        ("DEFAULT", "debug", "true"), ("DEFAULT", "rpc_response_timeout", "600")]


def test_base_config_file_is_relative_to_the_yaml(tmp_path: Path) -> None:
    (tmp_path / "base.conf").write_text("[DEFAULT]\ndebug = true\n")
    (tmp_path / "t.yaml").write_text("base_config_file: base.conf\n")
    assert load_topology(tmp_path / "t.yaml").base_config == "[DEFAULT]\ndebug = true\n"
    (tmp_path / "u.yaml").write_text("base_config_file: missing.conf\n")
    with pytest.raises(TopologyError, match="cannot be read"):
        load_topology(tmp_path / "u.yaml")


def test_schema_accepts_the_samples_and_rejects_typos() -> None:
    import jsonschema
    import yaml
    schema = topology_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for path in (SAMPLE, REPO / "etc" / "heat" / "samples.topology.yaml",
                 REPO / "tests" / "golden" / "modes" / "topology.yaml"):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"hosts": [{"name": "a", "adress": "x"}]}, schema)
    assert json.loads(json.dumps(schema)) == schema


def test_diagrams() -> None:
    t = load_topology(SAMPLE)
    text = render_text_diagram(t)
    assert "[CLI] -- <HTTP> -- [PROXY @ A 10.0.0.1:8004,8000,8003] --" in text
    assert "-- <AMQP> --" in text and "rest-server-1 @ B 10.0.0.2:8004" in text
    dot = render_dot(t)
    assert dot.startswith('digraph "scaling-sample" {') and dot.rstrip().endswith("}")
    assert '"proxy" -> "api:rest-server-1" [label="10.0.0.2:8004"];' in dot
