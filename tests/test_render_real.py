"""Rendered files accepted by the real HAProxy, Apache and uwsgi.

Servers started here bind only 127.0.0.40-127.0.0.49 and are stopped by pid.
"""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

import pytest

from heat_wsgi.model import (
    TLS, ApiInstance, Database, EngineGroup, Host, Listener, MessageBus, Paths,
    ProxyConfig, Topology,
)
from heat_wsgi.render import render_all
from heat_wsgi.writer import write_tree
from render_checks import (
    apache_check, haproxy_check, start_uwsgi, stop, wait_http, wait_path, wait_workers,
)

pytestmark = pytest.mark.real

APP_ADDRESS = "127.0.0.41"
PROXY_ADDRESS = "127.0.0.42"


def real_topology(root: Path, *, tls: str | None = None, name: str = "srv") -> Topology:
    paths = Paths(config_dir=f"{root}/etc", log_dir=f"{root}/log", run_dir=f"{root}/run",
                  wsgi_dir=f"{root}/wsgi", apache_site_dir=f"{root}/sites",
                  systemd_dir=f"{root}/units", haproxy_config=f"{root}/haproxy.cfg")
    return Topology(
        name="real-check",
        hosts=(Host(name="proxy", address=PROXY_ADDRESS, paths=paths),
               Host(name=name, address=APP_ADDRESS, paths=paths, user="www-data", group="www-data")),
        api_instances=(
            ApiInstance(name="api-uwsgi", service="api", host=name, mode="uwsgi", port=8004,
                        socket=f"{root}/run/api-extra.sock"),
            ApiInstance(name="api-uds", service="api", host=name, mode="mod_proxy_uwsgi", port=8014),
            ApiInstance(name="cfn-wsgi", service="cfn", host=name, mode="mod_wsgi", port=8000,
                        processes=1, threads=2),
            ApiInstance(name="cw-proxy", service="cloudwatch", host=name, mode="mod_proxy",
                        port=8003, processes=1),
        ),
        engines=(EngineGroup(host=name, processes=2),),
        proxy=ProxyConfig(host="proxy", listeners=(Listener(service="api"), Listener(service="cfn"),
                                                   Listener(service="cloudwatch")),
                          retry_on="conn-failure empty-response response-timeout",
                          tls=TLS(certificate=tls) if tls else None),
        database=Database(url="mysql+pymysql://heat:pw@127.0.0.42/heat", host="proxy"),
        message_bus=MessageBus(transport_url="rabbit://heat:pw@127.0.0.42:5672/", host="proxy"),
        base_config="[DEFAULT]\ndebug = true\n",
    )


@pytest.fixture
def rendered(tmp_path: Path) -> tuple[Path, Topology]:
    root = tmp_path / "state"
    for sub in ("log", "run", "wsgi"):
        (root / sub).mkdir(parents=True)
    topology = real_topology(root)
    out = write_tree(render_all(topology), tmp_path / "out")
    return out, topology


def test_haproxy_accepts_the_rendered_config(rendered: tuple[Path, Topology], tmp_path: Path) -> None:
    out, _ = rendered
    cfg = next(out.glob("proxy/**/haproxy.cfg"))
    result = haproxy_check(cfg)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration file is valid" in result.stdout + result.stderr
    assert "    retry-on conn-failure empty-response response-timeout\n" in cfg.read_text()


def test_haproxy_accepts_tls_termination(tmp_path: Path) -> None:
    cert = tmp_path / "proxy.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=heat.test", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "crt.pem")], check=True, capture_output=True)
    cert.write_bytes((tmp_path / "crt.pem").read_bytes() + (tmp_path / "key.pem").read_bytes())
    topology = real_topology(tmp_path / "state", tls=str(cert))
    out = write_tree(render_all(topology), tmp_path / "out")
    cfg = next(out.glob("proxy/**/haproxy.cfg"))
    assert f"ssl crt {cert}" in cfg.read_text()
    assert "X-Forwarded-Proto https" in cfg.read_text()
    result = haproxy_check(cfg)
    assert result.returncode == 0, result.stdout + result.stderr


def test_haproxy_rejects_what_it_should(tmp_path: Path) -> None:
    # The check is real: a config with an out-of-range port fails.
    cfg = tmp_path / "bad.cfg"
    cfg.write_text("defaults\n    mode http\nlisten x\n    bind 127.0.0.40:80999\n")
    assert haproxy_check(cfg).returncode != 0


def test_apache_accepts_every_site(rendered: tuple[Path, Topology], tmp_path: Path) -> None:
    out, _ = rendered
    sites = sorted(out.glob("srv/**/sites/*.conf"))
    assert {s.stem for s in sites} == {"api-uds", "cfn-wsgi", "cw-proxy"}
    for site in sites:
        result = apache_check(tmp_path / f"apache-{site.stem}", [site])
        assert result.returncode == 0, (site.name, result.stderr)
        assert "Syntax OK" in result.stderr
    together = apache_check(tmp_path / "apache-all", sites)
    assert together.returncode == 0, together.stderr


def test_apache_check_is_real(tmp_path: Path) -> None:
    site = tmp_path / "bad.conf"
    site.write_text("<VirtualHost 127.0.0.40:80>\n    NoSuchDirective x\n</VirtualHost>\n")
    assert apache_check(tmp_path / "apache", [site]).returncode != 0


def _tiny(ini: Path, app_dir: Path) -> Path:
    text = ini.read_text()
    text, count = re.subn(r"(?m)^module = .*$", "module = tinyapp:application", text)
    assert count == 1
    text = re.sub(r"(?m)^virtualenv = .*\n", "", text)
    copy = app_dir / ini.name
    copy.write_text(text)
    return copy


@pytest.mark.parametrize("instance", ["api-uwsgi", "cw-proxy", "api-uds"])
def test_uwsgi_starts_with_the_rendered_ini(rendered: tuple[Path, Topology], tmp_path: Path,
                                            instance: str) -> None:
    out, topology = rendered
    ini = next(out.glob(f"srv/**/uwsgi/{instance}.ini"))
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    proc = start_uwsgi(_tiny(ini, app_dir), app_dir, tmp_path / "uwsgi.out")
    run = Path(topology.hosts[1].paths.run_dir)
    try:
        if instance == "api-uwsgi":
            assert wait_http(f"http://{APP_ADDRESS}:8004/healthcheck", proc) == b"tiny /healthcheck"
            sock = run / "api-extra.sock"
        elif instance == "cw-proxy":
            assert wait_http(f"http://{APP_ADDRESS}:18003/x", proc) == b"tiny /x"
            sock = None
        else:
            sock = run / "api-uds.sock"
        if sock is not None:
            wait_path(sock, proc)
            assert stat.S_IMODE(sock.stat().st_mode) == 0o660
        wait_path(run / f"{instance}.pid", proc)
        processes = next(i.processes for i in topology.api_instances if i.name == instance)
        # Stop only once every worker is up, so the graceful stop is tested.
        log_file = Path(topology.hosts[1].paths.log_dir) / f"{instance}.log"
        wait_workers(log_file, processes, proc)
    finally:
        code = stop(proc)
    log = (Path(topology.hosts[1].paths.log_dir) / f"{instance}.log").read_text()
    assert code == 0, log
