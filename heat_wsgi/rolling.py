"""``heat-wsgi restart``: carry out :mod:`heat_wsgi.local.restart`'s steps on a local run.

Each step acts on the pids in the state dir's record and on HAProxy's admin
socket, and waits for its own condition before the next step starts; each
completed step is reported through ``progress``. A step that does not
complete in time raises :class:`~heat_wsgi.errors.ServiceError` and leaves
the instance drained, so a broken instance never gets traffic back.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from heat_wsgi import cluster
from heat_wsgi.errors import ServiceError
from heat_wsgi.local.localize import LocalPlan
from heat_wsgi.local.plan import plan_services, stats_socket
from heat_wsgi.local.restart import RestartStep, RestartUnit, restart_steps, restart_units
from heat_wsgi.runtime import haproxy, process
from heat_wsgi.runtime.record import Record, load
from heat_wsgi.runtime.service import Service

__all__ = ["restart", "IDLE_TIMEOUT", "HEALTH_TIMEOUT", "UP_TIMEOUT"]

IDLE_TIMEOUT = 120.0     # a stack create through a drained server may take a while
HEALTH_TIMEOUT = 90.0    # Heat's WSGI app takes seconds to import on a busy machine
UP_TIMEOUT = 30.0        # HAProxy needs `rise` good checks, 1 s apart in `up`
# heat-engine finishes what it holds within graceful_shutdown_timeout (60 s,
# oslo.service's default, which `up` keeps): SIGKILL only after that.
ENGINE_STOP_TIMEOUT = 75.0
POLL = 0.1

Progress = Callable[[str], None]


def _until(what: str, service: str, probe: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() >= deadline:
            raise ServiceError(service, f"restart: not within {timeout:g}s: {what}")
        time.sleep(POLL)


class _Runner:
    def __init__(self, record: Record, plan: LocalPlan) -> None:
        self.record = record
        self.plan = plan
        self.socket = str(stats_socket(plan))
        self.planned = {s.name: s for s in plan_services(plan)}

    def service(self, name: str) -> Service:
        found = self.record.service(name)
        if found is None or not found.alive():
            raise ServiceError(name, "restart: not running; start it with `heat-wsgi up`")
        return found

    def run(self, step: RestartStep) -> str:
        """Carry out one step; return a detail for the progress line."""
        if step.action in ("drain", "ready"):
            haproxy.set_server_state(self.socket, step.backend, step.server, step.action)
            return ""
        if step.action == "wait-idle":
            def idle() -> bool:
                return haproxy.server_status(self.socket, step.backend, step.server).current == 0
            _until(f"HAProxy holds no session to {step.backend}/{step.server}", step.service,
                   idle, IDLE_TIMEOUT)
            return ""
        if step.action == "wait-up":
            def up() -> bool:
                return haproxy.server_status(self.socket, step.backend,
                                             step.server).status == "UP"
            _until(f"HAProxy sees {step.backend}/{step.server} UP", step.service, up, UP_TIMEOUT)
            return ""
        if step.action == "wait-healthy":
            service = self.service(step.service)
            process.wait_for_http(step.url, 200, HEALTH_TIMEOUT, service=step.service,
                                  pid=service.pid, log=service.log)
            return ""
        if step.action in ("reload", "graceful"):
            return self.reload(step)
        return self.restart(step.service)

    def reload(self, step: RestartStep) -> str:
        """SIGHUP (uwsgi) or SIGUSR1 (Apache) to the recorded master; wait for new workers."""
        service = self.service(step.service)
        master = service.pid
        before = process.children(master)
        os.kill(master, signal.SIGHUP if step.action == "reload" else signal.SIGUSR1)

        def replaced() -> bool:
            now = process.children(master)
            return bool(now) and not now & before
        _until(f"every worker of pid {master} replaced after the reload", step.service,
               replaced, HEALTH_TIMEOUT)
        if not service.alive():
            raise ServiceError(step.service, f"restart: pid {master} ended on the reload",
                               service.log)
        return f"pid {master}, workers {','.join(str(p) for p in sorted(process.children(master)))}"

    def restart(self, name: str) -> str:
        """Stop by pid and start again as ``up`` does (ready when it serves)."""
        planned = self.planned.get(name)
        if planned is None:
            raise ServiceError(name, "restart: not a service of this run's plan")
        old = self.record.service(name)
        if old is not None and old.kind == "heat-engine":
            self.stop_engine(old)
        elif old is not None:
            old.stop()
        new = cluster.start_planned(self.plan, planned, self.record)
        was = f"pid {','.join(str(p) for p in old.pids)} -> " if old is not None else ""
        return was + "pid " + ",".join(str(p) for p in new.pids)


    @staticmethod
    def stop_engine(old: Service) -> None:
        """SIGTERM, until its workers are gone, then the rest of it.

        A worker killed before its graceful stop ends loses the RPC messages
        it has acknowledged and not yet answered, so it gets up to
        ENGINE_STOP_TIMEOUT. The master holds no consumer; once its workers
        are gone it only winds down (about 10 s on two busy cores), so it
        gets 2 s.
        """
        master = old.pid
        if old.alive():
            os.kill(master, signal.SIGTERM)
            _until(f"the workers of heat-engine pid {master} finish their graceful stop",
                   old.name, lambda: not old.alive() or not process.children(master),
                   ENGINE_STOP_TIMEOUT)
        old.stop(2.0)


def restart(names: Sequence[str] = (), state_dir: Path | None = None, *,
            progress: Progress = print) -> list[RestartUnit]:
    """Restart ``names`` one at a time, or (none given) every API instance then every engine.

    :raises ServiceError: nothing runs there, or a step does not complete.
    :raises RestartError: a name the run does not have.
    """
    state_dir = (state_dir or cluster.default_state_dir()).absolute()
    record = load(state_dir)
    if record is None or not any(s.alive() for s in record.services):
        raise ServiceError("heat-wsgi", f"nothing is running from {state_dir}")
    plan = cluster.recorded_plan(record)
    runner = _Runner(record, plan)
    units = restart_units(plan, names)
    began = time.monotonic()
    for number, unit in enumerate(units, 1):
        progress(f"[{number}/{len(units)}] {unit.service} ({unit.how})")
        for step in restart_steps(unit):
            started = time.monotonic()
            detail = runner.run(step)
            progress(f"  ok  {step.describe():<44} {time.monotonic() - started:5.1f}s"
                     + (f"  {detail}" if detail else ""))
    record.save()
    progress(f"heat-wsgi: restarted {len(units)} service(s) in {time.monotonic() - began:.1f}s")
    return units
