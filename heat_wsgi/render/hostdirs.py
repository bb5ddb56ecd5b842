"""The directories each host needs, with owner and mode, and a tmpfiles.d file for the run directory."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from heat_wsgi.model import Database, Host, MessageBus, Topology
from heat_wsgi.quoting import tmpfiles_field as f
from heat_wsgi.derive import Index
from heat_wsgi.derive.addresses import is_loopback
from heat_wsgi.derive.layout import TMPFILES_PATH, bootstrap_dir, needs_run_directory
from heat_wsgi.render.common import header

__all__ = ["Directory", "managed_hosts", "host_directories", "bootstrap_dir",
           "render_tmpfiles", "runs_heat", "listen_addresses", "BackendFiles", "backend_host", "TMPFILES_PATH"]



@dataclass(frozen=True, slots=True)
class Directory:
    """One directory a host's files need: created with exactly this owner and mode."""

    path: str
    owner: str
    group: str
    mode: int


def runs_heat(index: Index, name: str) -> bool:
    """Whether host ``name`` runs an API instance or a heat-engine (O(1), unlike
    ``name in index.heat_hosts``)."""
    return name in index.instances_by_host or name in index.engines_by_host


@dataclass(frozen=True, slots=True)
class BackendFiles:
    """What every back-end host's files carry: the host, and where the back end listens."""

    host: str
    address: str
    port: int


def backend_host(index: Index, service: Database | MessageBus | None) -> Host | None:
    """The host ``service`` (the database or the message bus) runs on, or None when it names none."""
    if service is None or service.host is None or service.host not in index.hosts:
        return None
    return index.hosts[service.host]


def listen_addresses(index: Index, host: Host, client_hosts: Iterable[str]) -> list[str]:
    """Where a back end on ``host`` listens: the host's address, plus loopback when the
    host also runs Heat and one of ``client_hosts`` (the hosts its URLs name) is loopback."""
    addresses = [host.address]
    if runs_heat(index, host.name) and any(is_loopback(h) for h in client_hosts) \
            and not is_loopback(host.address):
        addresses.append("127.0.0.1")
    return addresses


def managed_hosts(topology: Topology, index: Index) -> list[str]:
    """Hosts that get files: those running Heat, the proxy, the database, the broker."""
    roles = set(index.heat_hosts)
    for service in (topology.proxy, topology.database, topology.message_bus):
        if service is not None and service.host is not None:
            roles.add(service.host)
    return [name for name in index.hosts if name in roles]


def host_directories(topology: Topology, host: Host, index: Index) -> list[Directory]:
    """Every directory the rendered files of ``host`` expect, parents first.

    System directories (``/etc/systemd/system``, ``/etc/haproxy``, ...) are
    not listed: they belong to their packages and are never touched.
    """
    paths = host.paths
    heat = runs_heat(index, host.name)
    instances = index.instances_by_host.get(host.name, [])
    result: list[Directory] = []
    if heat:
        # The group reads heat.conf (0640 root:heat); the services write only
        # their logs, sockets and home.
        result.append(Directory(paths.config_dir, "root", host.group, 0o750))
        if any(i.uses_uwsgi for i in instances):
            result.append(Directory(f"{paths.config_dir.rstrip('/')}/uwsgi", "root", host.group, 0o750))
        result += [Directory(paths.log_dir, host.user, host.group, 0o750),
                   Directory(paths.state_dir, host.user, host.group, 0o750)]
        if any(i.mode == "mod_wsgi" for i in instances):
            result.append(Directory(paths.wsgi_dir, "root", "root", 0o755))
    db = topology.database
    if db is not None and db.host == host.name:
        if not heat:
            result.append(Directory(paths.config_dir, "root", "root", 0o755))
        result.append(Directory(bootstrap_dir(host), "root", "root", 0o700))
    run = run_directory(topology, host, index)
    if run is not None:
        result.append(run)
    return result


def run_directory(topology: Topology, host: Host, index: Index) -> Directory | None:
    """The run directory, when something on ``host`` puts sockets or pid files there."""
    if not needs_run_directory(topology, host, index):
        return None
    if runs_heat(index, host.name):
        # 0755: Apache's workers reach uwsgi's sockets in it (mod_proxy_uwsgi).
        return Directory(host.paths.run_dir, host.user, host.group, 0o755)
    # HAProxy's admin socket in its default place.
    return Directory(host.paths.run_dir, "root", "root", 0o755)


def render_tmpfiles(topology: Topology, host: Host, index: Index) -> str | None:
    """``tmpfiles.d`` line that recreates the run directory at boot (it lives on a tmpfs)."""
    run = run_directory(topology, host, index)
    if run is None:
        return None
    lines = header("#", topology, f"the run directory of host {host.name!r}, recreated at boot")
    lines.append(" ".join(("d", f(run.path), f"{run.mode:04o}", f(run.owner), f(run.group), "-")))
    return "\n".join(lines) + "\n"
