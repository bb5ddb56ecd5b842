"""Golden files: every rendered format, byte for byte.

Regenerate with ``UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render_golden.py``
and review the diff.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from heat_wsgi.diagram import render_dot, render_text_diagram
from heat_wsgi.loader import load_topology
from heat_wsgi.render import render_all, render_manifest
from heat_wsgi.schema import topology_schema

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
SCENARIOS = {
    "scaling-sample": REPO / "etc" / "heat" / "topology.sample.yaml",
    "modes": GOLDEN / "modes" / "topology.yaml",
}


def rendered(scenario: str) -> dict[str, str]:
    topology = load_topology(SCENARIOS[scenario])
    files = render_all(topology)
    result = {str(key): item.text for key, item in files.items()}
    result["MANIFEST"] = render_manifest(files)
    result["diagram.txt"] = render_text_diagram(topology)
    result["diagram.dot"] = render_dot(topology)
    return result


def compare(expected_dir: Path, actual: dict[str, str]) -> None:
    if UPDATE:
        shutil.rmtree(expected_dir, ignore_errors=True)
        for rel, text in actual.items():
            path = expected_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    found = {str(p.relative_to(expected_dir)) for p in expected_dir.rglob("*") if p.is_file()}
    assert found == set(actual), "file set changed; rerun with UPDATE_GOLDEN=1 and review"
    for rel, text in actual.items():
        assert (expected_dir / rel).read_text(encoding="utf-8") == text, rel


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_golden(scenario: str) -> None:
    compare(GOLDEN / scenario / "expected", rendered(scenario))


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_output_is_deterministic_and_tidy(scenario: str) -> None:
    first, second = rendered(scenario), rendered(scenario)
    assert first == second
    for rel, text in first.items():
        assert text.endswith("\n") and not text.endswith("\n\n"), rel
        if not rel.startswith("diagram"):
            lines = text.splitlines()
            first = lines[1] if lines[0].startswith("#!") else lines[0]  # after a shebang
            assert "heat_wsgi" in first, rel


def test_golden_schema() -> None:
    path = GOLDEN / "schema.json"
    text = json.dumps(topology_schema(), indent=2) + "\n"
    if UPDATE:
        path.write_text(text)
    assert path.read_text() == text
