"""Move a topology onto this machine: loopback addresses, files in a state dir.

``heat-wsgi up`` runs every "host" of a topology on one machine. Each host
keeps its own config directory (so each gets its own heat.conf, as on real
machines), logs and sockets go to the state dir, addresses that are not
loopback become 127.0.0.x, and the database and message bus URLs point at
the private MariaDB and RabbitMQ that ``up`` starts. Pure: the caller reads
the base heat.conf and says which virtualenv to run from.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from heat_wsgi.derive.addresses import is_loopback
from heat_wsgi.local.keystone import KEYSTONE_PORT, KeystoneAccounts, keystone_settings
from heat_wsgi.model import (AdminSocket, ApiInstance, ConfOption, Database, EngineGroup,
                             HealthCheck, Host, Listener, MessageBus, Paths, ProxyConfig,
                             ProxyLog, Topology)
from heat_wsgi.services import SERVICE_NAMES, ServiceName

REPO_HEAT_CONF = Path(__file__).resolve().parents[2] / "etc" / "heat" / "heat.conf"
SHIPPED_PASTE = Path(__file__).resolve().parents[1] / "data" / "api-paste.ini"

# The keystone-less settings Heat 27 needs (notes §6); used as the base
# heat.conf when the checkout's etc/heat/heat.conf is not around (installed
# package), and forced on top of any topology's base config by `up`.
KEYSTONELESS: tuple[tuple[str, str, str], ...] = (
    ("DEFAULT", "keystone_backend",
     "heat.engine.clients.os.keystone.fake_keystoneclient.FakeKeystoneClient"),
    ("DEFAULT", "deferred_auth_method", "password"),
    ("paste_deploy", "flavor", "noauth"),
    ("oslo_policy", "enforce_new_defaults", "False"),
)
# Forced by `up`: oslo.service's default, stated. It was 5 s, which cut an
# engine's stop short (each of its three RPC servers may take 5 s to notice
# it) and lost the work it held; `heat-wsgi restart` waits 75 s (rolling.py).
UP_ONLY: tuple[tuple[str, str, str], ...] = (
    ("DEFAULT", "graceful_shutdown_timeout", "60"),
)
FALLBACK_BASE = """[DEFAULT]
host = heat-local-1
transport_url = rabbit://guest:guest@127.0.0.1:5672/

[database]
connection = sqlite:////var/lib/heat/heat.sqlite

[paste_deploy]
flavor = noauth
"""

RETRY_ON = "conn-failure empty-response response-timeout"
DB_USER, DB_PASSWORD, DB_NAME, DB_PORT = "heat", "heat", "heat", 3306
RABBIT_PORT, RABBIT_DIST_PORT, EPMD_PORT = 5672, 25672, 4369


def default_topology(*, engines_per_host: int = 2, cloudwatch: bool = True,
                     base_config: str = FALLBACK_BASE) -> Topology:
    """The scaling guide's sample (machines A, B, C) with A, B, C on 127.0.0.1-3.

    A (``controller``) runs HAProxy, MariaDB and RabbitMQ; B and C
    (``node-2``, ``node-3``) each run one instance of every API service
    (without ``cloudwatch``: all but CloudWatch) under uwsgi and
    ``engines_per_host`` heat-engines. ``base_config`` is the base heat.conf
    (``heat-wsgi up`` gives the checkout's ``etc/heat/heat.conf``).
    """
    services: tuple[ServiceName, ...] = tuple(
        s for s in SERVICE_NAMES if cloudwatch or s != "cloudwatch")
    nodes = ("node-2", "node-3")
    return Topology(
        name="heat-wsgi-up",
        hosts=(Host(name="controller", address="127.0.0.1"),
               Host(name="node-2", address="127.0.0.2"),
               Host(name="node-3", address="127.0.0.3")),
        database=Database(url=f"mysql+pymysql://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{DB_PORT}/"
                              f"{DB_NAME}?charset=utf8mb4", host="controller",
                          max_connections=1000),
        message_bus=MessageBus(transport_url=f"rabbit://guest:guest@127.0.0.1:{RABBIT_PORT}/",
                               host="controller"),
        api_instances=tuple(ApiInstance(name=f"{service}-{node}", service=service, host=node)
                            for node in nodes for service in services),
        engines=tuple(EngineGroup(host=node, processes=engines_per_host) for node in nodes),
        proxy=ProxyConfig(host="controller",
                          listeners=tuple(Listener(service=s) for s in services),
                          health_check=HealthCheck(inter="1s", fall=2, rise=2)),
        base_config=base_config,
    )


class Endpoint(NamedTuple):
    """Where ``up`` runs a shared service: host name, address and port."""

    host: str
    address: str
    port: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalPlan:
    """A topology rewritten for this machine, plus where MariaDB and RabbitMQ go."""

    topology: Topology
    database: Endpoint
    message_bus: Endpoint
    db_url: str
    transport_url: str
    venv: Path
    state_dir: Path
    #: the Keystone ``up --keystone`` runs (on the database's host), else None
    keystone: KeystoneAccounts | None = None


def _loopback_map(topology: Topology) -> dict[str, str]:
    """Host name -> loopback address: kept when loopback, else the next free 127.0.0.x."""
    taken = {h.address for h in topology.hosts if is_loopback(h.address)}
    mapping: dict[str, str] = {}
    by_address: dict[str, str] = {}
    counter = 1
    for host in topology.hosts:
        if is_loopback(host.address):
            # A name such as localhost becomes the address it stands for.
            mapping[host.name] = host.address if host.address[:1].isdigit() or ":" in host.address \
                else "127.0.0.1"
            continue
        if host.address in by_address:  # two names for one machine stay together
            mapping[host.name] = by_address[host.address]
            continue
        while f"127.0.0.{counter}" in taken:
            counter += 1
        mapping[host.name] = by_address[host.address] = f"127.0.0.{counter}"
        taken.add(mapping[host.name])
    return mapping


def _local(address: str | None, fallback: str) -> str | None:
    if address is None:
        return None
    return address if is_loopback(address) else fallback


def host_paths(state_dir: Path, host: str, venv: Path) -> Paths:
    root = state_dir / "hosts" / host
    return Paths(config_dir=str(root / "etc" / "heat"), log_dir=str(state_dir / "logs"),
                 run_dir=str(state_dir / "run"), venv=str(venv), wsgi_dir=str(root / "wsgi"),
                 apache_site_dir=str(root / "apache" / "sites"),
                 systemd_dir=str(root / "systemd"),
                 haproxy_config=str(root / "haproxy" / "haproxy.cfg"))


def _url_port(url: str, default: int) -> int:
    try:
        return urllib.parse.urlsplit(url.split(",")[0]).port or default
    except ValueError:
        return default


def localize(topology: Topology, state_dir: Path, venv: Path, *,
             keystone: bool = False) -> LocalPlan:
    """``topology`` as ``up`` runs it on this machine, from ``venv`` (see the module docstring).

    :param keystone: run a real Keystone on the database's host (port
        5000) and set heat.conf up for it (:mod:`heat_wsgi.local.keystone`)
        instead of the keystone-less settings.
    """
    state_dir = state_dir.absolute()
    venv = venv.absolute()
    addresses = _loopback_map(topology)
    hosts = tuple(dataclasses.replace(h, address=addresses[h.name],
                                      paths=host_paths(state_dir, h.name, venv))
                  for h in topology.hosts)
    instances = tuple(dataclasses.replace(i, address=_local(i.address, addresses.get(i.host, "")))
                      for i in topology.api_instances)
    first = topology.hosts[0].name if topology.hosts else "localhost"
    proxy = topology.proxy
    if proxy is not None:
        proxy_address = addresses.get(proxy.host, "127.0.0.1")
        proxy = dataclasses.replace(
            proxy, address=_local(proxy.address, proxy_address),
            # An instance that stops drops the connections still queued in
            # its listen backlog; retrying those elsewhere keeps clients whole.
            retry_on=proxy.retry_on or RETRY_ON,
            # `heat-wsgi status` reads this socket; haproxy runs in the
            # foreground with its output in a log file, and there is no /dev/log.
            admin_socket=AdminSocket(path=str(state_dir / "run" / "haproxy.sock")),
            log=ProxyLog(target="stdout", health_checks=proxy.log.health_checks)
            if proxy.log is not None else None,
            listeners=tuple(dataclasses.replace(l, address=_local(l.address, proxy_address))
                            for l in proxy.listeners),
            stats=(dataclasses.replace(proxy.stats, address=_local(proxy.stats.address,
                                                                   proxy_address))
                   if proxy.stats else None))
    db_host = (topology.database.host if topology.database and topology.database.host
               else (proxy.host if proxy else first))
    bus_host = (topology.message_bus.host if topology.message_bus and topology.message_bus.host
                else db_host)
    db_port = _url_port(topology.database.url, DB_PORT) if topology.database else DB_PORT
    bus_port = (_url_port(topology.message_bus.transport_url, RABBIT_PORT)
                if topology.message_bus else RABBIT_PORT)
    db = Endpoint(host=db_host, address=addresses.get(db_host, "127.0.0.1"), port=db_port)
    bus = Endpoint(host=bus_host, address=addresses.get(bus_host, "127.0.0.1"), port=bus_port)
    db_url = (f"mysql+pymysql://{DB_USER}:{DB_PASSWORD}@{db.address}:{db.port}/{DB_NAME}"
              "?charset=utf8mb4")
    transport_url = f"rabbit://guest:guest@{bus.address}:{bus.port}/"
    cfn = next((l for l in (proxy.listeners if proxy else ()) if l.service == "cfn"), None)
    accounts = KeystoneAccounts(address=db.address, port=KEYSTONE_PORT) if keystone else None
    auth = keystone_settings(accounts) if accounts is not None else KEYSTONELESS
    conf = [ConfOption(section=s, key=k, value=v) for s, k, v in auth + UP_ONLY]
    conf.append(ConfOption(section="paste_deploy", key="api_paste_config",
                           value=str(SHIPPED_PASTE)))
    if proxy is not None and cfn is not None:
        cfn_url = f"http://{cfn.address or proxy.address or '127.0.0.1'}:{cfn.effective_port}"
        conf += [ConfOption(section="DEFAULT", key="heat_metadata_server_url", value=cfn_url),
                 ConfOption(section="DEFAULT", key="heat_waitcondition_server_url",
                            value=f"{cfn_url}/v1/waitcondition")]
    keys = {(c.section, c.key) for c in conf}
    heat_conf = tuple(c for c in topology.heat_conf if (c.section, c.key) not in keys) + tuple(conf)
    localized = dataclasses.replace(
        topology, hosts=hosts, api_instances=instances, proxy=proxy, heat_conf=heat_conf,
        database=Database(url=db_url, host=db_host, max_connections=1000,
                          pool_size=topology.database.pool_size if topology.database else None,
                          max_overflow=(topology.database.max_overflow
                                        if topology.database else None)),
        message_bus=MessageBus(transport_url=transport_url, host=bus_host,
                               options=topology.message_bus.options
                               if topology.message_bus else ()))
    return LocalPlan(topology=localized, database=db, message_bus=bus, db_url=db_url,
                     transport_url=transport_url, venv=venv, state_dir=state_dir,
                     keystone=accounts)
