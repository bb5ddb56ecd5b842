"""Shared test helpers: paths of the checkout and its venv, and a way to
write a keystone-less heat.conf for a test.

Real-server fixtures live next to the tests that use them; the services
themselves are started through :mod:`heat_wsgi.runtime`, the same code
``heat-wsgi up`` uses.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix)
PYTHON = VENV / "bin" / "python"
SHIPPED_HEAT_CONF = REPO / "etc" / "heat" / "heat.conf"


def heat_conf_text(*, state_dir: Path, transport_url: str, database_url: str | None = None,
                   host: str = "heat-test", flavor: str = "noauth",
                   extra: str = "") -> str:
    """The shipped keystone-less heat.conf with a test's own URLs and paths."""
    text = SHIPPED_HEAT_CONF.read_text()
    database_url = database_url or f"sqlite:///{state_dir}/heat.sqlite"
    replacements = {
        r"(?m)^host = .*$": f"host = {host}",
        r"(?m)^transport_url = .*$": f"transport_url = {transport_url}",
        r"(?m)^connection = sqlite.*$": f"connection = {database_url}",
        r"(?m)^flavor = .*$": f"flavor = {flavor}",
    }
    for pattern, value in replacements.items():
        text, count = re.subn(pattern, value.replace("\\", "\\\\"), text)
        assert count == 1, f"shipped heat.conf lost the line {pattern}"
    return text + extra


def write_heat_conf(path: Path, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(heat_conf_text(state_dir=path.parent, **kwargs))  # type: ignore[arg-type]
    return path


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """An environment with no OS_HEAT_* and a HOME with no heat.conf."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_HEAT_")}
    env["HOME"] = str(tmp_path / "home")
    return env
