"""The uwsgi API tiers bench/peers.py compares: heat_wsgi's and three peers', as facts.

Each peer's settings below are copied, as facts, from the file cited next to
them (repository, path, commit read). Only what the benchmark must change
is changed, and each change says why: the address (127.0.0.61-69 here), the
config file (the same heat.conf for every tier, via ``pyargv``), file
locations (a private state directory), and what needs a container or a
user this machine does not have (``uid``, ``plugins-dir``, ``static-map``).

The number of processes is each peer's own rule evaluated at the cores this
benchmark may use: the same CPU budget for all, which is what each tool
would render on a host of this size.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from heat_wsgi.model import ApiInstance, Host, Paths, Topology
from heat_wsgi.derive import build_index, instance_layout
from heat_wsgi.render.uwsgi import uwsgi_lines

PORT = 18460          # every tier's HTTP port, each on its own address
ROUTER_PORT = 18461   # kolla's uwsgi-protocol socket behind its HTTP router
STATS_PORT = 18462    # openstack-helm's stats server

KOLLA = ("openstack/kolla-ansible", "1a681814eb19a4840ca307a25f21b2907b432272")
OSA_ROLE = ("openstack/ansible-role-uwsgi", "398d4c3ef6e62b20e0ab358bcc644d3f253a647a")
OSA_HEAT = ("openstack/openstack-ansible-os_heat", "4c051376b2acbbfed4de4de507205d3fa652507b")
HELM = ("openstack/openstack-helm", "0ee5adeffcaefb6f7a78bb23bf845414672e6827")

Lines = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Tier:
    """One API tier: a uwsgi ini and what the benchmark needs to know of it."""

    key: str
    label: str
    address: str
    processes: int
    threads: int
    lines: Lines
    sources: tuple[str, ...]   # "repo@commit:path", the files the settings come from
    router: bool = False       # an HTTP router process in front of the workers
    heat_wsgi: bool = False    # heat_wsgi's own tier (the one measured against the peers)

    @property
    def children(self) -> int:
        """Processes the uwsgi master forks: workers, plus the router if any."""
        return self.processes + (1 if self.router else 0)

    @property
    def base_url(self) -> str:
        return f"http://{self.address}:{PORT}"

    def ini_text(self) -> str:
        return "[uwsgi]\n" + "".join(f"{key} = {value}\n" for key, value in self.lines)


def _cite(repo: tuple[str, str], path: str) -> str:
    return f"{repo[0]}@{repo[1][:12]}:{path}"


@dataclass(frozen=True, slots=True)
class Where:
    """What is the benchmark's, not the peer's: files and the shared heat.conf."""

    state: Path
    heat_conf: Path
    # The cores every tier runs on; empty: all this process may use (the
    # back end and the clients then share them with the tiers).
    api_cpus: tuple[int, ...] = ()

    def log(self, key: str) -> str:
        return str(self.state / "logs" / f"tier-{key}.log")

    def pidfile(self, key: str) -> str:
        return str(self.state / "run" / f"tier-{key}.pid")

    @property
    def pyargv(self) -> str:
        return f"--config-file {self.heat_conf}"


def heat_wsgi_tier(where: Where, address: str, *, processes: int | None = None,
                   threads: int | None = None, listen: int | None = None,
                   key: str = "heat_wsgi") -> Tier:
    """heat_wsgi's tier: the ini its renderer writes for a default ``ApiInstance``
    (processes and threads from the model, unless given) on one host."""
    instance = ApiInstance(name=f"bench-{key}", service="api", host="bench", port=PORT)
    if processes is not None:
        instance = replace(instance, processes=processes)
    if threads is not None:
        instance = replace(instance, threads=threads)
    state = str(where.state)
    host = Host(name="bench", address=address,
                paths=Paths(config_dir=f"{state}/etc", log_dir=f"{state}/logs",
                            run_dir=f"{state}/run", venv=sys.prefix))
    topology = Topology(hosts=(host,), api_instances=(instance,))
    layout = instance_layout(topology, instance, host, build_index(topology))
    lines = []
    for name, value in uwsgi_lines(topology, instance, host, layout):
        if name == "pyargv":
            value = where.pyargv  # the heat.conf every tier serves
        elif name == "logto":
            value = where.log(key)
        lines.append((name, value))
    if listen is not None:
        lines.append(("listen", str(listen)))
    label = f"heat_wsgi {instance.processes}x{instance.threads}"
    if listen is not None:
        label += f" listen {listen}"
    return Tier(key=key, label=label, address=address, processes=instance.processes,
                threads=instance.threads, lines=tuple(lines),
                sources=("heat_wsgi/render/uwsgi.py (this checkout)",), heat_wsgi=True)


def kolla_tier(where: Where, address: str, cores: int) -> Tier:
    # kolla-ansible: ansible/roles/service-uwsgi-config/templates/uwsgi.ini.j2,
    # as ansible/roles/heat/tasks/config.yml includes it for heat-api with
    # service_uwsgi_config_workers = heat_api_workers (roles/heat/defaults/
    # main.yml) = openstack_service_workers (group_vars/all/common.yml)
    # = min(processor_vcpus, 5); threads left unset (uwsgi's default, 1);
    # worker-reload-mercy = service_uwsgi_config_worker_timeout = 80
    # (roles/service-uwsgi-config/defaults/main.yml).
    processes = min(cores, 5)
    lines: Lines = (
        ("add-header", "Connection: close"),
        ("buffer-size", "65535"),
        ("die-on-term", "true"),
        ("enable-threads", "true"),
        ("exit-on-reload", "false"),
        ("hook-master-start", "unix_signal:15 gracefully_kill_them_all"),
        ("http", f"{address}:{PORT}"),
        ("http-auto-chunked", "true"),
        ("http-chunked-input", "true"),
        ("http-raw-body", "true"),
        ("lazy-apps", "true"),
        ("logto2", where.log("kolla")),
        ("master", "true"),
        ("module", "heat.wsgi.api:application"),
        # plugins-dir/plugins = python3: the pip-built uwsgi has Python built in.
        ("processes", str(processes)),
        # Left out, kolla's http router binds its workers' socket on
        # 127.0.0.1 with a port picked by the kernel; the same socket, on
        # this benchmark's address.
        ("socket", f"{address}:{ROUTER_PORT}"),
        ("socket-timeout", "30"),
        ("thunder-lock", "true"),
        # uid = heat: no such user here.
        ("worker-reload-mercy", "80"),
        # static-map = /static=...: a container path, and no static files in Heat.
        ("pyargv", where.pyargv),
    )
    return Tier(key="kolla", label="kolla-ansible", address=address, processes=processes,
                threads=1, lines=lines, router=True, sources=(
                    _cite(KOLLA, "ansible/roles/service-uwsgi-config/templates/uwsgi.ini.j2"),
                    _cite(KOLLA, "ansible/roles/heat/tasks/config.yml"),
                    _cite(KOLLA, "ansible/group_vars/all/common.yml")))


def osa_tier(where: Where, address: str, cores: int) -> Tier:
    # openstack-ansible: ansible-role-uwsgi templates/uwsgi.ini.j2, fed by
    # os_heat vars/main.yml (heat_uwsgi_services) with uwsgi_processes =
    # heat_wsgi_processes = min(max(processor_vcpus, 1) * 2, 16) and
    # uwsgi_threads = heat_wsgi_threads = 1 (os_heat defaults/main.yml),
    # wsgi = heat.wsgi.api:application, a source install in a venv.
    processes = min(max(cores, 1) * 2, 16)
    lines: Lines = (
        # uid/gid = heat: no such user here.
        ("virtualenv", sys.prefix),
        ("wsgi", "heat.wsgi.api:application"),
        ("http-socket", f"{address}:{PORT}"),
        ("master", "true"),
        ("enable-threads", "true"),
        ("processes", str(processes)),
        ("threads", "1"),
        ("exit-on-reload", "true"),
        ("die-on-term", "true"),
        ("lazy-apps", "true"),
        ("add-header", "Connection: close"),
        ("buffer-size", "65535"),
        ("thunder-lock", "true"),
        ("disable-logging", "true"),
        ("http-auto-chunked", "true"),
        ("http-raw-body", "true"),
        ("socket-timeout", "10"),
        ("need-app", "true"),
        ("env", "REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt"),  # vars/debian.yml
        ("safe-pidfile", where.pidfile("osa")),
        ("log-x-forwarded-for", "true"),
        ("route-user-agent", "^osa-haproxy-healthcheck$ donotlog:"),
        ("ignore-sigpipe", "true"),
        ("ignore-write-errors", "true"),
        ("disable-write-exception", "true"),
        ("pyargv", where.pyargv),
    )
    return Tier(key="osa", label="openstack-ansible", address=address, processes=processes,
                threads=1, lines=lines, sources=(
                    _cite(OSA_ROLE, "templates/uwsgi.ini.j2"),
                    _cite(OSA_HEAT, "defaults/main.yml"),
                    _cite(OSA_HEAT, "vars/main.yml")))


def helm_tier(where: Where, address: str, cores: int) -> Tier:
    # openstack-helm: heat/values.yaml conf.heat_api_uwsgi.uwsgi, rendered
    # by heat/templates/configmap-etc.yaml, which sets processes from
    # conf.heat.heat_api.workers (1 in values.yaml) and http-socket to
    # 0.0.0.0:<api port>; threads unset (1); replicas.api = 1 pod.
    del cores  # helm's rule does not look at the host: one worker per pod
    processes = 1
    lines: Lines = (
        ("add-header", "Connection: close"),
        ("buffer-size", "65535"),
        ("die-on-term", "true"),
        ("enable-threads", "true"),
        ("exit-on-reload", "false"),
        ("hook-master-start", "unix_signal:15 gracefully_kill_them_all"),
        ("lazy-apps", "true"),
        ("log-x-forwarded-for", "true"),
        ("master", "true"),
        ("procname-prefix-spaced", "heat-api:"),
        ("route-user-agent", "^kube-probe.* donotlog:"),
        ("thunder-lock", "true"),
        ("worker-reload-mercy", "80"),
        ("module", "heat.wsgi.api:application"),
        # stats = 0.0.0.0:1717, on this benchmark's address instead.
        ("stats", f"{address}:{STATS_PORT}"),
        ("stats-http", "true"),
        ("processes", str(processes)),
        ("http-socket", f"{address}:{PORT}"),
        ("pyargv", where.pyargv),
    )
    return Tier(key="helm", label="openstack-helm", address=address, processes=processes,
                threads=1, lines=lines, sources=(
                    _cite(HELM, "heat/values.yaml"),
                    _cite(HELM, "heat/templates/configmap-etc.yaml")))


def peer_tiers(where: Where, addresses: Sequence[str], cores: int) -> list[Tier]:
    """The three peers, on the first three of ``addresses``."""
    builders = (kolla_tier, osa_tier, helm_tier)
    return [build(where, address, cores) for build, address in zip(builders, addresses)]


def ports(tier: Tier) -> list[tuple[str, int]]:
    """Every TCP port ``tier`` binds, to check they are free first."""
    found = [(tier.address, PORT)]
    if tier.router:
        found.append((tier.address, ROUTER_PORT))
    if any(key == "stats" for key, _ in tier.lines):
        found.append((tier.address, STATS_PORT))
    return found
