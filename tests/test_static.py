"""The package and benchmarks type-check under mypy --strict."""

import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.real   # runs mypy over the tree: outside the fast loop


def test_mypy_strict_is_clean():
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "heat_wsgi", "bench"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
