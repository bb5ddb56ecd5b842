"""Real start/stop of every private service in heat_wsgi.runtime.

Addresses 127.0.0.30-39 and epmd port 4372 belong to these tests (HACKING.md).
Every fixture stops what it started, also when a test fails, and the tests
check that the recorded pids are really gone afterwards.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from heat_wsgi.errors import ServiceError
from heat_wsgi.runtime import apache, haproxy, heat, mariadb, process, rabbitmq, uwsgi
from heat_wsgi.runtime.service import Service

from conftest import REPO, VENV, wait_until
from realstack import wait_settled

pytestmark = pytest.mark.real

RABBIT = ("127.0.0.30", 5672, 4372)
DB = ("127.0.0.30", 3306)
API = ("127.0.0.31", 8004)
PROXY = ("127.0.0.32", 8004)
APACHE = ("127.0.0.33", 8080)


def _gone(service: Service) -> bool:
    return not any(process.is_alive(pid) for pid in service.pids)


def test_spawn_and_stop_by_pid(state_dir: Path) -> None:
    proc = process.spawn("sleeper", ["sleep", "300"], state_dir=state_dir)
    try:
        assert process.is_alive(proc.pid, proc.starttime)
        assert (state_dir / "run" / "sleeper.pid").read_text().strip() == str(proc.pid)
    finally:
        process.stop_proc(proc, timeout=5)
    assert not process.is_alive(proc.pid)
    assert not (state_dir / "run" / "sleeper.pid").exists()


def test_stop_escalates_to_kill(state_dir: Path) -> None:
    proc = process.spawn("stubborn", ["sh", "-c", "trap '' TERM; sleep 300 & wait; sleep 300"],
                         state_dir=state_dir)
    # Once its first child runs, the shell has set the trap that ignores TERM.
    wait_until(lambda: len(process._group_members(proc.pid)) > 1, 10, "the shell starts sleep")
    started = time.monotonic()
    process.stop(proc.pid, timeout=1.0)
    assert not process.is_alive(proc.pid)
    # The sleep children share the group we created and go with it.
    assert process._group_members(proc.pid) == []
    assert time.monotonic() - started < 10


def test_early_death_is_reported_with_log(state_dir: Path) -> None:
    proc = process.spawn("dies", ["sh", "-c", "echo boom-marker >&2; exit 3"], state_dir=state_dir)
    started = time.monotonic()
    with pytest.raises(ServiceError) as info:
        process.wait_for_tcp("127.0.0.34", 9, 60, service="dies", pid=proc.pid, log=proc.log)
    assert time.monotonic() - started < 10
    text = str(info.value)
    assert "dies" in text and "status 3" in text and "boom-marker" in text
    assert info.value.log == proc.log


@pytest.fixture(scope="module")
def rabbit(state_dir: Path) -> Iterator[Service]:
    address, port, epmd = RABBIT
    service = rabbitmq.start_rabbitmq(state_dir, address=address, port=port, epmd_port=epmd)
    yield service
    service.stop()


@pytest.fixture(scope="module")
def db(state_dir: Path) -> Iterator[Service]:
    address, port = DB
    service = mariadb.start_mariadb(state_dir, address=address, port=port, password="s3cr'et")
    yield service
    service.stop()


def test_rabbitmq(rabbit: Service) -> None:
    assert rabbit.transport_url == "rabbit://guest:guest@127.0.0.30:5672/"
    assert len(rabbit.procs) == 2  # epmd and the node
    assert rabbit.healthy() == (True, "listening")
    assert process.tcp_open("127.0.0.30", 4372)


def test_mariadb(db: Service) -> None:
    import pymysql

    assert db.url == "mysql+pymysql://heat:s3cr'et@127.0.0.30:3306/heat?charset=utf8mb4"
    conn = pymysql.connect(host=DB[0], port=DB[1], user="heat", password="s3cr'et",
                           database="heat")
    with conn.cursor() as cursor:
        cursor.execute("SELECT @@max_connections")
        assert cursor.fetchone() == (mariadb.MAX_CONNECTIONS,)
    conn.close()


def test_second_instance_on_taken_port_fails(state_dir: Path, db: Service) -> None:
    with pytest.raises(ServiceError, match=r"mariadb2: cannot start: 127.0.0.30:3306 is already"):
        mariadb.start_mariadb(state_dir, address=DB[0], port=DB[1], name="mariadb2")


HEAT_CONF = """[DEFAULT]
transport_url = {transport}
host = runtime-test
debug = True
num_engine_workers = 1
keystone_backend = heat.engine.clients.os.keystone.fake_keystoneclient.FakeKeystoneClient
deferred_auth_method = password

[database]
connection = {db}

[paste_deploy]
flavor = noauth
api_paste_config = {paste}

[oslo_policy]
enforce_new_defaults = False
"""

def _api_ini(heat_conf: Path) -> str:
    """Heat's own heat.wsgi.api under a private uwsgi."""
    return uwsgi.render_ini([
        ("http-socket", f"{API[0]}:{API[1]}"), ("virtualenv", str(VENV)),
        ("module", "heat.wsgi.api:application"), ("pyargv", f"--config-file {heat_conf}"),
        ("processes", "1"), ("threads", "1"), *uwsgi.PRIVATE_OPTIONS])


@pytest.fixture(scope="module")
def heat_conf(state_dir: Path, rabbit: Service, db: Service) -> Path:
    paste = REPO / "heat_wsgi" / "data" / "api-paste.ini"
    if not paste.is_file():
        paste = VENV / "etc" / "heat" / "api-paste.ini"
    conf = state_dir / "etc" / "heat.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(HEAT_CONF.format(transport=rabbit.transport_url,
                                     db=db.url.replace("%", "%%"), paste=paste))
    heat.db_sync(VENV, conf)
    return conf


@pytest.fixture(scope="module")
def engine(state_dir: Path, heat_conf: Path, db: Service) -> Iterator[Service]:
    service = heat.start_engine(VENV, heat_conf, state_dir, "heat-engine-test",
                                host="runtime-test", database_url=db.url)
    yield service
    service.stop()


@pytest.fixture(scope="module")
def api(state_dir: Path, heat_conf: Path) -> Iterator[Service]:
    ini = state_dir / "etc" / "uwsgi-api.ini"
    ini.write_text(_api_ini(heat_conf))
    service = uwsgi.start_uwsgi(VENV, ini, state_dir, "uwsgi-api")
    yield service
    service.stop()


def _create_stack(endpoint: str, name: str) -> str:
    from heatclient import client as heat_client

    hc = heat_client.Client("1", endpoint=f"{endpoint}/v1/admin", token="x")
    created = hc.stacks.create(stack_name=name, template={
        "heat_template_version": "2018-08-31",
        "resources": {"rs": {"type": "OS::Heat::RandomString"}}})
    return str(wait_settled(hc, created["stack"]["id"], 60).stack_status)


def test_engine_and_uwsgi_create_a_stack(engine: Service, api: Service) -> None:
    assert api.url == "http://127.0.0.31:8004"
    assert api.healthy() == (True, "HTTP 200")
    assert engine.healthy() == (True, "running")
    assert _create_stack(api.url, "runtime-direct") == "CREATE_COMPLETE"


HAPROXY_CFG = """global
    maxconn 256
    stats socket {sock} mode 600 level admin
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend api
    bind {fhost}:{fport}
    default_backend api_be
backend api_be
    option httpchk
    http-check send meth GET uri /healthcheck
    http-check expect status 200
    server api1 {bhost}:{bport} check inter 1s fall 2 rise 1
"""


def test_haproxy_in_front_of_uwsgi(state_dir: Path, api: Service) -> None:
    sock = state_dir / "run" / "haproxy.sock"
    cfg = state_dir / "etc" / "haproxy.cfg"
    cfg.write_text(HAPROXY_CFG.format(sock=sock, fhost=PROXY[0], fport=PROXY[1],
                                      bhost=API[0], bport=API[1]))
    assert haproxy.check(cfg)[0]
    service = haproxy.start_haproxy(cfg, state_dir,
                                    health_urls=[f"http://{PROXY[0]}:{PROXY[1]}/healthcheck"])
    try:
        wait_until(lambda: haproxy.server_status(sock, "api_be", "api1").status == "UP", 15,
                   "HAProxy sees api1 UP")
        before = haproxy.server_status(sock, "api_be", "api1").sessions
        for _ in range(5):
            assert process.http_status(f"http://{PROXY[0]}:{PROXY[1]}/") == 300
        assert haproxy.server_status(sock, "api_be", "api1").sessions >= before + 5
    finally:
        service.stop()
    assert _gone(service)


def test_haproxy_rejects_bad_config(state_dir: Path) -> None:
    cfg = state_dir / "etc" / "bad-haproxy.cfg"
    cfg.write_text("frontend x\n    bind 127.0.0.35:8000\n    no_such_keyword 1\n")
    with pytest.raises(ServiceError, match="rejected the config"):
        haproxy.start_haproxy(cfg, state_dir, name="bad-haproxy")


def test_apache_proxies_to_uwsgi(state_dir: Path, api: Service) -> None:
    root = state_dir / "apache"
    site = state_dir / "etc" / "apache-site.conf"
    site.write_text(f'ProxyPass "/" "http://{API[0]}:{API[1]}/"\n')
    config = apache.write_main_config(root, modules=("proxy", "proxy_http"), includes=(site,),
                                      listen=(APACHE,))
    assert apache.configtest(config, root)[0]
    service = apache.start_apache(config, root, state_dir, listen=(APACHE,),
                                  health_urls=[f"http://{APACHE[0]}:{APACHE[1]}/healthcheck"])
    try:
        assert process.http_status(f"http://{APACHE[0]}:{APACHE[1]}/") == 300
        assert service.healthy()[0]
    finally:
        service.stop()
    assert _gone(service)
    assert process._group_members(service.pid) == []


def test_apache_main_config_reads_awkward_paths_back(tmp_path: Path) -> None:
    # heat_wsgi.quoting.apache_arg writes every path: httpd itself reads
    # back a server root holding a space, a quote and backslashes.
    root = tmp_path / 'odd "root" \\x\\'
    config = apache.write_main_config(root)
    result = subprocess.run([shutil.which("apache2") or "/usr/sbin/apache2", "-f", str(config),
                             "-D", "DUMP_RUN_CFG"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert f'ServerRoot: "{root}"' in result.stdout
    assert f'PidFile: "{root}/run/httpd.pid"' in result.stdout
    with pytest.raises(ServiceError, match="apache.*Apache expands"):
        apache.render_main_config(tmp_path / "${HOME}")


def test_services_stop_leaving_no_pid(state_dir: Path, rabbit: Service, db: Service,
                                      engine: Service, api: Service) -> None:
    # Runs last in the module: stop everything explicitly and prove it.
    for service in (api, engine, db, rabbit):
        service.stop()
        assert _gone(service), service
    assert process._group_members(api.pid) == []
    assert process._group_members(engine.pid) == []
