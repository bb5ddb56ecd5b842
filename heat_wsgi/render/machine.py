"""Per-host files that prepare the machines: the database and broker servers, the run directory."""

from __future__ import annotations

from collections.abc import Iterator

from heat_wsgi.files import RenderedFile
from heat_wsgi.render.broker import RABBITMQ_CONF, RABBITMQ_ENV, broker_files
from heat_wsgi.render.database import MARIADB_DROPIN, database_files
from heat_wsgi.render.hostdirs import TMPFILES_PATH, render_tmpfiles
from heat_wsgi.render.view import HostView

__all__ = ["machine_files", "DEPLOY_ONLY_KINDS"]

#: Kinds only a deployment to real machines uses; ``heat-wsgi up`` runs its
#: own private MariaDB and RabbitMQ and writes none of these.
DEPLOY_ONLY_KINDS = frozenset({"mariadb", "rabbitmq", "sql", "tmpfiles"})


def machine_files(view: HostView) -> Iterator[RenderedFile]:
    """The host's MariaDB and RabbitMQ server files when it serves them, and its tmpfiles.d line."""
    topology, host, index = view.topology, view.host, view.index
    db = database_files(topology, index) if (
        topology.database is not None and topology.database.host == host.name) else None
    if db is not None:
        yield RenderedFile(host=host.name, path=MARIADB_DROPIN, text=db.server_conf, mode=0o644,
                           kind="mariadb", purpose="MariaDB: bind address and max_connections")
        yield RenderedFile(host=host.name, path=db.sql_path, text=db.sql, mode=0o600, kind="sql",
                           purpose="creates Heat's database and account (holds credentials)")
        yield RenderedFile(host=host.name, path=db.client_conf_path, text=db.client_conf,
                           mode=0o600, kind="mariadb", purpose="Heat's database account, to "
                                                               "check it works (holds credentials)")
    bus = broker_files(topology, index) if (
        topology.message_bus is not None and topology.message_bus.host == host.name) else None
    if bus is not None:
        yield RenderedFile(host=host.name, path=RABBITMQ_CONF, text=bus.conf, mode=0o644,
                           kind="rabbitmq", purpose="RabbitMQ: the listener Heat connects to")
        yield RenderedFile(host=host.name, path=RABBITMQ_ENV, text=bus.env, mode=0o644,
                           kind="rabbitmq", purpose="RabbitMQ: node name, distribution on loopback")
    text = render_tmpfiles(topology, host, index)
    if text is not None:
        yield RenderedFile(host=host.name, path=TMPFILES_PATH, text=text, mode=0o644,
                           kind="tmpfiles", purpose="recreates the run directory at boot")
