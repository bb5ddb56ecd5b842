"""Per-host files that prepare the machines: the database and broker servers, the run directory."""

from __future__ import annotations

from heat_wsgi.model import Topology
from heat_wsgi.render import RenderedFile
from heat_wsgi.render.broker import RABBITMQ_CONF, RABBITMQ_ENV, broker_files
from heat_wsgi.render.common import Index
from heat_wsgi.render.database import MARIADB_DROPIN, database_files
from heat_wsgi.render.hostdirs import TMPFILES_PATH, managed_hosts, render_tmpfiles

__all__ = ["machine_files", "DEPLOY_ONLY_KINDS"]

#: Kinds only a deployment to real machines uses; ``heat-wsgi up`` runs its
#: own private MariaDB and RabbitMQ and writes none of these.
DEPLOY_ONLY_KINDS = frozenset({"mariadb", "rabbitmq", "sql", "tmpfiles"})


def machine_files(topology: Topology, index: Index) -> list[RenderedFile]:
    """The database host's and broker host's server files, and each host's tmpfiles.d line."""
    files: list[RenderedFile] = []
    db = database_files(topology, index)
    if db is not None:
        files += [
            RenderedFile(host=db.host, path=MARIADB_DROPIN, text=db.server_conf, mode=0o644,
                         kind="mariadb", purpose="MariaDB: bind address and max_connections"),
            RenderedFile(host=db.host, path=db.sql_path, text=db.sql, mode=0o600, kind="sql",
                         purpose="creates Heat's database and account (holds credentials)"),
            RenderedFile(host=db.host, path=db.client_conf_path, text=db.client_conf, mode=0o600,
                         kind="mariadb", purpose="Heat's database account, to check it works "
                                                 "(holds credentials)"),
        ]
    bus = broker_files(topology, index)
    if bus is not None:
        files += [
            RenderedFile(host=bus.host, path=RABBITMQ_CONF, text=bus.conf, mode=0o644,
                         kind="rabbitmq", purpose="RabbitMQ: the listener Heat connects to"),
            RenderedFile(host=bus.host, path=RABBITMQ_ENV, text=bus.env, mode=0o644,
                         kind="rabbitmq", purpose="RabbitMQ: node name, distribution on loopback"),
        ]
    for name in managed_hosts(topology, index):
        text = render_tmpfiles(topology, index.hosts[name], index)
        if text is not None:
            files.append(RenderedFile(host=name, path=TMPFILES_PATH, text=text, mode=0o644,
                                      kind="tmpfiles", purpose="recreates the run directory at boot"))
    return files
