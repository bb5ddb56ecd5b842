"""``import heat_wsgi`` is what a deployment tool needs, typed, and the one table
of services drives every per-service fact."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import PurePosixPath
from typing import get_args

import heat_wsgi
from heat_wsgi.model import model_classes
from heat_wsgi.services import SERVICES, ServiceName, by_program

from conftest import REPO

SAMPLE = REPO / "etc" / "heat" / "topology.sample.yaml"


def test_the_facade_validates_renders_and_writes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    topology = heat_wsgi.load_topology(SAMPLE)
    assert isinstance(topology, heat_wsgi.Topology)
    problems = heat_wsgi.validate(topology)
    assert problems == []
    legacy = heat_wsgi.validate(heat_wsgi.load_topology(SAMPLE.with_name("topology.legacy.yaml")))
    assert legacy and all(isinstance(p, heat_wsgi.Problem) for p in legacy)
    files = heat_wsgi.render(topology)
    assert all(isinstance(f, heat_wsgi.RenderedFile) for f in files.values())
    assert PurePosixPath("A/etc/haproxy/haproxy.cfg") in files
    target = heat_wsgi.write_tree(files, tmp_path / "out")
    assert (target / "A" / "etc" / "haproxy" / "haproxy.cfg").is_file()
    for name in heat_wsgi.__all__:
        assert getattr(heat_wsgi, name) is not None, name
    assert issubclass(heat_wsgi.TopologyError, heat_wsgi.HeatWsgiError)
    assert issubclass(heat_wsgi.RenderError, heat_wsgi.HeatWsgiError)


def test_the_packages_of_the_same_name_stay_importable() -> None:
    # heat_wsgi.render and heat_wsgi.validate are the packages, callable as
    # their functions: every way of importing them keeps working.
    code = ("import heat_wsgi; t = heat_wsgi.loads_topology('hosts: [{name: a, address: 10.0.0.1}]');"
            "import heat_wsgi.render.haproxy as h, heat_wsgi.validate.names as n;"
            "from heat_wsgi.render import RenderedFile, render_all;"
            "from heat_wsgi import render, validate;"
            "assert render(t) == heat_wsgi.render(t) == render_all(t) == {};"
            "assert validate(t) == heat_wsgi.validate(t) == [];"
            "print(h.render_haproxy.__name__, n.rule_names.__name__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["render_haproxy", "rule_names"]


def test_the_package_ships_its_type_information() -> None:
    assert (REPO / "heat_wsgi" / "py.typed").is_file()
    assert "py.typed" in (REPO / "setup.cfg").read_text()


def test_the_services_table_is_the_service_names() -> None:
    assert tuple(SERVICES) == get_args(ServiceName)
    for name, info in SERVICES.items():
        assert info.name == name and by_program(info.program) is info
        module = REPO / (info.module.replace(".", "/") + ".py")
        # A service is its entry plus its app: a WSGI module that boots it.
        assert f'boot.entrypoint("{info.program}")' in module.read_text(), module
    for fact in ("program", "default_port", "proxy_section", "label", "diagram_label", "module"):
        values = [getattr(info, fact) for info in SERVICES.values()]
        assert len(set(values)) == len(values), fact


def test_every_field_is_described_and_in_the_generated_reference() -> None:
    sys.path.insert(0, str(REPO / "doc" / "_ext"))
    try:
        from fieldref import reference_lines
    finally:
        sys.path.pop(0)
    reference = "\n".join(reference_lines())
    for cls in model_classes():
        assert f"\n{cls.__name__}\n" in reference, cls
        for f in dataclasses.fields(cls):
            if f.metadata.get("internal"):
                continue
            described = str(f.metadata.get("doc", "")).strip()
            assert described, f"{cls.__name__}.{f.name} has no description"
            assert f"``{f.name}``\n   {described}\n" in reference, f"{cls.__name__}.{f.name}"


def test_cli_choices_come_from_the_literal_types() -> None:
    from heat_wsgi.cli import build_parser
    from heat_wsgi.diagram import DiagramFormat

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    diagram = commands.choices["diagram"]  # type: ignore[index]
    fmt = next(a for a in diagram._actions if a.dest == "format")
    assert tuple(fmt.choices) == get_args(DiagramFormat)
