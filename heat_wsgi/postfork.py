"""What each uwsgi worker re-initialises after it is forked from the master.

Under uwsgi without ``lazy-apps`` the application is built once, in the
master, and the workers are forked from it. Anything holding a socket or a
thread must then be made fresh in each worker: an AMQP connection or a DB
connection shared by two processes interleaves their bytes on one stream.
Components register a hook here; uwsgi calls them in every new worker.

``uwsgidecorators`` imports the ``uwsgi`` module, which exists only inside
the uwsgi binary, so it is imported only when we are running there.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

LOG = logging.getLogger(__name__)

Hook = Callable[[], object]

_hooks: list[tuple[str, Hook]] = []
_installed = False


def running_under_uwsgi() -> bool:
    return "uwsgi" in sys.modules or _try_import_uwsgi()


def _try_import_uwsgi() -> bool:
    try:
        import uwsgi  # noqa: F401  (only importable inside the uwsgi binary)
    except ImportError:
        return False
    return True


def preloaded_by_uwsgi_master() -> bool:
    """True when this code runs in a uwsgi master that will fork workers
    from it, i.e. uwsgi without lazy-apps."""
    if not running_under_uwsgi():
        return False
    import uwsgi
    lazy = uwsgi.opt.get("lazy-apps") or uwsgi.opt.get("lazy")
    return not lazy and os.getpid() == uwsgi.masterpid()


def register(name: str, hook: Hook) -> None:
    """Run ``hook`` in each worker after the fork. Registering the same name
    twice keeps the first hook: two services booted in one process share
    the same global transports."""
    if all(existing != name for existing, _ in _hooks):
        _hooks.append((name, hook))


def run_hooks() -> list[str]:
    """Run every registered hook; return the names that ran. A failing hook
    is logged and does not stop the others: a worker that cannot reset one
    pool should still reset the rest."""
    ran = []
    for name, hook in _hooks:
        try:
            hook()
        except Exception:  # noqa: BLE001 - reported, never fatal for the worker
            LOG.exception("heat_wsgi: post-fork hook %s failed", name)
            continue
        ran.append(name)
    LOG.info("heat_wsgi: worker %d re-initialised after fork: %s",
             os.getpid(), ", ".join(ran) or "nothing to do")
    return ran


def install() -> None:
    """Hook :func:`run_hooks` into uwsgi's post-fork chain, once."""
    global _installed
    if _installed or not running_under_uwsgi():
        return
    try:
        import uwsgidecorators
    except Exception:  # noqa: BLE001 - it raises a bare Exception without a master
        # uwsgidecorators refuses to import when uwsgi runs without
        # ``master``. Workers are still forked then, so hook the same
        # per-worker callback uwsgidecorators itself would set.
        import uwsgi
        uwsgi.post_fork_hook = run_hooks
    else:
        uwsgidecorators.postfork(run_hooks)
    _installed = True


def reset_messaging_transports() -> None:
    """Give this worker its own AMQP connections.

    The master builds the oslo.messaging transports at boot but never sends
    anything, so their pools are normally empty when the workers fork. If
    something in the master did open a connection, the worker drops its
    inherited copy without closing it: a protocol-level close would tear
    down the connection for the process that owns it.
    """
    from heat.common import messaging

    for transport in (messaging.TRANSPORT, messaging.NOTIFICATIONS_TRANSPORT):
        driver = getattr(transport, "_driver", None)
        pool = getattr(driver, "_connection_pool", None)
        items = getattr(pool, "_items", None)
        if items:
            items.clear()
            pool._current_size = 0  # type: ignore[union-attr]
        # The reply queue is served by a thread, and threads do not survive
        # a fork: let the worker create its own on its first call.
        if getattr(driver, "_reply_q", None) is not None:
            driver._reply_q = None  # type: ignore[union-attr]
            driver._waiter = None  # type: ignore[union-attr]
