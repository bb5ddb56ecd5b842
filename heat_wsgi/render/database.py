"""The database host's files: a MariaDB drop-in, and what creates Heat's database and account.

The account comes from ``database.url`` (``mysql+pymysql://USER:PASSWORD@HOST:PORT/NAME``):

* ``99-heat_wsgi.cnf`` in MariaDB's ``mariadb.conf.d``: the bind address (the
  database host's address, plus loopback when the host also runs Heat with a
  loopback URL), ``max_connections`` from the model, and TCP keepalive
  settings from ``database.dead_client_within``;
* ``<config_dir>/bootstrap/heat-database.sql`` (0600): ``CREATE DATABASE IF
  NOT EXISTS``, ``CREATE USER IF NOT EXISTS``, ``ALTER USER`` (so a changed
  password is applied) and ``GRANT``: running it again changes nothing;
* ``<config_dir>/bootstrap/heat-database.cnf`` (0600): a client option file
  with the account, so a deployment can first check that the account works
  and run the SQL only when it does not.
"""

from __future__ import annotations

from dataclasses import dataclass

from heat_wsgi.model import Topology
from heat_wsgi.quoting import mysql_option as o
from heat_wsgi.quoting import sql_identifier, sql_string
from heat_wsgi.derive import Index
from heat_wsgi.derive.accounts import DATABASE_PORT as DEFAULT_PORT
from heat_wsgi.derive.accounts import DatabaseAccount, database_account
from heat_wsgi.derive.addresses import url_hosts
from heat_wsgi.render.common import header
from heat_wsgi.derive.layout import MARIADB_DROPIN, database_client_conf_path, database_sql_path
from heat_wsgi.render.hostdirs import BackendFiles, backend_host, listen_addresses

__all__ = ["DatabaseAccount", "DatabaseFiles", "database_account", "database_files", "keepalive",
           "MARIADB_DROPIN", "DEFAULT_PORT"]



@dataclass(frozen=True, slots=True)
class DatabaseFiles(BackendFiles):
    """The three texts, and where they go on the database host."""

    server_conf: str
    sql_path: str
    sql: str
    client_conf_path: str
    client_conf: str


def keepalive(within: int) -> tuple[int, int, int]:
    """MariaDB's tcp_keepalive_time, _interval and _probes that drop a silent client
    exactly ``within`` seconds (at least 8) after its last packet: three probes a
    sixth of it apart end it, the first one sent after the other half."""
    interval = max(1, within // 6)
    return within - 3 * interval, interval, 3


def database_files(topology: Topology, index: Index) -> DatabaseFiles | None:
    """The database host's files, or None when heat_wsgi does not set the database up."""
    db = topology.database
    host = backend_host(index, db)
    if db is None or host is None:
        return None
    account = database_account(db.url)
    if account is None:
        return None
    binds = listen_addresses(index, host, url_hosts(db.url))
    server = header("#", topology, f"MariaDB settings for Heat's database on {host.name!r}")
    server += ["[mysqld]", f"bind-address = {o(','.join(binds))}", f"port = {account.port}",
               # The account is granted to '%': a reverse lookup of each
               # connecting engine buys nothing, and a slow resolver would
               # stall every new connection.
               "skip-name-resolve"]
    if db.max_connections is not None:
        server.append(f"max_connections = {db.max_connections}")
    if db.dead_client_within is not None:
        time, interval, probes = keepalive(db.dead_client_within)
        # A powered-off client sends no FIN: without probes its session, and
        # the row locks of its open transaction, outlive it by hours.
        server += [f"tcp_keepalive_time = {time}", f"tcp_keepalive_interval = {interval}",
                   f"tcp_keepalive_probes = {probes}"]
    user = sql_string(account.user)
    password = sql_string(account.password)
    # In GRANT, '_' and '%' in a database name are wildcards: escape them.
    grant_db = sql_identifier(account.database.replace("\\", "\\\\").replace("_", "\\_")
                              .replace("%", "\\%"))
    sql = header("--", topology, f"Heat's database and account on {host.name!r} (safe to rerun)")
    sql += [f"CREATE DATABASE IF NOT EXISTS {sql_identifier(account.database)};",
            f"CREATE USER IF NOT EXISTS {user}@'%' IDENTIFIED BY {password};",
            f"ALTER USER {user}@'%' IDENTIFIED BY {password};",
            f"GRANT ALL PRIVILEGES ON {grant_db}.* TO {user}@'%';"]
    client = header("#", topology, f"Heat's database account, to check that it works on {host.name!r}")
    # [mysql] is read by the mariadb client only; `database` would upset other tools.
    client += ["[mysql]", f"user = {o(account.user)}", f"password = {o(account.password)}",
               f"host = {o(host.address)}", f"port = {account.port}",
               f"database = {o(account.database)}"]
    return DatabaseFiles(
        host=host.name, server_conf="\n".join(server) + "\n",
        sql_path=database_sql_path(host), sql="\n".join(sql) + "\n",
        client_conf_path=database_client_conf_path(host), client_conf="\n".join(client) + "\n",
        address=host.address, port=account.port)
