"""Forget a lost machine's heat-engines: fail the stacks they held, drop their service rows.

When a machine that runs heat-engines loses power, Heat itself never notices
what those engines were doing. A convergence stack (Heat's default) keeps
the resources a dead engine had locked ``IN_PROGRESS`` with that engine's id
in ``resource.engine_id``, and no other engine looks at them again: the
stack stays ``CREATE_IN_PROGRESS`` (or UPDATE, DELETE) for good. Heat only
recovers such a resource when some engine is handed it again and finds its
locker dead (``check_resource``'s "Worker went down during resource ..."),
and nothing hands it out again. ``heat-engine``'s own start-up reset covers
legacy (non-convergence) stacks only.

The operator's remedy is ``heat-manage reset_stack_status STACK_ID`` for
each such stack, which first needs the stack ids. This finds them: every
stack with a resource in progress under an engine registered from the lost
``[DEFAULT] host``, after checking with Heat's own liveness probe (the RPC
``listening`` call an engine answers within ``engine_life_check_timeout``)
that none of that host's engines answers. With ``apply`` it resets each one
with the same database call heat-manage makes (the stack and its resources
become ``FAILED``, "Stack status manually reset"), and deletes the host's
rows from Heat's ``service`` table, as ``heat-manage service clean`` would
once they are stale. A stack that is in progress without any engine holding
a resource of it is reported and left alone, since a live engine may be
about to pick it up, unless it has not changed for ``stalled_after``
seconds: then the RPC cast that would have moved it on was lost with the
machine (oslo.messaging acknowledges a delivery when it reads it, so an
engine that dies holding one unprocessed loses it), and it is reset too.

A machine that lost power also leaves its database sessions behind: it sent
no FIN, so MariaDB keeps each one, with the row locks of its open
transaction, until TCP gives up on it. An idle session goes within the
rendered keepalive (``database.dead_client_within``); one the server was
still sending to retransmits for about 15 minutes. Given the lost machine's
``addresses``, this finds the sessions Heat's database account has open from
them (an account sees and may kill its own sessions without extra grants)
and, with ``apply``, kills them first, so the resets below and the live
engines get those rows.

Run it on a machine with the deployment's heat.conf (any engine host)::

    heat-wsgi forget-host C --config-file /etc/heat/heat.conf           # report
    heat-wsgi forget-host C --config-file /etc/heat/heat.conf --apply   # act
    ... --apply --stalled-after 300      # also stacks quiet for 5 minutes

The generated ``forget-host.yml`` does that, after taking the host's servers
out of HAProxy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from heat_wsgi.errors import HeatWsgiError

__all__ = ["HeldStack", "Findings", "HostStillAlive", "find", "forget", "report_lines"]


class HostStillAlive(HeatWsgiError):
    """An engine registered from the host answered Heat's liveness probe."""


@dataclass(frozen=True, slots=True)
class HeldStack:
    """A stack with resources in progress under one of the lost host's engines."""

    stack_id: str
    name: str
    state: str                      # e.g. CREATE_IN_PROGRESS
    resources: tuple[str, ...]      # the held resources' names


@dataclass(frozen=True, slots=True)
class Findings:
    """What the lost host's engines left behind."""

    host: str
    engines: tuple[str, ...]        # engine ids registered from the host
    service_ids: tuple[str, ...]    # their rows in Heat's service table
    held: tuple[HeldStack, ...]
    stalled: tuple[HeldStack, ...]  # no holder, and no change for stalled_after
    unheld: tuple[HeldStack, ...]   # no holder, changed more recently (left alone)
    sessions: tuple[int, ...] = ()  # database sessions still open from the host's addresses


def _setup(config_files: Sequence[str]) -> Any:
    """Heat's configuration and RPC transport, as heat-manage sets them up; the admin context."""
    from oslo_config import cfg

    from heat.common import config  # noqa: F401  (registers Heat's options)
    from heat.common import context, messaging
    cfg.CONF([arg for path in config_files for arg in ("--config-file", path)],
             project="heat", prog="heat-wsgi forget-host", default_config_files=[])
    messaging.setup()
    return context.get_admin_context()


def find(ctxt: Any, host: str, stalled_after: float | None = None,
         addresses: Sequence[str] = ()) -> Findings:
    """What the engines registered from ``host`` hold, and the database sessions open
    from ``addresses``. Raises :class:`HostStillAlive` if any of those engines answers
    Heat's liveness probe."""
    from oslo_utils import timeutils

    from heat.db import api as db_api
    from heat.db import models
    from heat.objects import service as service_objects
    from heat.rpc import listener_client

    rows = [s for s in service_objects.Service.get_all(ctxt)
            if s.host == host and s.binary == "heat-engine"]
    engines = tuple(sorted({s.engine_id for s in rows}))
    for engine_id in engines:
        if listener_client.EngineListenerClient(engine_id).is_alive(ctxt):
            raise HostStillAlive(
                f"host {host!r}: heat-engine {engine_id} still answers Heat's liveness "
                "probe, so the host is not lost; nothing was changed")

    held, stalled, unheld = [], [], []
    now = timeutils.utcnow()   # Heat stores naive UTC times
    with db_api.context_manager.reader.using(ctxt) as session:
        stacks = session.query(models.Stack).filter(
            models.Stack.status == "IN_PROGRESS", models.Stack.deleted_at.is_(None)).all()
        for stack in stacks:
            resources = session.query(models.Resource).filter(
                models.Resource.stack_id == stack.id).all()
            busy = [r for r in resources if r.status == "IN_PROGRESS"]
            mine = tuple(sorted(r.name for r in busy if r.engine_id in engines))
            entry = HeldStack(stack.id, stack.name, f"{stack.action}_{stack.status}", mine)
            if mine:
                held.append(entry)
            elif any(r.engine_id for r in busy):
                pass   # a live engine holds part of it: it moves on
            elif stalled_after is not None and \
                    _quiet_for(now, [stack, *resources]) >= stalled_after:
                stalled.append(entry)
            else:
                unheld.append(entry)
        sessions = _sessions_from(session, addresses)
    return Findings(host=host, engines=engines, service_ids=tuple(str(s.id) for s in rows),
                    held=tuple(held), stalled=tuple(stalled), unheld=tuple(unheld),
                    sessions=sessions)


def _sessions_from(session: Any, addresses: Sequence[str]) -> tuple[int, ...]:
    """Ids of the database sessions (of Heat's own account) open from ``addresses``."""
    if not addresses or session.bind.dialect.name != "mysql":
        return ()
    from sqlalchemy import text
    rows = session.execute(text("SELECT ID, HOST FROM information_schema.PROCESSLIST"))
    # HOST is "address:port" (a name instead without skip-name-resolve).
    return tuple(sorted(int(ident) for ident, peer in rows
                        if peer and peer.rsplit(":", 1)[0] in addresses))


def _quiet_for(now: Any, rows: Sequence[Any]) -> float:
    """Seconds since any of ``rows`` (a stack and its resources) last changed."""
    changes = [t for row in rows for t in (row.created_at, row.updated_at) if t is not None]
    return (now - max(changes)).total_seconds() if changes else 0.0


def forget(ctxt: Any, findings: Findings) -> None:
    """Kill the host's database sessions, reset every held stack to FAILED and delete
    the host's service rows."""
    from sqlalchemy import text

    from heat.db import api as db_api
    from heat.objects import service as service_objects

    if findings.sessions:
        # First: their transactions' row locks would block the resets.
        with db_api.context_manager.writer.using(ctxt) as session:
            for ident in findings.sessions:
                try:
                    session.execute(text(f"KILL CONNECTION {int(ident)}"))
                except Exception as exc:   # gone by itself meanwhile: fine
                    if "Unknown thread id" not in str(exc):
                        raise
    for stack in findings.held + findings.stalled:
        db_api.reset_stack_status(ctxt, stack.stack_id)
    for service_id in findings.service_ids:
        service_objects.Service.delete(ctxt, service_id)


def report_lines(findings: Findings, applied: bool) -> list[str]:
    """What was found (and done), one line each; the last line is the summary."""
    lines = []
    for stack in findings.held:
        lines.append(f"held: stack {stack.stack_id} ({stack.name}) {stack.state}: "
                     f"{', '.join(stack.resources)}"
                     + (" -> FAILED" if applied else ""))
    for stack in findings.stalled:
        lines.append(f"stalled (no holder, no change for --stalled-after): stack "
                     f"{stack.stack_id} ({stack.name}) {stack.state}"
                     + (" -> FAILED" if applied else ""))
    for stack in findings.unheld:
        lines.append(f"not held by any engine (left alone): stack {stack.stack_id} "
                     f"({stack.name}) {stack.state}")
    verb = "reset to FAILED" if applied else "would reset (run with --apply)"
    changed = applied and bool(findings.held or findings.stalled or findings.service_ids
                               or findings.sessions)
    # The last words tell a deployment tool whether anything changed.
    lines.append(f"host {findings.host!r}: {len(findings.engines)} dead heat-engine(s), "
                 f"{len(findings.held) + len(findings.stalled)} stack(s) {verb} "
                 f"({len(findings.stalled)} of them stalled), {len(findings.unheld)} in "
                 "progress without a holder"
                 + (f", {len(findings.sessions)} database session(s) "
                    + ("killed" if applied else "open") if findings.sessions else "")
                 + (f", {len(findings.service_ids)} service row(s) deleted" if applied else "")
                 + ("; changed" if changed else "; nothing changed"))
    return lines


def run(host: str, config_files: Sequence[str], apply: bool,
        stalled_after: float | None = None, addresses: Sequence[str] = ()) -> list[str]:
    """Find (and with ``apply``, forget) what ``host``'s engines held; the report's lines."""
    ctxt = _setup(config_files)
    findings = find(ctxt, host, stalled_after, addresses)
    if apply:
        forget(ctxt, findings)
    return report_lines(findings, apply)
