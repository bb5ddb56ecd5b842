"""The broker host's files: RabbitMQ's listener, and the accounts the transport URL names.

``rabbitmq.conf`` makes RabbitMQ listen on the broker host's address (and
loopback when the host also runs Heat with a loopback URL);
``rabbitmq-env.conf`` names the node ``rabbit@localhost`` and keeps Erlang
distribution on loopback, so ``rabbitmqctl`` works whatever the machine's
host name resolves to. The accounts (user, password, vhost) are handed to
the deployment, which creates them with ``rabbitmqctl``.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from heat_wsgi.model import Topology
from heat_wsgi.quoting import shell_env
from heat_wsgi.derive import Index
from heat_wsgi.derive.accounts import BROKER_PORT as DEFAULT_PORT
from heat_wsgi.derive.accounts import BrokerAccount, broker_accounts
from heat_wsgi.derive.addresses import format_host, split_hostport
from heat_wsgi.derive.layout import RABBITMQ_CONF, RABBITMQ_ENV
from heat_wsgi.render.common import header
from heat_wsgi.render.hostdirs import BackendFiles, backend_host, listen_addresses

__all__ = ["BrokerAccount", "BrokerFiles", "broker_accounts", "broker_files", "RABBITMQ_CONF",
           "RABBITMQ_ENV", "NODE_NAME", "DEFAULT_PORT"]

NODE_NAME = "rabbit@localhost"


@dataclass(frozen=True, slots=True)
class BrokerFiles(BackendFiles):
    """rabbitmq.conf and rabbitmq-env.conf for the broker host, and its accounts."""

    conf: str
    env: str
    accounts: tuple[BrokerAccount, ...]


def broker_files(topology: Topology, index: Index) -> BrokerFiles | None:
    """The broker host's files, or None when the topology names no broker host."""
    bus = topology.message_bus
    host = backend_host(index, bus)
    if bus is None or host is None:
        return None
    accounts = tuple(broker_accounts(bus.transport_url))
    if not accounts:
        return None
    port = accounts[0].port
    listen = listen_addresses(index, host, (a.host for a in accounts))
    # rabbitmq.conf (cuttlefish) values run to the end of the line; addresses
    # and ports are validated, so they are written as they are.
    conf = header("#", topology, f"RabbitMQ listener for Heat on {host.name!r}")
    conf += [f"listeners.tcp.{n} = {format_host(address)}:{port}"
             for n, address in enumerate(listen, start=1)]
    conf.append("loopback_users.guest = true")
    if bus.heartbeat_timeout is not None:
        # The server's proposal; client and server settle on the smaller one,
        # so clients that propose none get it too.
        conf.append(f"heartbeat = {bus.heartbeat_timeout}")
    env = header("#", topology, f"RabbitMQ node settings on {host.name!r}")
    env += [f"NODENAME={shell_env(NODE_NAME)}",
            "SERVER_ADDITIONAL_ERL_ARGS=" + shell_env("-kernel inet_dist_use_interface {127,0,0,1}")]
    return BrokerFiles(host=host.name, conf="\n".join(conf) + "\n", env="\n".join(env) + "\n",
                       accounts=accounts, address=host.address, port=port)
