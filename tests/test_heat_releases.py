"""Heat 23-27: what the rendered heat.conf says depends on ``heat_version``.

The bind options exist for Heat <= 24 only; messages name the release the
topology targets; no file keeps a section its options were all removed from.
"""

from __future__ import annotations

import configparser
import dataclasses
from pathlib import PurePosixPath

import pytest

import heat_wsgi
from heat_wsgi import ApiInstance, Topology
from heat_wsgi.derive.ini import parse_ini
from heat_wsgi.loader import load_topology
from heat_wsgi.render.inifile import edit_ini
from conftest import REPO

LEGACY = REPO / "etc" / "heat" / "topology.legacy.yaml"


@pytest.fixture(scope="module")
def legacy() -> Topology:
    return load_topology(LEGACY)


def text(files: dict[PurePosixPath, heat_wsgi.RenderedFile], key: str) -> str:
    return files[PurePosixPath(key)].text


def sections(body: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(body)
    return {name: dict(parser[name]) for name in parser.sections()}


def test_setup_cfg_extra_allows_every_supported_release() -> None:
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    lines = [l.strip() for l in parser["options.extras_require"]["heat"].splitlines()]
    assert "openstack-heat>=23,<28" in lines
    assert "Heat 23 to 27" in (REPO / "README.md").read_text()


def test_heat_24_two_instances_of_a_service_drop_the_base_bind_host(legacy: Topology) -> None:
    # The legacy base file binds [heat_api] on A's (the proxy's) address. B
    # runs two REST instances: its own heat.conf cannot pick one, and must
    # not keep A's address either; each instance's copy has its own.
    extra = ApiInstance(name="rest-server-3", service="api", host="B", port=8014)
    old = dataclasses.replace(legacy, heat_version=24,
                              api_instances=legacy.api_instances + (extra,))
    files = heat_wsgi.render(old)
    host = parse_ini(text(files, "B/etc/heat/heat.conf"))
    assert ("heat_api", "bind_host") not in host and ("heat_api", "bind_port") not in host
    # The single cfn instance still binds B's address.
    assert host[("heat_api_cfn", "bind_host")] == "10.0.0.2"
    for name, port in (("rest-server-1", "8004"), ("rest-server-3", "8014")):
        own = parse_ini(text(files, f"B/etc/heat/heat-{name}.conf"))
        assert (own[("heat_api", "bind_host")], own[("heat_api", "bind_port")]) == ("10.0.0.2", port)
    for item in files.values():
        if item.kind == "heat.conf":
            assert "10.0.0.1" not in parse_ini(item.text).get(("heat_api", "bind_host"), ""), item.path


@pytest.mark.parametrize("version", [23, 24, 25, 26, 27])
def test_legacy_messages_name_the_topologys_release(legacy: Topology, version: int) -> None:
    topology = dataclasses.replace(legacy, heat_version=version)
    messages = [p.message for p in heat_wsgi.validate(topology)]
    assert messages and all(f"Heat {version}" in m for m in messages), messages
    body = text(heat_wsgi.render(topology), "B/etc/heat/heat.conf")
    assert f"# heat_wsgi: Heat {version} does not read [DEFAULT] sql_connection;" in body
    others = {23, 24, 25, 26, 27} - {version}
    assert not [v for v in others if f"Heat {v} does not read" in body]


@pytest.mark.parametrize("version", [25, 26, 27])
def test_heat_25_and_later_keep_no_empty_bind_sections(legacy: Topology, version: int) -> None:
    files = heat_wsgi.render(dataclasses.replace(legacy, heat_version=version))
    for item in files.values():
        if item.kind == "heat.conf":
            assert "[heat_api]" not in item.text and "[heat_api_cfn]" not in item.text, item.path
            assert "\n\n\n" not in item.text, item.path
            assert all(options for options in sections(item.text).values()), item.path


def test_a_section_emptied_by_the_edits_goes_but_one_with_comments_stays() -> None:
    base = ("[DEFAULT]\ndebug = true\n\n[gone]\nbind_host = x\nbind_port = 1\n\n"
            "[kept]\n# why\nbind_host = y\n\n[database]\nconnection = z\n")
    out = edit_ini(base, {("gone", "bind_host"): None, ("gone", "bind_port"): None,
                          ("kept", "bind_host"): None})
    assert out == ("[DEFAULT]\ndebug = true\n\n[kept]\n# why\n\n"
                   "[database]\nconnection = z\n")
    # A section the base file has empty is the user's: it stays.
    assert edit_ini("[DEFAULT]\n\n[mine]\n", {("DEFAULT", "host"): "h"}) == \
        "[DEFAULT]\nhost = h\n\n[mine]\n"


@pytest.mark.parametrize("version, warned", [(22, True), (23, False), (27, False), (28, True)])
def test_a_release_outside_23_to_27_is_warned_about(legacy: Topology, version: int,
                                                     warned: bool) -> None:
    problems = heat_wsgi.validate(dataclasses.replace(legacy, heat_version=version))
    found = [p for p in problems if p.path == "heat_version"]
    assert [p.severity for p in found] == (["warning"] if warned else [])
    if warned:
        assert "Heat 23 to 27" in found[0].message
