"""Where each instance's and host's files, sockets and units are on its host."""

from __future__ import annotations

from dataclasses import dataclass

from heat_wsgi.derive.accounts import broker_accounts, database_account
from heat_wsgi.derive.addresses import is_loopback, is_wildcard
from heat_wsgi.derive.index import Index
from heat_wsgi.model import ApiInstance, Host, ProxyConfig, StatsListener, Topology

__all__ = ["InstanceLayout", "instance_layout", "uwsgi_sockets", "instance_address",
           "heat_conf_path", "instance_heat_conf_path", "engine_unit_name", "engine_unit_path",
           "proxy_address", "stats_address", "MARIADB_DROPIN", "RABBITMQ_CONF", "RABBITMQ_ENV",
           "TMPFILES_PATH", "bootstrap_dir", "database_sql_path", "database_client_conf_path", "serves_database", "serves_broker",
           "needs_run_directory", "machine_file_paths"]

#: Read after Debian's 50-server.cnf, so its bind-address wins.
MARIADB_DROPIN = "/etc/mysql/mariadb.conf.d/99-heat_wsgi.cnf"
RABBITMQ_CONF = "/etc/rabbitmq/rabbitmq.conf"
RABBITMQ_ENV = "/etc/rabbitmq/rabbitmq-env.conf"
#: Where systemd-tmpfiles reads the line that recreates the run directory at boot.
TMPFILES_PATH = "/etc/tmpfiles.d/heat_wsgi.conf"


@dataclass(frozen=True, slots=True)
class InstanceLayout:
    """Where one API instance's files and sockets are on its host."""

    uwsgi_ini: str
    apache_site: str
    wsgi_script: str
    unit_name: str
    unit_file: str
    pidfile: str
    logfile: str
    socket: str | None         # unix socket uwsgi listens on, if any
    http_socket: tuple[str, int] | None   # uwsgi http-socket (address, port)
    front: tuple[str, int]     # what HAProxy connects to
    heat_conf: str             # the instance's own copy of its host's heat.conf
    config_files: tuple[str, ...]   # what ``--config-file`` gets, in order


def instance_address(instance: ApiInstance, host: Host) -> str:
    """The address an instance binds (its own, else its host's)."""
    return instance.address if instance.address is not None else host.address


def heat_conf_path(host: Host) -> str:
    """The host's heat.conf: the one its heat-engines (and heat-manage) read."""
    return f"{host.paths.config_dir.rstrip('/')}/heat.conf"


def instance_heat_conf_path(instance: ApiInstance, host: Host) -> str:
    """An API instance's own heat.conf: ``<config_dir>/heat-<instance>.conf``.

    It sits next to the host's heat.conf on purpose: oslo.config's
    ``find_file`` (api-paste.ini, policy files) searches the directory of
    each ``--config-file`` first, so both files find the same neighbours.
    """
    return f"{host.paths.config_dir.rstrip('/')}/heat-{instance.name}.conf"


def uwsgi_sockets(instance: ApiInstance, host: Host) -> tuple[str | None, tuple[str, int] | None]:
    """Where ``instance``'s uwsgi listens: its unix socket and its ``(address, port)`` http-socket.

    The part of :func:`instance_layout` validation needs for every instance.
    """
    socket = instance.socket
    if instance.mode == "mod_proxy_uwsgi" and socket is None:
        socket = f"{host.paths.run_dir.rstrip('/')}/{instance.name}.sock"
    if instance.mode == "mod_wsgi":
        socket = None
    http_socket: tuple[str, int] | None = None
    if instance.mode == "uwsgi":
        http_socket = (instance_address(instance, host), instance.effective_port)
    elif instance.mode == "mod_proxy":
        # uwsgi stays private to the machine: on loopback, the instance's own
        # loopback address when it has one (several local hosts), else 127.0.0.1.
        address = instance_address(instance, host)
        backend = address if is_loopback(address) else "127.0.0.1"
        http_socket = (backend, instance.effective_backend_port)
    return socket, http_socket


def instance_layout(topology: Topology, instance: ApiInstance, host: Host,
                    index: Index | None = None) -> InstanceLayout:
    """Every path and socket of ``instance`` on ``host``."""
    paths = host.paths
    conf = paths.config_dir.rstrip("/")
    run = paths.run_dir.rstrip("/")
    log = paths.log_dir.rstrip("/")
    name = instance.name
    address = instance_address(instance, host)
    port = instance.effective_port
    socket, http_socket = uwsgi_sockets(instance, host)
    heat_conf = instance_heat_conf_path(instance, host)
    front_address = host.address if is_wildcard(address) else address
    return InstanceLayout(
        uwsgi_ini=f"{conf}/uwsgi/{name}.ini",
        apache_site=f"{paths.apache_site_dir.rstrip('/')}/{name}.conf",
        wsgi_script=f"{paths.wsgi_dir.rstrip('/')}/{name}.wsgi",
        unit_name=f"heat-uwsgi-{name}.service",
        unit_file=f"{paths.systemd_dir.rstrip('/')}/heat-uwsgi-{name}.service",
        pidfile=f"{run}/{name}.pid",
        logfile=f"{log}/{name}.log",
        socket=socket,
        http_socket=http_socket,
        front=(front_address, port),
        heat_conf=heat_conf,
        config_files=(heat_conf,),
    )


def engine_unit_name(number: int) -> str:
    """The systemd unit of a host's ``number``-th heat-engine (from 1)."""
    return f"heat-engine-{number}.service"


def engine_unit_path(host: Host, number: int) -> str:
    """Where that unit goes on ``host``."""
    return f"{host.paths.systemd_dir.rstrip('/')}/{engine_unit_name(number)}"


def proxy_address(proxy: ProxyConfig, proxy_host: Host) -> str:
    """The address the proxy's listeners bind unless they name their own."""
    return proxy.address if proxy.address is not None else proxy_host.address


def stats_address(stats: StatsListener, proxy_host: Host) -> str:
    """Where the stats page binds: its own address, else the proxy host's loopback.

    A host whose address is a loopback one (``heat-wsgi up``) keeps it, so
    several local hosts do not share 127.0.0.1.
    """
    if stats.address is not None:
        return stats.address
    return proxy_host.address if is_loopback(proxy_host.address) else "127.0.0.1"


def bootstrap_dir(host: Host) -> str:
    """Root-only directory for what creates the database and its account."""
    return f"{host.paths.config_dir.rstrip('/')}/bootstrap"


def database_sql_path(host: Host) -> str:
    """The SQL that creates Heat's database and account, on the database host."""
    return f"{bootstrap_dir(host)}/heat-database.sql"


def database_client_conf_path(host: Host) -> str:
    """The client option file of Heat's database account, on the database host."""
    return f"{bootstrap_dir(host)}/heat-database.cnf"


def serves_database(topology: Topology, host: Host) -> bool:
    """Whether ``host`` gets the MariaDB files: it is the database host, and the URL names an account."""
    db = topology.database
    return db is not None and db.host == host.name and database_account(db.url) is not None


def serves_broker(topology: Topology, host: Host) -> bool:
    """Whether ``host`` gets the RabbitMQ files: it is the broker host, and the URL names an account."""
    bus = topology.message_bus
    return bus is not None and bus.host == host.name and bool(broker_accounts(bus.transport_url))


def needs_run_directory(topology: Topology, host: Host, index: Index) -> bool:
    """Whether something on ``host`` puts sockets or pid files in its run directory
    (Heat's services, or HAProxy's admin socket in its default place)."""
    if host.name in index.instances_by_host or host.name in index.engines_by_host:
        return True
    proxy = topology.proxy
    return proxy is not None and proxy.host == host.name and proxy.admin_socket is not None \
        and proxy.admin_socket.path is None


def machine_file_paths(topology: Topology, host: Host, index: Index) -> list[tuple[str, str, str]]:
    """``(path, field, what)`` of the files that prepare ``host``'s servers (MariaDB,
    RabbitMQ, the tmpfiles.d line): what the renderer writes, and what validation
    checks collisions against. ``field`` is what puts the file there."""
    where = f"hosts[{host.name}].paths"
    files: list[tuple[str, str, str]] = []
    if serves_database(topology, host):
        files += [(MARIADB_DROPIN, "database.host", "MariaDB's drop-in"),
                  (database_sql_path(host), f"{where}.config_dir", "the database's SQL"),
                  (database_client_conf_path(host), f"{where}.config_dir",
                   "the database client's option file")]
    if serves_broker(topology, host):
        files += [(RABBITMQ_CONF, "message_bus.host", "rabbitmq.conf"),
                  (RABBITMQ_ENV, "message_bus.host", "rabbitmq-env.conf")]
    if needs_run_directory(topology, host, index):
        files.append((TMPFILES_PATH, f"{where}.run_dir", "the run directory's tmpfiles.d line"))
    return files
