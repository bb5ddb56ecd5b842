"""The Ansible inventory of a topology: groups by role, and per host what to copy and start.

Every host var is data for the playbooks (no templates): the address, the
rendered tree (relative to ``playbook_dir``), each file with its owner,
group and mode, the directories, the units to start with the files each
one depends on, the HAProxy servers of its API instances and their
``/healthcheck`` URLs. Passwords stay out of it: the broker's accounts go to
``host_vars/<host>.yml`` (0600), the database's to its 0600 bootstrap files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from heat_wsgi.derive import Index, instance_layout
from heat_wsgi.derive.addresses import format_host, is_wildcard
from heat_wsgi.derive.layout import engine_unit_name, heat_conf_path
from heat_wsgi.files import RenderedFile, holds_credentials, safe_mode
from heat_wsgi.model import Host, Topology
from heat_wsgi.services import SERVICE_NAMES
from heat_wsgi.render.apache import apache_modules
from heat_wsgi.render.broker import NODE_NAME, RABBITMQ_CONF, RABBITMQ_ENV, broker_files
from heat_wsgi.render.database import MARIADB_DROPIN, database_files
from heat_wsgi.render.haproxy import LISTENER_NAMES, admin_socket_path
from heat_wsgi.render.broker import BrokerFiles
from heat_wsgi.render.database import DatabaseFiles
from heat_wsgi.render.hostdirs import host_directories, managed_hosts, runs_heat

__all__ = ["GROUPS", "SERVICE_GROUPS", "build_inventory", "broker_host_vars"]

#: Service groups, by heat_wsgi service name.
SERVICE_GROUPS = {"api": "heat_api", "cfn": "heat_api_cfn", "cloudwatch": "heat_api_cloudwatch"}
#: Every group, in the order the playbooks use them; ``heat`` is any host running Heat.
GROUPS = ("database", "message_bus", "proxy", "api", "engine", "heat", *SERVICE_GROUPS.values())

Vars = dict[str, Any]


def _mode(mode: int) -> str:
    return f"{mode:04o}"


def _file_entries(host: Host, files: list[RenderedFile], skip: set[str]) -> list[Vars]:
    """The files to copy, grouped by owner, group, mode and whether they hold credentials."""
    groups: dict[tuple[str, str, int, bool], list[RenderedFile]] = {}
    for item in files:
        if item.path in skip:
            continue
        secret = holds_credentials(item)
        # The writer's safe_mode: 0640 or tighter for anything holding credentials.
        mode = item.mode & 0o777 & (0o640 if secret else 0o777)
        # heat.conf: readable by the services' group, by nobody else.
        group = host.group if item.kind == "heat.conf" else "root"
        groups.setdefault(("root", group, mode, secret), []).append(item)
    # sha1: what library/heat_wsgi_files compares, in the order of paths.
    return [{"owner": owner, "group": group, "mode": _mode(mode), "secret": secret,
             "paths": [i.path for i in items],
             "sha1": [hashlib.sha1(i.text.encode("utf-8")).hexdigest() for i in items]}
            for (owner, group, mode, secret), items in sorted(groups.items())]


def _health_uri(topology: Topology) -> str:
    return topology.proxy.health_check.uri if topology.proxy is not None else "/healthcheck"


def _api_vars(topology: Topology, host: Host, index: Index) -> Vars:
    servers: list[Vars] = []
    urls: list[str] = []
    units: list[Vars] = []
    apache_files: list[str] = []
    modules: set[str] = set()
    sites: list[str] = []
    listened = {l.service for l in topology.proxy.listeners} if topology.proxy else set()
    uri = _health_uri(topology)
    instances = sorted(index.instances_by_host.get(host.name, []),
                       key=lambda i: (SERVICE_NAMES.index(i.service), i.name))
    for instance in instances:
        layout = instance_layout(topology, instance, host, index)
        if instance.service in listened:
            servers.append({"backend": LISTENER_NAMES[instance.service], "server": instance.name})
        address, port = layout.front
        urls.append(f"http://{format_host(address)}:{port}{uri}")
        if instance.uses_uwsgi:
            units.append({"name": layout.unit_name, "stage": "api", "on_change": "restarted",
                          "files": [layout.unit_file, layout.uwsgi_ini, layout.heat_conf]})
        if instance.uses_apache:
            modules.update(m for m in apache_modules(instance) if m not in ("authz_core", "log_config"))
            sites.append(PurePosixPath(layout.apache_site).stem)
            apache_files.append(layout.apache_site)
            if instance.mode == "mod_wsgi":
                apache_files += [layout.wsgi_script, layout.heat_conf]
    if apache_files:
        units.append({"name": "apache2.service", "stage": "api", "on_change": "reloaded",
                      "files": apache_files})
    result: Vars = {"heat_wsgi_units": units, "heat_wsgi_haproxy_servers": servers,
                    "heat_wsgi_healthchecks": urls}
    if sites:
        result["heat_wsgi_apache_modules"] = sorted(modules)
        result["heat_wsgi_apache_sites"] = sites
    return result


def _host_vars(topology: Topology, host: Host, index: Index, files: list[RenderedFile],
               db: DatabaseFiles | None, bus: BrokerFiles | None) -> Vars:
    heat = runs_heat(index, host.name)
    proxy = topology.proxy
    is_proxy = proxy is not None and proxy.host == host.name
    skip = {host.paths.haproxy_config} if is_proxy else set()
    result: Vars = {"ansible_host": host.address, "heat_wsgi_tree": f"../{host.name}"}
    units: list[Vars] = []
    packages: list[str] = []
    if db is not None and db.host == host.name:
        units.append({"name": "mariadb.service", "stage": "database", "on_change": "restarted",
                      "files": [MARIADB_DROPIN]})
        result["heat_wsgi_database"] = {"address": db.address, "port": db.port,
                                        "check_conf": db.client_conf_path, "sql": db.sql_path}
        packages.append("mariadb-server")
    if bus is not None and bus.host == host.name:
        units.append({"name": "rabbitmq-server.service", "stage": "message_bus",
                      "on_change": "restarted", "files": [RABBITMQ_CONF, RABBITMQ_ENV]})
        result["heat_wsgi_rabbitmq"] = {"node": NODE_NAME, "address": bus.address, "port": bus.port}
        packages.append("rabbitmq-server")
    if heat:
        paths = host.paths
        result.update({
            "heat_wsgi_user": host.user, "heat_wsgi_group": host.group,
            "heat_wsgi_home": paths.state_dir, "heat_wsgi_bin_dir": paths.bin_dir,
            "heat_wsgi_heat_conf": heat_conf_path(host)})
        if paths.venv is not None:
            result["heat_wsgi_venv"] = paths.venv
        packages.append("python3-venv")
        for group in index.engines_by_host.get(host.name, []):
            for number in range(1, group.processes + 1):
                unit = engine_unit_name(number)
                units.append({"name": unit, "stage": "engine", "on_change": "restarted",
                              "files": [f"{paths.systemd_dir.rstrip('/')}/{unit}",
                                        heat_conf_path(host)]})
        if host.name in index.instances_by_host:
            api = _api_vars(topology, host, index)
            units += api.pop("heat_wsgi_units")
            result.update(api)
            if "heat_wsgi_apache_sites" in api:
                packages.append("apache2")
    if is_proxy and proxy is not None:
        units.append({"name": "haproxy.service", "stage": "proxy", "on_change": "reloaded",
                      "files": [host.paths.haproxy_config]})
        result["heat_wsgi_haproxy_config"] = {
            "src": host.paths.haproxy_config.lstrip("/"), "dest": host.paths.haproxy_config,
            "owner": "root", "group": "root", "mode": "0644"}
        socket = admin_socket_path(proxy, host)
        if socket is not None:
            result["heat_wsgi_haproxy_socket"] = socket
        result["heat_wsgi_proxy_urls"] = _proxy_urls(topology, host)
        packages.append("haproxy")
    result["heat_wsgi_files"] = _file_entries(host, files, skip)
    result["heat_wsgi_directories"] = [
        {"path": d.path, "owner": d.owner, "group": d.group, "mode": _mode(d.mode)}
        for d in host_directories(topology, host, index)]
    result["heat_wsgi_units"] = units
    result["heat_wsgi_apt_packages"] = packages
    return result


def _proxy_urls(topology: Topology, host: Host) -> list[str]:
    proxy = topology.proxy
    if proxy is None:
        return []
    scheme = "https" if proxy.tls else "http"
    bind = proxy.address if proxy.address is not None else host.address
    urls = []
    for listener in sorted(proxy.listeners, key=lambda l: SERVICE_NAMES.index(l.service)):
        address = listener.address if listener.address is not None else bind
        if is_wildcard(address):
            address = host.address
        urls.append(f"{scheme}://{format_host(address)}:{listener.effective_port}"
                    f"{proxy.health_check.uri}")
    return urls


def _members(topology: Topology, index: Index, names: list[str], db: DatabaseFiles | None,
             bus: BrokerFiles | None) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {group: [] for group in GROUPS}
    for name in names:
        if db is not None and db.host == name:
            groups["database"].append(name)
        if bus is not None and bus.host == name:
            groups["message_bus"].append(name)
        if topology.proxy is not None and topology.proxy.host == name:
            groups["proxy"].append(name)
        instances = index.instances_by_host.get(name, [])
        if instances:
            groups["api"].append(name)
        for service in SERVICE_NAMES:
            if any(i.service == service for i in instances):
                groups[SERVICE_GROUPS[service]].append(name)
        if name in index.engines_by_host:
            groups["engine"].append(name)
        if runs_heat(index, name):
            groups["heat"].append(name)
    return groups


def build_inventory(topology: Topology, index: Index,
                    files: Mapping[PurePosixPath, RenderedFile]) -> dict[str, Any]:
    """The inventory document: ``all`` with its vars, hosts and child groups."""
    names = managed_hosts(topology, index)
    by_host: dict[str, list[RenderedFile]] = {name: [] for name in names}
    for item in files.values():
        if item.host is not None and item.host in by_host:
            by_host[item.host].append(item)
    db, bus = database_files(topology, index), broker_files(topology, index)
    hosts = {name: _host_vars(topology, index.hosts[name], index, by_host[name], db, bus)
             for name in names}
    all_vars: Vars = {
        "heat_wsgi_topology": topology.name,
        # false: copy changed files but leave running units alone (then run
        # rolling-restart.yml); true: restart what depends on a changed file.
        "heat_wsgi_restart": True,
        # true: also install the OS packages and the virtualenv (tag: install).
        "heat_wsgi_install": False,
        # What pip installs into paths.venv, and how: e.g. a pinned
        # "heat_wsgi[heat]==0.1.0" with "-c <OpenStack's upper-constraints>",
        # or "--find-links DIR" for wheels built from a checkout.
        "heat_wsgi_pip_packages": ["heat_wsgi[heat]"],
        "heat_wsgi_pip_extra_args": "",
        "heat_wsgi_cloudwatch": any(i.service == "cloudwatch" for i in topology.api_instances),
    }
    if topology.proxy is not None:
        all_vars["heat_wsgi_proxy_host"] = topology.proxy.host
    children: dict[str, Vars] = {group: ({"hosts": {name: {} for name in members}} if members else {})
                for group, members in _members(topology, index, names, db, bus).items()}
    return {"all": {"vars": all_vars, "hosts": hosts, "children": children}}


def broker_host_vars(topology: Topology, index: Index) -> tuple[str, Vars] | None:
    """(host, vars) with the broker's accounts, kept out of inventory.yml."""
    bus = broker_files(topology, index)
    if bus is None:
        return None
    accounts = []
    for account in bus.accounts:
        entry = {"user": account.user, "password": account.password, "vhost": account.vhost}
        if entry not in accounts:
            accounts.append(entry)
    return bus.host, {"heat_wsgi_rabbitmq_accounts": accounts}
