"""heat_wsgi.engine: a delivery reaching a stopped RPC listener is left for RabbitMQ to requeue.

Runs oslo.messaging's own RpcAMQPListener callback (no broker: the callback
is what acknowledges, so that is what is checked).
"""

from __future__ import annotations

import threading
from typing import Any

from oslo_messaging._drivers import amqpdriver

from heat_wsgi import engine


class Delivery:
    """What the callback touches of a kombu message: acknowledge() and its payload."""

    def __init__(self) -> None:
        self.acked = False
        self.payload: dict[str, Any] = {"_msg_id": "m1", "_reply_q": "reply_x",
                                        "_unique_id": "u1", "method": "list_stacks"}

    def acknowledge(self) -> None:
        self.acked = True


def _listener(stopped: bool) -> Any:
    listener = object.__new__(amqpdriver.RpcAMQPListener)
    listener._shutdown = threading.Event()
    if stopped:
        listener._shutdown.set()
    listener.incoming = []
    return listener


def test_a_stopped_listener_neither_acknowledges_nor_keeps_a_delivery() -> None:
    assert engine.patch_listener() and engine.patch_listener()   # idempotent
    listener, delivery = _listener(stopped=True), Delivery()
    listener(delivery)
    assert delivery.acked is False and listener.incoming == []


def test_a_running_listener_still_acknowledges_on_receipt() -> None:
    engine.patch_listener()
    listener, delivery = _listener(stopped=False), Delivery()
    try:
        listener(delivery)
    except Exception:   # the rest of the callback needs a real listener; the ack comes first
        pass
    assert delivery.acked is True
