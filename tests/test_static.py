"""The package and benchmarks type-check under mypy --strict."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.real   # runs mypy over the tree: outside the fast loop


def mypy_cache_dir() -> Path:
    """mypy's incremental cache, kept in the user's cache beside the release
    venvs (tests/releasevenv.py) so that it outlives a fresh checkout: a cold
    run re-reads typeshed and every imported package's stubs (about 15 s of
    CPU), a warm one only what changed (about 1 s). mypy checks each cached
    entry against its source's hash, its options and its own version, so the
    result is the same as a cold run's. One directory per checkout, so two
    checkouts do not keep invalidating each other's entries."""
    base = Path(os.environ.get("HEAT_WSGI_MYPY_CACHE",
                               Path.home() / ".cache" / "heat_wsgi" / "mypy"))
    return base / hashlib.sha256(str(REPO).encode()).hexdigest()[:16]


def test_mypy_strict_is_clean():
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict",
                           "--cache-dir", str(mypy_cache_dir()), "heat_wsgi", "bench"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
