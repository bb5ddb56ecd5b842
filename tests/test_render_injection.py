"""No input adds a directive: awkward values are quoted so that the real
parsers (Apache, HAProxy, systemd, oslo.config) read them back as one value,
and values that cannot be written safely are refused."""

from __future__ import annotations

import configparser
import dataclasses
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from heat_wsgi import TLS, ApiInstance, Host, Paths, Topology
from heat_wsgi.errors import TopologyError
from heat_wsgi.render import render_all
from heat_wsgi.render.apache import render_apache_site
from heat_wsgi.derive import build_index, instance_layout
from heat_wsgi.render.systemd import render_uwsgi_unit
from heat_wsgi.validate import validate
from render_checks import apache_check, haproxy_check
from test_render_real import real_topology

SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"

INJECTIONS = ["x\nserver evil 6.6.6.6:80", "x\r\nInclude /etc/shadow", "x\x00y", "x\u2028y"]


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("field", ["name", "address", "socket", "host"])
def test_control_characters_anywhere_are_refused(tmp_path: Path, payload: str, field: str) -> None:
    topology = real_topology(tmp_path)
    inst = dataclasses.replace(topology.api_instances[0], **{field: payload})
    bad = dataclasses.replace(topology, api_instances=(inst,) + topology.api_instances[1:])
    # The error names the very field that holds the hostile value.
    where = f"api_instances[{inst.name}].{field}"
    errors = [p for p in validate(bad) if p.severity == "error"]
    assert any(p.path == where and p.value == payload and "control character" in p.message
               for p in errors), errors
    with pytest.raises(TopologyError) as info:
        render_all(bad)
    assert (info.value.path, info.value.value) == (where, payload)


@pytest.mark.real
def test_apache_reads_an_awkward_log_path_as_one_argument(tmp_path: Path) -> None:
    logs = tmp_path / 'logs with "quotes" and spaces'
    logs.mkdir()
    host = Host(name="h", address="127.0.0.43", paths=Paths(log_dir=str(logs), run_dir=str(tmp_path)))
    topology = Topology(hosts=(host,))
    site = tmp_path / "site.conf"
    for mode in ("mod_proxy", "mod_proxy_uwsgi", "mod_wsgi"):
        inst = ApiInstance(name="x", service="api", host="h", mode=mode)
        layout = instance_layout(topology, inst, host, build_index(topology))
        text = render_apache_site(topology, inst, host, layout).replace(
            "user=heat group=heat", "user=www-data group=www-data")
        site.write_text(text)
        # Apache checks that each ErrorLog directory exists: it only passes
        # if the quoted path came back exactly.
        result = apache_check(tmp_path / f"apache-{mode}", [site])
        assert result.returncode == 0, (mode, result.stderr)
        assert f'ErrorLog "{logs}/x-apache-error.log"'.replace('"quotes"', '\\"quotes\\"') in text


@pytest.mark.real
def test_haproxy_reads_a_certificate_path_with_spaces(tmp_path: Path) -> None:
    certs = tmp_path / "my certs"
    certs.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=heat.test", "-keyout", str(certs / "k"), "-out", str(certs / "c")],
                   check=True, capture_output=True)
    pem = certs / "heat cert.pem"
    pem.write_bytes((certs / "c").read_bytes() + (certs / "k").read_bytes())
    topology = real_topology(tmp_path / "state", tls=str(pem))
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(next(f.text for f in render_all(topology).values() if f.kind == "haproxy"))
    assert f"ssl crt '{pem}'" in cfg.read_text()
    result = haproxy_check(cfg)
    assert result.returncode == 0, result.stdout + result.stderr


def _units(topology: Topology) -> dict[str, str]:
    return {Path(f.path).name: f.text for f in render_all(topology).values() if f.kind == "systemd"}


@pytest.mark.real
def test_systemd_accepts_every_unit(tmp_path: Path) -> None:
    topology = real_topology(tmp_path / "state")
    venv = str(Path(sys.executable).parent.parent)
    # (systemd-analyze verify does not look users up; mod_wsgi refuses root.)
    hosts = tuple(dataclasses.replace(h, paths=dataclasses.replace(h.paths, venv=venv))
                  for h in topology.hosts)
    units = _units(dataclasses.replace(topology, hosts=hosts))
    assert {"heat-engine-1.service", "heat-engine-2.service", "heat-uwsgi-api-uwsgi.service",
            "heat-uwsgi-api-uds.service", "heat-uwsgi-cw-proxy.service"} <= set(units)
    # systemd-analyze checks that ExecStart names a program that exists;
    # both come with the heat extra, which the tests need anyway.
    for program in ("heat-engine", "uwsgi"):
        assert Path(venv, "bin", program).exists(), f"{program} is not installed in {venv}"
    for name, text in units.items():
        path = tmp_path / name
        path.write_text(text)
        result = subprocess.run([SYSTEMD_ANALYZE, "verify", str(path)], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, (name, result.stderr)


@pytest.mark.real
def test_systemd_exec_arguments_parse_back(tmp_path: Path) -> None:
    odd = str(tmp_path / "conf 100% $HOME")
    host = Host(name="h", address="127.0.0.43", paths=Paths(config_dir=odd, venv=str(Path(sys.executable).parent.parent)),
                user="root", group="root")
    topology = Topology(hosts=(host,))
    inst = ApiInstance(name="x", service="api", host="h")
    layout = instance_layout(topology, inst, host, build_index(topology))
    text = render_uwsgi_unit(topology, inst, host, layout)
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.read_string(text)
    words = shlex.split(parser["Service"]["ExecStart"])
    assert [w.replace("%%", "%").replace("$$", "$") for w in words[1:]] == ["--ini", f"{odd}/uwsgi/x.ini"]
    unit = tmp_path / "heat-odd.service"
    unit.write_text(text)
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
