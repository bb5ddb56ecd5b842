"""The shipped samples, copied the way doc/users-and-directories.rst says.

What a user does, under a private prefix instead of ``/``: the ``install``
commands of the page (directories, heat.conf, the uwsgi ini files, the
``.wsgi`` scripts) are run with the prefix and an unprivileged user put in,
and every copied file gets exactly the substitutions the page's "Values to
edit" table names (paths, addresses, the user), nothing else. heat.conf
gets the edits the page names (broker, database, host).

Then one Apache serves all nine sites (three modes on their own address,
three APIs each), next to three uwsgi started as root from the shipped ini
files (each serving mod_proxy and mod_proxy_uwsgi); one MariaDB, RabbitMQ
and heat-engine serve them all. For each of the nine: python-heatclient
creates and deletes a stack (REST), boto3's CloudFormation client creates,
describes and deletes one (CFN), and botocore's CloudWatch client puts and
lists metrics (CloudWatch). uwsgi and the mod_wsgi daemons must run as the
unprivileged user.

Addresses: 127.0.0.90 (MariaDB 3306, RabbitMQ 5672, epmd 4390), Apache on
127.0.0.91 (mod_wsgi), .92 (mod_proxy, with uwsgi's http-sockets) and .93
(mod_proxy_uwsgi).
"""

from __future__ import annotations

import json
import os
import grp
import pwd
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from heat_wsgi.cw.client import query_client
from heat_wsgi.demo import cfn_client
from heat_wsgi.runtime import apache, process, uwsgi
from heat_wsgi.runtime.service import Service, stop_all

from conftest import REPO, VENV, reachable_dir, wait_until
from realstack import Backend, heat_backend, heat_client, wait_deleted, wait_for_status, \
    RANDOM_STRING_TEMPLATE

pytestmark = pytest.mark.real

DOC = REPO / "doc" / "users-and-directories.rst"
BACKEND = "127.0.0.90"
ADDRESSES = {"mod_wsgi": "127.0.0.91", "mod_proxy": "127.0.0.92", "mod_proxy_uwsgi": "127.0.0.93"}
PROGRAMS = {"api": "heat-api", "cfn": "heat-api-cfn", "cloudwatch": "heat-api-cloudwatch"}
PORTS = {"api": 8004, "cfn": 8000, "cloudwatch": 8003}
# An unprivileged account every Debian machine has, standing in for "heat"
# (the test adds no user to the machine it runs on).
USER, GROUP = "nobody", "nogroup"
SITE_PACKAGES = Path(VENV) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" \
    / "site-packages"


def documented_values() -> list[str]:
    """The first column of the page's "Values to edit" table."""
    text = DOC.read_text()
    table = text.split(".. _sample-values:", 1)[1].split("\nThe user and group\n", 1)[0]
    return re.findall(r"(?m)^   \* - ``([^`]+)``$", table)


@dataclass(frozen=True)
class Prefix:
    """Where the user's / is, and the virtualenv that stands in for /opt/heat.

    On this project's machine the checkout's venv comes from pyenv's Python
    3.11.7 while Debian's mod_wsgi embeds /usr/bin/python3 (3.11.2), and the
    uwsgi binary links pyenv's libpython: a user has one Python for both, the
    test needs a venv on each base. ``venv`` serves uwsgi, ``wsgi_venv``
    mod_wsgi (the sites' ``python-home``); both hold the same packages.
    """

    root: Path
    venv: Path
    wsgi_venv: Path

    def substitutions(self, address: str) -> dict[str, list[tuple[str, str]]]:
        """Documented value -> the (pattern, replacement) edits it makes."""
        r = str(self.root)
        return {
            "/opt/heat": [("python-home=/opt/heat", f"python-home={self.wsgi_venv}"),
                          ("/opt/heat", str(self.venv))],
            "/etc/heat": [("/etc/heat", f"{r}/etc/heat")],
            "/var/log/heat": [("/var/log/heat", f"{r}/var/log/heat")],
            "/run/heat": [("/run/heat", f"{r}/run/heat")],
            "/var/lib/heat": [("/var/lib/heat", f"{r}/var/lib/heat")],
            "/var/www/cgi-bin/heat": [("/var/www/cgi-bin/heat", f"{r}/var/www/cgi-bin/heat")],
            "127.0.0.1": [("127.0.0.1:", f"{address}:")],
            # The user, where the page says it appears (not every "heat" is it).
            "heat": [(r"(?m)^uid = heat$", f"uid = {USER}"), (r"(?m)^gid = heat$", f"gid = {GROUP}"),
                     ("chown-socket = heat:", f"chown-socket = {USER}:"),
                     (" user=heat group=heat ", f" user={USER} group={GROUP} "),
                     (r"(?<=-o )heat\b", USER), (r"(?<=-g )heat\b", GROUP)],
            # Apache's group on Debian, kept (apache on Red Hat).
            "www-data": [],
        }

    def edit(self, text: str, address: str) -> str:
        for edits in self.substitutions(address).values():
            for pattern, replacement in edits:
                if pattern.startswith(("(?", "(?<")):
                    text = re.sub(pattern, replacement, text)
                else:
                    text = text.replace(pattern, replacement)
        return text

    def edit_file(self, path: Path, address: str) -> None:
        """``sed -i`` the documented values of a copied file; nothing else changes."""
        text = self.edit(path.read_text(), address)
        # Comments may name system paths (where the file goes); settings may not.
        rest = "\n".join(line for line in text.replace(str(self.root), "<prefix>").splitlines()
                         if not line.lstrip().startswith("#"))
        left = re.findall(r"(?<![\w>/.-])/(?:opt|etc|var|run)/\S*|127\.0\.0\.1\b", rest)
        assert not left, f"{path}: {left} left after the documented edits"
        path.write_text(text)


def _link_tree(source: Path, target: Path, ignore: Any = None) -> None:
    """A copy of ``source`` that ``USER`` can read: hard links (same file
    system, instant) or copies; directories made 0755. Files are not
    chmodded (a hard link shares its mode with the original)."""
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    shutil.copytree(source, target, symlinks=True, copy_function=link, ignore=ignore,
                    dirs_exist_ok=True)
    for path in [target, *target.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)


def _site_packages(root: Path) -> Path:
    """This checkout's packages where ``USER`` can read them."""
    if apache.unreadable_for(SITE_PACKAGES, USER) is None \
            and apache.unreadable_for(REPO, USER) is None:
        return SITE_PACKAGES
    packages = root / "site-packages"
    _link_tree(SITE_PACKAGES, packages)
    _link_tree(REPO / "heat_wsgi", packages / "heat_wsgi")
    for editable_hook in packages.glob("__editable__*"):  # would point back at REPO
        editable_hook.unlink()
    return packages


def _readable_base(root: Path) -> Path:
    """The Python this venv was made from (``sys.base_prefix``), readable by
    ``USER``: itself, or a hard-linked copy of its stdlib when it sits under
    a mode-700 directory (pyenv under /root)."""
    lib = f"python{sys.version_info.major}.{sys.version_info.minor}"
    base = Path(sys.base_prefix)
    if apache.unreadable_for(base / "lib" / lib, USER) is None:
        return base
    copy = root / "python"
    _link_tree(base / "lib" / lib, copy / "lib" / lib,
               shutil.ignore_patterns("site-packages", "test", "__pycache__", "idlelib",
                                      "tkinter", "turtledemo"))
    (copy / "lib" / lib / "site-packages").mkdir(exist_ok=True)
    (copy / "bin").mkdir(parents=True, exist_ok=True)
    return copy


def _user_venv(venv: Path, base: Path, packages: Path) -> Path:
    """A virtualenv made from the Python at ``base``, holding ``packages``:
    what ``python3 -m venv /opt/heat; pip install heat_wsgi[heat]`` gives."""
    lib = f"python{sys.version_info.major}.{sys.version_info.minor}"
    own = venv / "lib" / lib / "site-packages"
    own.mkdir(parents=True)
    (venv / "bin").mkdir()
    (venv / "bin" / "uwsgi").symlink_to(VENV / "bin" / "uwsgi")
    (venv / "pyvenv.cfg").write_text(f"home = {base}/bin\ninclude-system-site-packages = false\n")
    # addsitedir, not a bare path: the .pth files there (heat_wsgi's editable
    # install) must be processed too.
    (own / "heat-wsgi-test.pth").write_text(f"import site; site.addsitedir({str(packages)!r})\n")
    for path in [venv.parent, venv, *venv.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    return venv


def _documented_installs(prefix: Prefix) -> list[str]:
    """The page's ``install`` commands, with the documented edits."""
    commands = re.findall(r"(?m)^    (install .*)$", DOC.read_text())
    assert len(commands) >= 8, commands
    return [prefix.edit(command, ADDRESSES["mod_proxy"]) for command in commands]


@dataclass
class Deployment:
    prefix: Prefix
    backend: Backend
    apache: Service
    uwsgi: dict[str, Service]


def _proc_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid in /proc/{pid}/status")


def _apache_main_config(prefix: Prefix, sites: list[Path]) -> Path:
    """The private Apache's own main config (not a sample): modules the
    sites' headers name, mod_wsgi's sockets inside the prefix."""
    server_root = prefix.root / "apache"
    server_root.mkdir()
    extra = server_root / "wsgi-sockets.conf"
    extra.write_text(f"WSGISocketPrefix {server_root}/run/wsgi\n")
    config = apache.write_main_config(
        server_root, modules=["wsgi", "alias", "proxy", "proxy_http", "proxy_uwsgi", "env"],
        includes=[extra, *sites])
    for path in (server_root, server_root / "run", server_root / "logs"):
        path.chmod(0o755)
    return config


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    started = time.monotonic()
    assert sorted(documented_values()) == sorted(Prefix(Path("/x"), Path("/y"), Path("/z"))
                                                 .substitutions("a")), \
        "the test edits exactly the values the page lists"
    root = reachable_dir("heat-wsgi-samples-")
    services: list[Service] = []
    backend_dirs: list[Path] = []   # heat_backend leaves its state dir behind
    try:
        with heat_backend(BACKEND, epmd_port=4390, engine_workers=2,
                          prefix="heat-wsgi-samples-backend-") as backend:
            backend_dirs.append(backend.state_dir)
            print(f"\nback end up in {time.monotonic() - started:.1f} s")
            packages = _site_packages(root)
            # Not under <root>/opt/heat: "/opt/heat" must not occur in what replaces it.
            prefix = Prefix(root, _user_venv(root / "venvs" / "uwsgi", _readable_base(root), packages),
                            _user_venv(root / "venvs" / "mod_wsgi", Path("/usr"), packages))
            for command in _documented_installs(prefix):
                subprocess.run(command, shell=True, check=True, cwd=REPO)
            # heat.conf: the edits the page names (broker, database, host).
            conf = root / "etc" / "heat" / "heat.conf"
            shipped = (REPO / "etc" / "heat" / "heat.conf").read_text()
            edited = backend.heat_conf.read_text()
            changed = [line for line in edited.splitlines() if line not in shipped.splitlines()]
            assert sorted(k.split(" =")[0] for k in changed) == ["connection", "host", "transport_url"]
            conf.write_text(edited)
            assert (conf.stat().st_mode & 0o777, grp.getgrgid(conf.stat().st_gid).gr_name) \
                == (0o640, GROUP)
            from heat_wsgi import cli
            assert cli.main(["cloudwatch", "db-sync", "--config-file", str(conf)]) == 0

            etc = root / "etc" / "heat"
            for program in PROGRAMS.values():
                prefix.edit_file(etc / f"{program}-uwsgi.ini", ADDRESSES["mod_proxy"])
                prefix.edit_file(root / "var" / "www" / "cgi-bin" / "heat" / f"{program}.wsgi",
                                 ADDRESSES["mod_wsgi"])
            sites_dir = root / "etc" / "apache2" / "sites-available"
            sites_dir.mkdir(parents=True)
            sites = []
            for mode, pattern in (("mod_wsgi", "{}.conf"), ("mod_proxy", "uwsgi-{}.conf"),
                                  ("mod_proxy_uwsgi", "uwsgi-uds-{}.conf")):
                for program in PROGRAMS.values():
                    site = sites_dir / pattern.format(program)
                    shutil.copy(REPO / "httpd" / "files" / site.name, site)
                    prefix.edit_file(site, ADDRESSES[mode])
                    sites.append(site)

            print(f"files in place in {time.monotonic() - started:.1f} s")
            # uwsgi as the page says: started as root, one per API. Apache
            # starts meanwhile: its mod_wsgi daemons boot Heat while uwsgi
            # does, and its proxy sites answer 200 once uwsgi is up.
            def start(program: str) -> Service:
                return uwsgi.start_uwsgi(prefix.venv, etc / f"{program}-uwsgi.ini", root,
                                         f"uwsgi-{program}", timeout=240)

            def start_web() -> Service:
                return apache.start_apache(
                    _apache_main_config(prefix, sites), root / "apache", root, "apache-samples",
                    listen=[(a, p) for a in ADDRESSES.values() for p in PORTS.values()],
                    health_urls=[f"http://{a}:{p}/healthcheck" for a in ADDRESSES.values()
                                 for p in PORTS.values()],
                    site_logs=[root / "var" / "log" / "heat" / f"{p}-apache-error.log"
                               for p in PROGRAMS.values()], timeout=240)
            with ThreadPoolExecutor(max_workers=4) as pool:
                futures = [pool.submit(start, p) for p in PROGRAMS.values()]
                futures.append(pool.submit(start_web))
                errors = []
                for future in futures:  # every one, so that each started one is stopped
                    try:
                        services.append(future.result())
                    except Exception as exc:
                        errors.append(exc)
                if errors:
                    raise errors[0]
            web = services[-1]
            print(f"\nsamples deployment up in {time.monotonic() - started:.1f} s")
            yield Deployment(prefix, backend, web, dict(zip(PROGRAMS, services[:3])))
    finally:
        stop_all(list(reversed(services)))
        for path in [root, *backend_dirs]:
            shutil.rmtree(path, ignore_errors=True)


def test_the_page_names_every_value_the_test_edits() -> None:
    values = documented_values()
    assert "/opt/heat" in values and "heat" in values and "www-data" in values


def test_uwsgi_and_mod_wsgi_run_as_the_unprivileged_user(deployment: Deployment) -> None:
    uid = pwd.getpwnam(USER).pw_uid
    for service in deployment.uwsgi.values():
        workers = process.children(service.pid)
        assert workers, service.name
        assert {_proc_uid(pid) for pid in {service.pid, *workers}} == {uid}, service.name
    daemons = [pid for pid in process.children(deployment.apache.pid)
               if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"(wsgi:")]
    # heat-api 2 + heat-api-cfn 2 + heat-api-cloudwatch 1 daemon processes.
    assert len(daemons) == 5, daemons
    assert {_proc_uid(pid) for pid in daemons} == {uid}
    home = deployment.prefix.root / "var" / "lib" / "heat"
    assert {os.readlink(f"/proc/{pid}/cwd") for pid in daemons} == {str(home)}


COMBINATIONS = [(mode, service) for mode in ADDRESSES for service in PROGRAMS]


def _api(address: str) -> None:
    client = heat_client(f"http://{address}:{PORTS['api']}")
    created = client.stacks.create(stack_name=f"samples-{uuid.uuid4().hex[:8]}",
                                   template=RANDOM_STRING_TEMPLATE)
    stack_id = created["stack"]["id"]
    wait_for_status(client, stack_id, "CREATE_COMPLETE")
    value = client.stacks.output_show(stack_id, "value")["output"]["output_value"]
    assert re.fullmatch(r"[A-Za-z0-9]{16}", value)
    client.stacks.delete(stack_id)
    wait_deleted(client, stack_id)


CFN_TEMPLATE = json.dumps({
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {"Secret": {"Type": "OS::Heat::RandomString"}},
    "Outputs": {"Value": {"Value": {"Fn::GetAtt": ["Secret", "value"]}}}})


def _cfn(address: str) -> None:
    client = cfn_client(f"http://{address}:{PORTS['cfn']}/v1/")
    name = f"samples-cfn-{uuid.uuid4().hex[:8]}"
    client.create_stack(StackName=name, TemplateBody=CFN_TEMPLATE)

    def settled() -> Any:
        stack = client.describe_stacks(StackName=name)["Stacks"][0]
        return None if stack["StackStatus"].endswith("IN_PROGRESS") else stack
    stack = wait_until(settled, 120, f"CFN stack {name} settles", interval=0.3)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    assert len({o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["Value"]) == 32
    client.delete_stack(StackName=name)

    def gone() -> str | None:
        try:
            status = str(client.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])
        except ClientError as exc:
            # Heat forgets a deleted stack's name: "The Stack (...) could not be found."
            assert "could not be found" in str(exc), exc
            return "gone"
        assert status != "DELETE_FAILED", status
        return status if status == "DELETE_COMPLETE" else None
    wait_until(gone, 120, f"CFN stack {name} deleted", interval=0.3)


def _cloudwatch(address: str, data_dir: Path) -> None:
    client = query_client(f"http://{address}:{PORTS['cloudwatch']}/", data_dir)
    namespace = f"Samples/{uuid.uuid4().hex[:8]}"
    client.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Load", "Value": 42.0, "Unit": "Percent",
         "Dimensions": [{"Name": "Host", "Value": address}]}])
    metrics = client.list_metrics(Namespace=namespace)["Metrics"]
    assert [(m["MetricName"], m["Dimensions"]) for m in metrics] == \
        [("Load", [{"Name": "Host", "Value": address}])]


@pytest.mark.parametrize(("mode", "service"), COMBINATIONS,
                         ids=[f"{m}-{s}" for m, s in COMBINATIONS])
def test_a_real_client_is_served(deployment: Deployment, mode: str, service: str,
                                 tmp_path: Path) -> None:
    address = ADDRESSES[mode]
    if service == "api":
        _api(address)
    elif service == "cfn":
        _cfn(address)
    else:
        _cloudwatch(address, tmp_path)
    # Through the mode's own path: mod_wsgi's requests never reach uwsgi's log.
    logs = deployment.prefix.root / "var" / "log" / "heat"
    site = {"mod_wsgi": "", "mod_proxy": "uwsgi-", "mod_proxy_uwsgi": "uwsgi-uds-"}[mode]
    access = (logs / f"{site}{PROGRAMS[service]}-apache-access.log").read_text()
    assert re.search(r'"(GET|POST) /', access), access[-500:]


def test_a_heat_conf_the_user_cannot_read_is_named_with_the_user(deployment: Deployment) -> None:
    """The one deliberate mistake: heat.conf left root-only (0600). uwsgi,
    run as the service user, says who cannot read which file."""
    root = deployment.prefix.root
    secret = root / "etc" / "heat" / "heat-root-only.conf"
    shutil.copy(root / "etc" / "heat" / "heat.conf", secret)
    secret.chmod(0o600)
    text = (root / "etc" / "heat" / "heat-api-cfn-uwsgi.ini").read_text()
    text = text.replace(f"--config-file {root}/etc/heat/heat.conf", f"--config-file {secret}")
    text = text.replace(f"{ADDRESSES['mod_proxy']}:", "127.0.0.94:")
    log = root / "var" / "log" / "heat" / "root-only.log"
    # Its own address, socket, pid file and log, beside the running instance.
    text = (text.replace("/heat-api-cfn.sock", "/root-only.sock")
            .replace("/uwsgi-heat-api-cfn.pid", "/root-only.pid")
            .replace("/uwsgi-heat-api-cfn.log", "/root-only.log"))
    ini = root / "etc" / "heat" / "root-only.ini"
    ini.write_text(text)
    proc = process.spawn("uwsgi-root-only", [str(deployment.prefix.venv / "bin" / "uwsgi"),
                                             "--ini", str(ini)], state_dir=root)
    try:
        wanted = f"config file(s) not readable by user {USER} (uid {pwd.getpwnam(USER).pw_uid}"
        wait_until(lambda: log.is_file() and wanted in log.read_text(), 120,
                   f"{wanted!r} in {log}")
        assert f"{secret}" in log.read_text()
    finally:
        process.stop_proc(proc)
