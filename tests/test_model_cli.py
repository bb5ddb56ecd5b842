"""heat-wsgi validate/render/schema/diagram exit codes, and the atomic writer."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from heat_wsgi import writer
from heat_wsgi.cli import main
from heat_wsgi.errors import RenderError
from heat_wsgi.loader import load_topology
from heat_wsgi.render import render_all
from heat_wsgi.writer import write_tree
from conftest import REPO

SAMPLE = REPO / "etc" / "heat" / "topology.sample.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    return path


def test_validate_clean_is_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SAMPLE)]) == 0
    assert "OK" in capsys.readouterr().out


def test_validate_warnings_only_is_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = SAMPLE.read_text().replace("server: 2m", "server: 30s")
    assert main(["validate", str(write(tmp_path, text))]) == 0
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("warning: ")] == [
        line for line in out.splitlines() if line.startswith("warning: proxy.timeouts.server")]
    assert "warning: proxy.timeouts.server" in out and "t.yaml:" in out


def test_validate_errors_is_1_and_prints_every_problem(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    text = (SAMPLE.read_text().replace("host: B, processes: 2, threads: 1}", "host: B, port: 0}")
            .replace("cfn-server-2", "cfn-server-1"))
    path = write(tmp_path, text)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("error: api_instances[rest-server-1].port") and f"{path}:" in line
               for line in out)
    assert any("must be unique" in line for line in out)


@pytest.mark.parametrize("text", ["hosts: [\n", "hosts: 3\n", "nosuchfield: 1\n"])
def test_unusable_input_is_2(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(write(tmp_path, text))]) == 2
    assert "t.yaml:" in capsys.readouterr().err


def test_missing_file_is_2(tmp_path: Path) -> None:
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2


def test_render_writes_atomically_with_safe_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["render", str(SAMPLE), "-o", str(out)]) == 0
    conf = out / "B" / "etc" / "heat" / "heat.conf"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640
    assert stat.S_IMODE((out / "A" / "etc" / "haproxy" / "haproxy.cfg").stat().st_mode) == 0o644
    manifest = (out / "MANIFEST").read_text()
    assert "B\t/etc/heat/heat.conf\t0640\theat.conf\t" in manifest
    # A second render needs --force and then replaces the tree.
    assert main(["render", str(SAMPLE), "-o", str(out)]) == 2
    (out / "stale").write_text("x")
    assert main(["render", str(SAMPLE), "-o", str(out), "--force"]) == 0
    assert not (out / "stale").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]   # no staging left


def test_render_with_errors_writes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, SAMPLE.read_text().replace("{name: rest-server-1,", "{name: \"rest\\nx\","))
    assert main(["render", str(path), "-o", str(tmp_path / "out")]) == 1
    assert not (tmp_path / "out").exists()


def test_failed_write_leaves_the_old_tree_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = render_all(load_topology(SAMPLE))
    out = write_tree(files, tmp_path / "out")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    calls = {"n": 0}
    real = writer._write

    def flaky(path: Path, text: str, mode: int) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(28, "No space left on device")
        real(path, text, mode)

    monkeypatch.setattr(writer, "_write", flaky)
    with pytest.raises(RenderError, match="No space left"):
        write_tree(files, out, force=True)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_credentials_are_never_world_readable(tmp_path: Path) -> None:
    from heat_wsgi.render import RenderedFile
    from pathlib import PurePosixPath
    item = RenderedFile(host="h", path="/etc/x.cfg", text="url = rabbit://u:secret@h/\n",
                        mode=0o666, kind="uwsgi", purpose="test")
    out = write_tree({PurePosixPath("h/etc/x.cfg"): item}, tmp_path / "o")
    assert stat.S_IMODE((out / "h" / "etc" / "x.cfg").stat().st_mode) == 0o640


def test_writer_refuses_escaping_paths(tmp_path: Path) -> None:
    from heat_wsgi.render import RenderedFile
    from pathlib import PurePosixPath
    item = RenderedFile(host="h", path="/x", text="x\n", mode=0o644, kind="uwsgi", purpose="t")
    with pytest.raises(RenderError):
        write_tree({PurePosixPath("h/../../x"): item}, tmp_path / "o")


def test_schema_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "heat_wsgi topology"


@pytest.mark.parametrize("fmt, start", [("text", "Topology 'scaling-sample'"), ("dot", "digraph")])
def test_diagram_command(fmt: str, start: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", str(SAMPLE), "--format", fmt]) == 0
    assert capsys.readouterr().out.startswith(start)


def test_deployment_wide_files_have_their_own_directory(tmp_path: Path) -> None:
    from heat_wsgi.render import RenderedFile
    from heat_wsgi.writer import write_tree
    site = RenderedFile(host=None, path="ansible/site.yml", text="- hosts: all\n", mode=0o644,
                        kind="uwsgi", purpose="t")
    written = write_tree({site.key: site}, tmp_path / "out")
    assert (written / "ansible" / "site.yml").read_text() == "- hosts: all\n"
    assert "-\tansible/site.yml\t0644" in (written / "MANIFEST").read_text()
    stray = RenderedFile(host=None, path="site.yml", text="x\n", mode=0o644, kind="uwsgi",
                         purpose="t")
    with pytest.raises(RenderError, match="outside the directories reserved"):
        write_tree({stray.key: stray}, tmp_path / "out2")
    squatter = RenderedFile(host="ansible", path="/etc/x", text="x\n", mode=0o644,
                            kind="uwsgi", purpose="t")
    with pytest.raises(RenderError, match="reserved for deployment-wide"):
        write_tree({squatter.key: squatter}, tmp_path / "out3")
    assert not (tmp_path / "out2").exists() and not (tmp_path / "out3").exists()
