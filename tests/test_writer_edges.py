"""The writer's edges (issue 11, item 9): atomic swap, explicit modes, stale trees, symlinks, inputs."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from heat_wsgi.errors import RenderError
from heat_wsgi.files import RenderedFile
from heat_wsgi.writer import MANIFEST_NAME, write_tree
from conftest import REPO


def files(text: str = "x\n", host: str = "a") -> dict[PurePosixPath, RenderedFile]:
    items = [RenderedFile(host=host, path="/etc/heat/deep/er/heat.conf", text=text, mode=0o640,
                          kind="heat.conf", purpose="t"),
             RenderedFile(host=host, path="/etc/haproxy/haproxy.cfg", text=text, mode=0o644,
                          kind="haproxy", purpose="t")]
    return {item.key: item for item in items}


@pytest.fixture
def umask000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_directories_are_0755_under_umask_000(tmp_path: Path, umask000: None) -> None:
    out = write_tree(files(), tmp_path / "new" / "parent" / "out")
    for directory in [out, out / "a", out / "a/etc", out / "a/etc/heat/deep/er",
                      tmp_path / "new", tmp_path / "new/parent"]:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o755, directory
    assert stat.S_IMODE((out / "a/etc/heat/deep/er/heat.conf").stat().st_mode) == 0o640


def test_stale_staging_trees_are_cleaned(tmp_path: Path) -> None:
    # What a SIGKILLed run leaves: a staging tree named after a pid that is gone.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".out.new-{dead}-abcd"
    (stale / "a/etc/heat").mkdir(parents=True)
    (stale / "a/etc/heat/heat.conf").write_text("password = secret\n")
    old = tmp_path / f".out.old-{dead}-efgh"
    old.mkdir()
    unrelated = tmp_path / f".other.new-{dead}-ijkl"
    unrelated.mkdir()
    write_tree(files(), tmp_path / "out")
    assert not stale.exists() and not old.exists()
    assert unrelated.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [unrelated.name, "out"]


def test_a_live_runs_staging_tree_is_left_alone(tmp_path: Path) -> None:
    live = tmp_path / f".out.new-{os.getppid()}-abcd"
    live.mkdir()
    write_tree(files(), tmp_path / "out")
    assert live.exists()


def test_symlinked_output_dir_keeps_its_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    write_tree(files("one\n"), real)
    link = tmp_path / "link"
    link.symlink_to(real)
    write_tree(files("two\n"), link, force=True)
    assert link.is_symlink() and link.resolve() == real
    assert (link / "a/etc/haproxy/haproxy.cfg").read_text() == "two\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


@pytest.mark.parametrize("where", [".", "sub"])
def test_output_dir_holding_the_input_is_refused(tmp_path: Path, where: str) -> None:
    topology = tmp_path / "sub" / "t.yaml"
    topology.parent.mkdir()
    topology.write_text("hosts: []\n")
    out = tmp_path if where == "." else tmp_path / "sub"
    with pytest.raises(RenderError, match="holds the input file"):
        write_tree(files(), out, force=True, inputs=[topology])
    assert topology.read_text() == "hosts: []\n"


def test_cli_render_into_the_topology_dir_keeps_the_topology(tmp_path: Path) -> None:
    topology = tmp_path / "t.yaml"
    topology.write_text((REPO / "tests/golden/modes/topology.yaml").read_text())
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "heat_wsgi.cli", "render", str(topology),
                             "-o", str(tmp_path), "--force"], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "holds the input file" in result.stderr
    assert "Traceback" not in result.stderr
    assert topology.exists()


def test_output_dir_is_never_missing_during_the_swap(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(files("0\n"), out)
    missing: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if not os.path.isdir(out):
                missing.append(1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for n in range(1, 150):
            write_tree(files(f"{n}\n"), out, force=True)
    finally:
        stop.set()
        watcher.join()
    assert missing == []
    assert (out / "a/etc/haproxy/haproxy.cfg").read_text() == "149\n"
    assert (out / MANIFEST_NAME).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
