"""The lab's state file: every namespace, mount and pid it made, saved as it makes them."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from heat_wsgi.errors import LabError
from heat_wsgi.lab.plan import Resource

STATE_NAME = "lab.json"
# Written into the state dir, so a purge never deletes a directory not ours.
MARKER_NAME = ".heat-wsgi-lab"
# Which state dir holds a prefix's namespaces, so two checkouts' labs with
# the same prefix do not tear each other down.
CLAIMS_DIR = Path("/run/heat-wsgi-lab")


@dataclass(slots=True, kw_only=True)
class MachineState:
    """One machine as booted: where it lives and the pids that are it."""

    name: str
    address: str
    netns: str
    port: str  # its veth end on the bridge
    root: str
    log: str
    nspawn_pid: int = 0
    nspawn_starttime: int = 0
    # The machine's PID 1 (systemd), seen from the box: SIGKILL to it ends
    # every process of the machine at once, like pulling the plug.
    leader_pid: int = 0
    leader_starttime: int = 0
    host_key: str = ""  # "ssh-ed25519 AAAA..." of its sshd
    boot_seconds: float = 0.0
    powered_off: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MachineState:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(slots=True, kw_only=True)
class LabState:
    state_dir: Path
    prefix: str
    net_ns: str
    control_ns: str
    control_address: str
    key: str
    known_hosts: str
    resources: list[Resource] = field(default_factory=list)
    machines: dict[str, MachineState] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.state_dir / STATE_NAME

    def add(self, resource: Resource) -> None:
        """Record ``resource`` and save, before it is made (see plan.Command.creates)."""
        if resource not in self.resources:
            self.resources.append(resource)
        self.save()

    def drop(self, resource: Resource) -> None:
        if resource in self.resources:
            self.resources.remove(resource)
        self.save()

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / MARKER_NAME).touch()
        data = {
            "version": 1, "saved": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "prefix": self.prefix, "net_ns": self.net_ns, "control_ns": self.control_ns,
            "control_address": self.control_address, "key": self.key,
            "known_hosts": self.known_hosts,
            "resources": [{"kind": r.kind, "name": r.name} for r in self.resources],
            "machines": {n: m.to_json() for n, m in self.machines.items()}}
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, self.path)

    def remove_file(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def load(state_dir: Path) -> LabState | None:
    """The state file in ``state_dir``, or None when no lab was started there."""
    path = state_dir / STATE_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return LabState(
            state_dir=state_dir, prefix=str(data["prefix"]), net_ns=str(data["net_ns"]),
            control_ns=str(data["control_ns"]), control_address=str(data["control_address"]),
            key=str(data["key"]), known_hosts=str(data["known_hosts"]),
            resources=[Resource(kind=r["kind"], name=str(r["name"]))
                       for r in data["resources"]],
            machines={str(n): MachineState.from_json(m) for n, m in data["machines"].items()})
    except (ValueError, KeyError, TypeError) as exc:
        raise LabError("state", f"{path}: unreadable ({exc}); remove the lab's namespaces "
                                "(ip netns list) and mounts (/proc/mounts) by hand") from exc


def claim_path(prefix: str) -> Path:
    return CLAIMS_DIR / f"{prefix}owner"


def claimed_by(prefix: str) -> Path | None:
    """The state dir whose lab holds ``prefix``, if any lab does."""
    try:
        return Path(claim_path(prefix).read_text().strip())
    except OSError:
        return None


def claim(prefix: str, state_dir: Path) -> None:
    CLAIMS_DIR.mkdir(parents=True, exist_ok=True)
    claim_path(prefix).write_text(f"{state_dir}\n")


def release(prefix: str, state_dir: Path) -> None:
    if claimed_by(prefix) == state_dir:
        claim_path(prefix).unlink(missing_ok=True)
