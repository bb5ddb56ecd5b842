"""The JSON record of a running cluster: which services ``up`` started, by pid."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heat_wsgi.errors import ServiceError
from heat_wsgi.runtime.service import Service

RECORD_NAME = "cluster.json"
# Written into every state dir we create, so `down --purge` never deletes a
# directory that is not ours.
MARKER_NAME = ".heat-wsgi-state"


@dataclass(slots=True, kw_only=True)
class Record:
    """What ``status``/``down``/``logs`` need after ``up`` has exited.

    :ivar topology: the topology file ``up`` ran, or None for the default
    :ivar services: every service started, in start order
    :ivar keystone: whether ``up --keystone`` started it
    :ivar endpoints: label -> URL, as printed by ``up``
    """

    state_dir: Path
    topology: str | None = None
    venv: str = ""
    engines_per_host: int | None = None
    keystone: bool = False
    services: list[Service] = field(default_factory=list)
    endpoints: dict[str, str] = field(default_factory=dict)
    stats_socket: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def path(self) -> Path:
        return self.state_dir / RECORD_NAME

    def service(self, name: str) -> Service | None:
        for service in self.services:
            if service.name == name:
                return service
        return None

    def add(self, service: Service) -> None:
        """Record ``service`` (replacing a dead one of the same name) and save at once."""
        with self._lock:
            self.services = [s for s in self.services if s.name != service.name] + [service]
            self._save_locked()

    def drop(self, names: set[str]) -> None:
        with self._lock:
            self.services = [s for s in self.services if s.name not in names]
            self._save_locked()

    def save(self) -> None:
        with self._lock:
            self._save_locked()

    def _save_locked(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / MARKER_NAME).touch()
        data: dict[str, Any] = {
            "version": 1, "saved": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "topology": self.topology, "venv": self.venv,
            "engines_per_host": self.engines_per_host, "keystone": self.keystone,
            "endpoints": self.endpoints, "stats_socket": self.stats_socket,
            "services": [s.to_json() for s in self.services]}
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, self.path)


def load(state_dir: Path) -> Record | None:
    """The record in ``state_dir``, or None when ``up`` never ran there."""
    state_dir = state_dir.absolute()
    path = state_dir / RECORD_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return Record(state_dir=state_dir, topology=data.get("topology"),
                      venv=str(data.get("venv", "")),
                      engines_per_host=data.get("engines_per_host"),
                      keystone=bool(data.get("keystone", False)),
                      services=[Service.from_json(s) for s in data.get("services", [])],
                      endpoints=dict(data.get("endpoints", {})),
                      stats_socket=data.get("stats_socket"))
    except (ValueError, KeyError, TypeError) as exc:
        raise ServiceError("heat-wsgi", f"{path}: unreadable cluster record ({exc}); "
                                        "stop its processes by the pids in run/*.pid") from exc
