"""``python -m heat_wsgi.engine --config-file heat.conf``: heat-engine that loses no RPC call when it stops.

Measured under load (``heat-wsgi restart`` of one engine, engine logs with
``oslo_messaging=DEBUG``): oslo.messaging's RabbitMQ driver acknowledges an
RPC request in the consumer callback, the moment it is read from the socket,
and only then queues it for dispatch. On stop it ends its polling thread but
does not cancel the consumers, so RabbitMQ keeps delivering to them (the
prefetch is unlimited by default). When the listener's connection closes
it first deletes the server's fanout queue; waiting for ``queue.delete-ok``
reads those deliveries, the callback acknowledges them, and nothing
dispatches them any more. The callers wait ``rpc_response_timeout`` in vain
(``received message msg_id: X`` right after ``Deleting fanout queue``, and
no ``Receive incoming message with id X``). This happens on every graceful
stop, whatever the shutdown timeout.

The fix here: a delivery that arrives once its listener has stopped is not
acknowledged and not queued. The broker requeues it when the channel closes
a moment later, and another engine serves it. Everything else is Heat's own
``heat-engine`` (:func:`heat.cmd.engine.main`), unchanged.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["patch_listener", "main"]


def patch_listener() -> bool:
    """Make oslo.messaging's RabbitMQ RPC listener leave late deliveries unacknowledged.

    Idempotent; False (nothing changed) when the driver has no such listener.
    """
    from oslo_messaging._drivers import amqpdriver

    listener: Any = getattr(amqpdriver, "RpcAMQPListener", None)
    if listener is None:
        return False
    if getattr(listener.__call__, "heat_wsgi_patched", False):
        return True
    original = listener.__call__

    def __call__(self: Any, message: Any) -> None:
        stopped = getattr(self, "_shutdown", None)
        if stopped is not None and stopped.is_set():
            # Stopped: nothing would dispatch it. Left unacknowledged,
            # RabbitMQ requeues it when this channel closes.
            return
        original(self, message)

    setattr(__call__, "heat_wsgi_patched", True)
    listener.__call__ = __call__
    return True


def main() -> None:
    """Heat's heat-engine (arguments as given), with :func:`patch_listener` applied."""
    # Heat's module picks oslo.service's backend on import: import it first.
    from heat.cmd import engine

    patch_listener()
    sys.argv[0] = "heat-engine"
    engine.main()


if __name__ == "__main__":
    main()
