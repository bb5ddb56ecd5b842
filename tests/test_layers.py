"""Imports run one way: the layer order below is the one declaration, this test enforces it.

Every import in ``heat_wsgi/`` counts, module-level or lazy (inside a
function or under ``TYPE_CHECKING``): a module may import its own layer and
the layers below, never one above, and the graph has no cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "heat_wsgi"

#: Lowest first. A name stands for the module and everything under it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("heat_wsgi.redact",),
    ("heat_wsgi.errors", "heat_wsgi.services", "heat_wsgi.callable_module"),
    ("heat_wsgi.quoting", "heat_wsgi.files", "heat_wsgi.config_args", "heat_wsgi.healthcheck",
     "heat_wsgi.postfork", "heat_wsgi.cfn_compat", "heat_wsgi.engine",
     "heat_wsgi.forget_host", "heat_wsgi.deferred_db"),
    # the model; what runs processes; the WSGI side (boot, the CloudWatch API)
    ("heat_wsgi.model", "heat_wsgi.runtime", "heat_wsgi.boot", "heat_wsgi.cw"),
    ("heat_wsgi.secretfile",),   # reads the credentials files a topology names
    ("heat_wsgi.loader", "heat_wsgi.derive", "heat_wsgi.schema"),
    ("heat_wsgi.validate",),
    ("heat_wsgi.render", "heat_wsgi.diagram"),
    ("heat_wsgi.writer", "heat_wsgi.shipped"),
    ("heat_wsgi.local",),
    # what carries plans out, and the WSGI entrypoints
    ("heat_wsgi.cluster", "heat_wsgi.rolling", "heat_wsgi.demo", "heat_wsgi.lab",
     "heat_wsgi.uwsgi_stop", "heat_wsgi.api", "heat_wsgi.cfn", "heat_wsgi.cloudwatch"),
    ("heat_wsgi.commands", "heat_wsgi.cli"),
    ("heat_wsgi",),   # the facade, heat_wsgi/__init__.py
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The heat_wsgi modules ``path`` imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            for alias in node.names:
                # `from heat_wsgi.validate import budgets` imports a module.
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {m for m in found if m == "heat_wsgi" or m.startswith("heat_wsgi.")}


def _layer(module: str) -> int:
    best, layer = -1, -1
    for number, names in enumerate(LAYERS):
        for prefix in names:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, layer = len(prefix), number
    return layer


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, name, known) - {name} for name, path in modules.items()}


def test_every_module_has_a_layer() -> None:
    assert [m for m in _modules() if _layer(m) < 0] == []


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = [f"{module} (layer {_layer(module)}) imports {target} (layer {_layer(target)})"
              for module, targets in _graph().items() for target in sorted(targets)
              if _layer(target) > _layer(module)]
    assert upward == []


def test_the_import_graph_has_no_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}      # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_checker_sees_lazy_imports() -> None:
    # A function-level import must count: heat_wsgi.commands.cloudwatch
    # imports heat_wsgi.cw only inside its command functions.
    assert "heat_wsgi.cw.schema" in _graph()["heat_wsgi.commands.cloudwatch"]


def _loaded_after(statement: str) -> list[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=60, check=True)
    return proc.stdout.split()


def test_validation_and_the_writer_load_no_renderer() -> None:
    for statement in ("import heat_wsgi.validate", "import heat_wsgi.writer", "import heat_wsgi"):
        renderers = [m for m in _loaded_after(statement) if m.startswith("heat_wsgi.render")]
        assert renderers == [], statement
