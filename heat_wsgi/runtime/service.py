"""The handle of one running private service, its health probe and its JSON form."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from heat_wsgi.runtime import process
from heat_wsgi.runtime.process import Proc


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """A service we started, as far as stopping and probing it goes.

    :ivar name: unique within a state directory (``rabbitmq``, ``uwsgi-api-1``)
    :ivar kind: ``rabbitmq``, ``mariadb``, ``heat-engine``, ``uwsgi``,
        ``apache`` or ``haproxy``
    :ivar procs: the processes we spawned, in start order; stopped in reverse
    :ivar address: what it serves, ``host:port`` or a socket path
    :ivar url: what a client uses: the transport URL, the SQLAlchemy URL or the
        HTTP base URL (empty for heat-engine)
    :ivar health: how to probe it: ``http://...`` (expects 200),
        ``tcp://host:port``, ``unix:/path``, or empty (alive is healthy)
    :ivar log: the main log file
    """

    name: str
    kind: str
    procs: tuple[Proc, ...]
    address: str
    url: str
    health: str
    log: str

    @property
    def transport_url(self) -> str:
        """Alias of :attr:`url` that reads well for RabbitMQ."""
        return self.url

    @property
    def pid(self) -> int:
        """The main pid (the last one started: beam wrapper, mariadbd, ...)."""
        return self.procs[-1].pid

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(p.pid for p in self.procs)

    def alive(self) -> bool:
        """True when every process of the service still runs."""
        return all(process.is_alive(p.pid, p.starttime or None) for p in self.procs)

    def healthy(self) -> tuple[bool, str]:
        """Probe the service: (ok, one-word-or-so detail)."""
        dead = [p for p in self.procs if not process.is_alive(p.pid, p.starttime or None)]
        if dead:
            return False, "dead (pid " + ", ".join(str(p.pid) for p in dead) + ")"
        if self.health.startswith(("http://", "https://")):
            status = process.http_status(self.health)
            return status == 200, f"HTTP {status}" if status is not None else "no answer"
        if self.health.startswith("tcp://"):
            host, _, port = self.health[len("tcp://"):].rpartition(":")
            ok = process.tcp_open(host, int(port))
            return ok, "listening" if ok else "not listening"
        if self.health.startswith("unix:"):
            ok = process.unix_socket_open(self.health[len("unix:"):])
            return ok, "listening" if ok else "not listening"
        return True, "running"

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every process of the service by its recorded pid, newest first."""
        # uwsgi's graceful stop can hang on a worker that missed its SIGHUP
        # (see process.stop); one more SIGHUP after 5 s ends it.
        nudge = process.UWSGI_NUDGE_AFTER if self.kind == "uwsgi" else None
        for proc in reversed(self.procs):
            process.stop_proc(proc, timeout, nudge_children_after=nudge)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind,
                "procs": [p.to_json() for p in self.procs], "address": self.address,
                "url": self.url, "health": self.health, "log": self.log}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Service:
        return cls(name=str(data["name"]), kind=str(data["kind"]),
                   procs=tuple(Proc.from_json(p) for p in data["procs"]),
                   address=str(data["address"]), url=str(data["url"]),
                   health=str(data["health"]), log=str(data["log"]))


def stop_all(services: list[Service] | tuple[Service, ...], timeout: float = 15.0,
             on_stop: Callable[[Service], None] | None = None) -> None:
    """Stop services in reverse start order.

    Neighbours of the same kind (the uwsgi instances, the engines) are stopped
    side by side: each takes seconds to drain, and none depends on another.
    """
    ordered = list(reversed(list(services)))
    batches: list[list[Service]] = []
    for service in ordered:
        if batches and batches[-1][0].kind == service.kind:
            batches[-1].append(service)
        else:
            batches.append([service])

    def one(service: Service) -> None:
        service.stop(timeout)
        if on_stop is not None:
            on_stop(service)

    for batch in batches:
        if len(batch) == 1:
            one(batch[0])
            continue
        with ThreadPoolExecutor(max_workers=len(batch)) as pool:
            list(pool.map(one, batch))
