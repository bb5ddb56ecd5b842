"""heat_wsgi.api and heat_wsgi.cfn serving real Heat under real servers.

One back end (MariaDB, RabbitMQ, heat-engine on 127.0.0.10) serves four
fronts, each started the way an operator would:

(a) ``uwsgi --module heat_wsgi.api`` on an HTTP socket;
(b) Apache + Debian's mod_wsgi running the module in a daemon process;
(c) Apache mod_proxy → uwsgi on a local HTTP socket;
(d) Apache mod_proxy_uwsgi → uwsgi on a unix socket.

(b)-(d) run the shipped files from httpd/files/ and etc/heat/ with only
addresses and paths moved into the test's state dir.

Through each: the versions document, /healthcheck, and a stack created,
read and deleted with python-heatclient. The CFN API is checked with boto3,
and preloading with four forked workers with concurrent creates.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

from heat_wsgi.runtime import apache, process, uwsgi
from heat_wsgi.runtime.service import Service, stop_all

from conftest import REPO, VENV
from realstack import (Backend, create_random_string_stack, heat_backend, heat_client,
                       wait_deleted)

BACKEND_ADDRESS = "127.0.0.10"
FRONT = "127.0.0.11"
SAMPLES = "127.0.0.12"
SITE_PACKAGES = Path(VENV) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" \
    / "site-packages"

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    with heat_backend(BACKEND_ADDRESS, epmd_port=4370) as started:
        yield started


def _uwsgi_cli(backend: Backend, name: str, module: str, *listen: str,
               processes: int = 2, extra: tuple[str, ...] = ()) -> Service:
    """``uwsgi --module ...`` exactly as typed on a command line."""
    argv = [str(VENV / "bin" / "uwsgi"), "--module", module, *listen,
            "--pyargv", f"--config-file {backend.heat_conf}", "--master",
            "--processes", str(processes), "--threads", "2", "--enable-threads",
            "--need-app", "--die-on-term", "--buffer-size", "65535", *extra]
    proc = process.spawn(name, argv, state_dir=backend.state_dir)
    return Service(name=name, kind="uwsgi", procs=(proc,), address=" ".join(listen),
                   url="", health="", log=str(backend.state_dir / "logs" / f"{name}.log"))


def _start_uwsgi_http(backend: Backend, name: str, module: str, address: str, port: int,
                      **kwargs: object) -> Service:
    process.require_free_ports(name, [(address, port)])
    service = _uwsgi_cli(backend, name, module, "--http-socket", f"{address}:{port}",
                         "--http-chunked-input", "--http-raw-body", **kwargs)  # type: ignore[arg-type]
    try:
        process.wait_for_http(f"http://{address}:{port}/healthcheck", 200, 90, service=name,
                              pid=service.pid, log=service.log)
    except BaseException:
        service.stop()
        raise
    return service


def _start_apache(backend: Backend, name: str, modules: list[str], site_text: str,
                  port: int) -> Service:
    root = backend.state_dir / name
    root.mkdir(exist_ok=True)
    site_file = root / "site.conf"
    site_file.write_text(site_text)
    # The shipped sites carry their own Listen line.
    config = apache.write_main_config(root, modules=modules, includes=[site_file])
    for path in (root, root / "run", root / "logs"):
        path.chmod(0o755)
    return apache.start_apache(config, root, backend.state_dir, name,
                               listen=[(FRONT, port)],
                               health_urls=[f"http://{FRONT}:{port}/healthcheck"],
                               # mod_wsgi builds Heat on the first request: 32 s
                               # at a load average of 20 on 2 cores.
                               timeout=120)


def _shipped(relative: str, backend: Backend, python: str = "", address: str = FRONT) -> str:
    """A shipped sample with only what is site-specific moved: addresses
    onto FRONT, /etc/heat/heat*.conf, /run/heat, /var/log/heat and the
    mod_wsgi script directory into the state dir, the Python home onto this
    venv. Every other line is exactly what we ship."""
    state = backend.state_dir
    text = (REPO / relative).read_text()
    # Each shipped instance names its own /etc/heat/heat-<instance>.conf.
    replaced = (re.sub(r"/etc/heat/heat(-[\w.-]+)?\.conf", str(backend.heat_conf), text)
                .replace("/run/heat/", f"{state}/run/")
                .replace("/var/log/heat/", f"{state}/logs/")
                .replace("/var/www/cgi-bin/heat", f"{state}/wsgi")
                .replace("/var/lib/heat", f"{state}")
                .replace("127.0.0.1:", f"{address}:"))
    replaced = re.sub(r"(?m)^virtualenv = .*$", f"virtualenv = {VENV}", replaced)
    if python:
        replaced = re.sub(r"python-home=\S+", python, replaced)
    return replaced


def _start_shipped_uwsgi(backend: Backend, service: str, address: str = FRONT) -> Service:
    # The socket goes to heat:www-data and uwsgi runs as heat; tests run as
    # root, with no heat user (tests/test_samples_as_copied.py runs a user).
    ini_text = _shipped(f"etc/heat/{service}-uwsgi.ini", backend, address=address).replace(
        "chown-socket = heat:www-data", "chown-socket = root:www-data").replace(
        "\nuid = heat\ngid = heat\n", "\nuid = root\ngid = root\n")
    assert "chown-socket = root:www-data" in ini_text
    assert not re.search(r"(?m)= heat(:|$)", ini_text)
    name = f"uwsgi-{service}-{address}"
    if address != FRONT:  # the Apache fronts expect the socket where it is shipped
        ini_text = (ini_text.replace(f"/run/{service}.sock", f"/run/{name}.sock")
                    .replace(f"/uwsgi-{service}.", f"/{name}."))
    ini = backend.state_dir / f"{name}.ini"
    ini.write_text(ini_text)
    return uwsgi.start_uwsgi(VENV, ini, backend.state_dir, name)


def front_uwsgi_module(backend: Backend) -> tuple[str, list[Service]]:
    service = _start_uwsgi_http(backend, "a-uwsgi", "heat_wsgi.api", FRONT, 18004)
    return f"http://{FRONT}:18004", [service]


def front_mod_wsgi(backend: Backend) -> tuple[str, list[Service]]:
    wsgi_dir = backend.state_dir / "wsgi"
    wsgi_dir.mkdir(exist_ok=True)
    wsgi_dir.chmod(0o755)
    script = wsgi_dir / "heat-api.wsgi"
    script.write_text(_shipped("httpd/files/heat-api.wsgi", backend))
    script.chmod(0o644)
    site = _shipped("httpd/files/heat-api.conf", backend,
                    python=_python_for_www_data(backend.state_dir))
    # The daemon runs as the service user heat, which this machine lacks.
    assert " user=heat group=heat " in site
    site = site.replace(" user=heat group=heat ", " user=www-data group=www-data ")
    # mod_wsgi's daemon sockets go to the private instance's run dir.
    site = f"WSGISocketPrefix {backend.state_dir}/b-mod-wsgi/run/wsgi\n" + site
    service = _start_apache(backend, "b-mod-wsgi", ["wsgi", "alias"], site, 8004)
    return f"http://{FRONT}:8004", [service]


def _python_for_www_data(state_dir: Path) -> str:
    """How mod_wsgi's www-data daemon finds Heat and heat_wsgi.

    Normally the venv itself, as the shipped site does with python-home.
    When the checkout sits below a directory www-data cannot enter (a clone
    under /root), a copy in the state dir stands in: slower, same code.
    """
    if apache.unreadable_for(SITE_PACKAGES) is None and apache.unreadable_for(REPO) is None:
        return f"python-home={VENV}"
    copy = state_dir / "pylib"
    if not copy.exists():
        shutil.copytree(SITE_PACKAGES, copy, symlinks=True)
        shutil.copytree(REPO / "heat_wsgi", copy / "heat_wsgi", dirs_exist_ok=True)
        for editable_hook in copy.glob("__editable__*"):  # would point back at REPO
            editable_hook.unlink()
        for path in [copy, *copy.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    return f"python-path={copy}"


def front_mod_proxy(backend: Backend) -> tuple[str, list[Service]]:
    app = _start_shipped_uwsgi(backend, "heat-api")
    try:
        front = _start_apache(backend, "c-mod-proxy", ["proxy", "proxy_http", "env"],
                              _shipped("httpd/files/uwsgi-heat-api.conf", backend), 8004)
    except BaseException:
        app.stop()
        raise
    return f"http://{FRONT}:8004", [front, app]


def front_mod_proxy_uwsgi(backend: Backend) -> tuple[str, list[Service]]:
    app = _start_shipped_uwsgi(backend, "heat-api")
    try:
        front = _start_apache(backend, "d-mod-proxy-uwsgi", ["proxy", "proxy_uwsgi"],
                              _shipped("httpd/files/uwsgi-uds-heat-api.conf", backend), 8004)
    except BaseException:
        app.stop()
        raise
    return f"http://{FRONT}:8004", [front, app]


WSGIREF_SERVER = """
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server
import heat_wsgi.api
class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass
make_server("{address}", {port}, heat_wsgi.api.application, handler_class=Quiet).serve_forever()
"""


def front_wsgiref(backend: Backend) -> tuple[str, list[Service]]:
    """Any WSGI server: the stdlib's, with an argv full of its own options
    (which must not reach oslo.config) and the config named by environment."""
    code = WSGIREF_SERVER.format(address=FRONT, port=18064)
    env = dict(os.environ, OS_HEAT_CONFIG_FILES=str(backend.heat_conf))
    proc = process.spawn("e-wsgiref", [sys.executable, "-c", code, "--bind", "0.0.0.0:1",
                                       "--workers", "3", "-k", "sync"],
                         state_dir=backend.state_dir, env=env)
    log = backend.state_dir / "logs" / "e-wsgiref.log"
    service = Service(name="e-wsgiref", kind="wsgiref", procs=(proc,),
                      address=f"{FRONT}:18064", url="", health="", log=str(log))
    try:
        process.wait_for_http(f"http://{FRONT}:18064/healthcheck", 200, 90, service="e-wsgiref",
                              pid=proc.pid, log=log)
    except BaseException:
        service.stop()
        raise
    return f"http://{FRONT}:18064", [service]


FRONTS = {
    "uwsgi-module": front_uwsgi_module,
    "apache-mod_wsgi": front_mod_wsgi,
    "apache-mod_proxy": front_mod_proxy,
    "apache-mod_proxy_uwsgi": front_mod_proxy_uwsgi,
    "wsgiref": front_wsgiref,
}


@pytest.fixture(scope="module", params=list(FRONTS))
def front(request: pytest.FixtureRequest, backend: Backend) -> Iterator[str]:
    url, services = FRONTS[request.param](backend)
    try:
        yield url
    finally:
        stop_all(services)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_root_returns_heats_version_document(front: str):
    status, body = _get(front + "/")
    assert status == 300
    versions = json.loads(body)["versions"]
    assert [(v["id"], v["status"]) for v in versions] == [("v1.0", "CURRENT")]


def test_healthcheck_answers_200(front: str):
    assert _get(front + "/healthcheck")[0] == 200


def test_heatclient_creates_reads_and_deletes_a_stack(front: str):
    client = heat_client(front)
    stack_id, output = create_random_string_stack(client)
    assert re.fullmatch(r"[A-Za-z0-9]{16}", output)
    assert stack_id in [s.id for s in client.stacks.list()]
    client.stacks.delete(stack_id)
    wait_deleted(client, stack_id)


@pytest.fixture(scope="module")
def rest_and_cfn(backend: Backend) -> Iterator[tuple[str, str]]:
    rest = _start_uwsgi_http(backend, "rest-api", "heat_wsgi.api", FRONT, 18044)
    try:
        cfn = _start_uwsgi_http(backend, "cfn-api", "heat_wsgi.cfn", FRONT, 18040)
    except BaseException:
        rest.stop()
        raise
    try:
        yield f"http://{FRONT}:18044", f"http://{FRONT}:18040"
    finally:
        stop_all([cfn, rest])


def test_cfn_noauth_flavor_lists_and_describes_with_boto3(rest_and_cfn):
    rest_url, cfn_url = rest_and_cfn
    client = heat_client(rest_url)
    stack_id, output = create_random_string_stack(client, "cfn-visible")
    try:
        # The CFN API lives under /v1, as in a Keystone catalog entry.
        cfn = boto3.client("cloudformation", endpoint_url=cfn_url + "/v1/", region_name="RegionOne",
                           aws_access_key_id="any", aws_secret_access_key="any")
        summaries = cfn.list_stacks()["StackSummaries"]
        assert "cfn-visible" in [s["StackName"] for s in summaries]
        described = cfn.describe_stacks(StackName="cfn-visible")["Stacks"]
        assert len(described) == 1
        assert described[0]["StackStatus"] == "CREATE_COMPLETE"
        assert described[0]["StackId"].endswith(stack_id) or stack_id in described[0]["StackId"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described[0]["Outputs"]}
        assert outputs == {"value": output}
    finally:
        client.stacks.delete(stack_id)
        wait_deleted(client, stack_id)


def test_preloaded_workers_each_serve_concurrent_creates(backend: Backend):
    """The app is built once in the master; each of the 4 forked workers
    renews its AMQP connections and serves creates."""
    service = _start_uwsgi_http(backend, "preload", "heat_wsgi.api", FRONT, 18054,
                                processes=4, extra=("--threads", "1"))
    try:
        client = heat_client(f"http://{FRONT}:18054")
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda i: create_random_string_stack(client, f"pre-{i}"),
                                    range(16)))
        assert len({stack_id for stack_id, _ in results}) == 16
        log = Path(service.log).read_text()
        assert log.count("heat-api built from") == 1, "the app must be built once, in the master"
        forked = set(re.findall(r"worker (\d+) re-initialised after fork: messaging", log))
        assert len(forked) == 4
        served = set(re.findall(r"\[pid: (\d+)\|app: 0\|req: \d+/\d+\] \S+ \(\) "
                                r"\{[^}]*\} \[[^]]*\] POST /v1/admin/stacks", log))
        assert served == forked, "every preloaded worker should have taken creates"
        for stack_id, _ in results:
            client.stacks.delete(stack_id)
        for stack_id, _ in results:
            wait_deleted(client, stack_id)
    finally:
        service.stop()


SHIPPED_INI_PROBES = {
    # service: (path probed on its http-socket, what the real app answers)
    "heat-api": ("/", b'"id": "v1.0"'),
    "heat-api-cfn": ("/v1/?Action=ListStacks", b"<ListStacksResponse"),
    "heat-api-cloudwatch": ("/?Action=ListMetrics&Version=2010-08-01", b"<ListMetricsResponse"),
}


@pytest.mark.parametrize("service", list(SHIPPED_INI_PROBES))
def test_shipped_uwsgi_ini_serves_the_real_app(backend: Backend, service: str):
    """Each etc/heat/*-uwsgi.ini, as shipped but for addresses and paths,
    starts uwsgi serving heat_wsgi's real application on both its sockets."""
    if service == "heat-api-cloudwatch":
        from heat_wsgi import cli
        assert cli.main(["cloudwatch", "db-sync", "--config-file", str(backend.heat_conf)]) == 0
    app = _start_shipped_uwsgi(backend, service, SAMPLES)
    try:
        port = re.search(r"(?m)^http-socket = \S+:(\d+)$",
                         (REPO / f"etc/heat/{service}-uwsgi.ini").read_text()).group(1)  # type: ignore[union-attr]
        path, expected = SHIPPED_INI_PROBES[service]
        status, body = _get(f"http://{SAMPLES}:{port}{path}")
        assert status in (200, 300) and expected in body, body[:300]
        sock = backend.state_dir / "run" / f"uwsgi-{service}-{SAMPLES}.sock"
        assert oct(sock.stat().st_mode & 0o777) == oct(0o660)
        assert process.unix_socket_open(sock)
        assert "re-initialised after fork" in Path(app.log).read_text()
    finally:
        app.stop()
