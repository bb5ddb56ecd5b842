"""Helpers for tests of the generated Ansible content: render a topology to a
tree and run Ansible's own tools (ansible-playbook, ansible-inventory,
ansible-lint) from the venv on it, in the tree's ansible/ directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from heat_wsgi.model import Topology
from heat_wsgi.render import render_all
from heat_wsgi.writer import write_tree

BIN = Path(sys.prefix) / "bin"


def render_tree(topology: Topology, out: Path) -> Path:
    """Render ``topology`` (validated) under ``out``; return its ansible/ directory."""
    write_tree(render_all(topology), out)
    return out / "ansible"


def ansible_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({"ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
                "PATH": f"{BIN}:{env.get('PATH', '')}",
                # No ~/.ansible of whoever runs the tests.
                "ANSIBLE_LOCAL_TEMP": "/tmp/heat-wsgi-ansible-tmp"})
    env.update(extra)
    return env


def run_tool(tool: str, args: list[str], cwd: Path, timeout: float = 120,
             **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / tool), *args], cwd=cwd, env=ansible_env(**env),
                          capture_output=True, text=True, timeout=timeout)


def _plain(value: Any) -> Any:
    """JSON of ansible-inventory with ``{"__ansible_unsafe": x}`` (a !unsafe value) as x."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def inventory_list(ansible_dir: Path, *, raw: bool = False) -> dict[str, Any]:
    """``ansible-inventory --list`` of the generated inventory, parsed (unsafe values
    unwrapped unless ``raw``)."""
    result = run_tool("ansible-inventory", ["--list"], ansible_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data if raw else _plain(data)
