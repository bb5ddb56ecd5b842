"""The generated copy tasks run for real on this machine (connection local, into a
temporary directory): a value that looks like a Jinja template reaches the
files and paths literally, a second run changes nothing, and a check run
shows a hand-edited file's difference (the drift check), which the next run
puts back.

Only site.yml's file tasks run (taken from the generated playbook as they
are): the rest would create users and start services on the box itself,
which is what the lab tests do on real machines instead.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_checks import inventory_list, render_tree, run_tool
from heat_wsgi.model import ConfOption, EngineGroup, Host, Paths, Topology

pytestmark = pytest.mark.real

# Paths may not hold "{{" (uwsgi expands it), but Jinja's comment markers
# are valid in a path and still templated by Ansible: x{#c#}y becomes xy.
HOSTILE_PATH = "x{#c#}y"
HOSTILE_VALUE = "{{ lookup('pipe', 'touch PWNED') }} {% if true %}49{% endif %}"
FILE_TASKS = ("Create the directories and find the files that differ",
              "Name the files that differ", "Copy the rendered files",
              "Copy the rendered files that hold credentials", "Remember which files changed")


class _Loader(yaml.SafeLoader):
    pass


class Unsafe(str):
    pass


_Loader.add_constructor("!unsafe", lambda loader, node: Unsafe(loader.construct_scalar(node)))


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(Unsafe, lambda dumper, data: dumper.represent_scalar("!unsafe", str(data)))


def topology(root: Path) -> Topology:
    base = f"{root}/{HOSTILE_PATH}"
    paths = Paths(config_dir=f"{base}/etc/heat", log_dir=f"{base}/log", run_dir=f"{base}/run",
                  state_dir=f"{base}/lib", systemd_dir=f"{base}/systemd", venv="/opt/venv")
    return Topology(
        name="local-check",
        hosts=(Host(name="local", address="127.0.0.1", paths=paths, user="root", group="root",
                    heat_conf=(ConfOption(section="DEFAULT", key="hostile", value=HOSTILE_VALUE),)),),
        engines=(EngineGroup(host="local", processes=1),),
        base_config="[DEFAULT]\ndebug = true\n\n[database]\nconnection = sqlite:////tmp/x.db\n"
                    "\n[DEFAULT]\ntransport_url = rabbit://u:p@127.0.0.1:5672/\n",
    )


def confine(ansible_dir: Path, root: Path) -> None:
    """Drop from the inventory the one file outside ``root`` (tmpfiles.d, a system path)."""
    path = ansible_dir / "inventory.yml"
    data = yaml.load(path.read_text(), Loader=_Loader)
    host = data["all"]["hosts"]["local"]
    outside = [p for group in host["heat_wsgi_files"] for p in group["paths"]
               if not p.startswith(f"{root}/")]
    assert outside == ["/etc/tmpfiles.d/heat_wsgi.conf"]
    for group in host["heat_wsgi_files"]:
        kept = [(p, h) for p, h in zip(group["paths"], group["sha1"]) if p not in outside]
        group["paths"], group["sha1"] = [p for p, _ in kept], [h for _, h in kept]
    path.write_text(yaml.dump(data, Dumper=_Dumper, sort_keys=False))
    # A system directory: its package makes it on a real machine.
    (root / HOSTILE_PATH / "systemd").mkdir(parents=True)


def file_playbook(ansible_dir: Path) -> Path:
    """site.yml's first play with only its file tasks (and no handler to notify)."""
    plays: list[dict[str, Any]] = yaml.load((ansible_dir / "site.yml").read_text(), Loader=_Loader)
    play = plays[0]
    tasks = [dict(t) for t in play["tasks"] if t["name"] in FILE_TASKS]
    assert [t["name"] for t in tasks] == list(FILE_TASKS)
    for task in tasks:
        task.pop("notify", None)
    path = ansible_dir / "files-only.yml"
    path.write_text(yaml.dump([{"name": play["name"], "hosts": "local", "gather_facts": False,
                                "tasks": tasks}], Dumper=_Dumper, sort_keys=False))
    return path


def play(ansible_dir: Path, playbook: Path, *extra: str, ok: bool = True) -> str:
    # The venv's Python runs the modules (the box's default python3 is pyenv's).
    result = run_tool("ansible-playbook", ["-c", "local", "-e",
                                           f"ansible_python_interpreter={sys.executable}",
                                           str(playbook), *extra], ansible_dir)
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
    return result.stdout


def recap_changed(output: str) -> int:
    match = re.search(r"local\s+:\s+ok=\d+\s+changed=(\d+)", output)
    assert match, output
    return int(match.group(1))


def test_copy_tasks_are_literal_idempotent_and_show_drift(tmp_path: Path) -> None:
    root = tmp_path / "target"
    ansible_dir = render_tree(topology(root), tmp_path / "out")
    inventory = (ansible_dir / "inventory.yml").read_text()
    assert f'!unsafe "{root}/{HOSTILE_PATH}/etc/heat"' in inventory
    confine(ansible_dir, root)
    # ansible-inventory hands the values back as written.
    hostvars = inventory_list(ansible_dir, raw=True)["_meta"]["hostvars"]["local"]
    assert hostvars["heat_wsgi_heat_conf"] == {
        "__ansible_unsafe": f"{root}/{HOSTILE_PATH}/etc/heat/heat.conf"}
    playbook = file_playbook(ansible_dir)

    first = play(ansible_dir, playbook)
    heat_conf = root / HOSTILE_PATH / "etc" / "heat" / "heat.conf"
    assert heat_conf.is_file(), first
    assert not (root / "xy").exists()
    assert f"hostile = {HOSTILE_VALUE}" in heat_conf.read_text()
    assert not (ansible_dir / "PWNED").exists() and not Path("PWNED").exists()
    assert heat_conf.stat().st_mode & 0o777 == 0o640
    assert (root / HOSTILE_PATH / "log").stat().st_mode & 0o777 == 0o750
    assert recap_changed(first) > 0

    assert recap_changed(play(ansible_dir, playbook)) == 0

    # Drift: a hand edit shows in a check run, with its diff, and is undone by a run.
    unit = root / HOSTILE_PATH / "systemd" / "heat-engine-1.service"
    rendered = unit.read_text()
    unit.write_text(rendered.replace("Restart=on-failure", "Restart=no"))
    check = play(ansible_dir, playbook, "--check", "--diff")
    assert recap_changed(check) == 1
    assert "-Restart=no" in check and "+Restart=on-failure" in check
    assert unit.read_text() != rendered      # a check run changes nothing
    assert recap_changed(play(ansible_dir, playbook)) == 1
    assert unit.read_text() == rendered

    # A secret file's drift is reported by name only: its diff is never printed.
    heat_conf.write_text(heat_conf.read_text() + "# edited\n")
    check = play(ansible_dir, playbook, "--check", "--diff")
    assert recap_changed(check) == 1 and str(heat_conf) in check and "# edited" not in check


def test_without_unsafe_the_same_inventory_would_be_templated(tmp_path: Path) -> None:
    # The control: drop the tags and Ansible evaluates the path.
    root = tmp_path / "target"
    ansible_dir = render_tree(topology(root), tmp_path / "out")
    confine(ansible_dir, root)
    inventory = ansible_dir / "inventory.yml"
    inventory.write_text(inventory.read_text().replace("!unsafe ", ""))
    output = play(ansible_dir, file_playbook(ansible_dir), ok=False)
    # Ansible made xy of x{#c#}y: directories there, and the copy then
    # looks for a rendered file under the evaluated name.
    assert (root / "xy" / "etc" / "heat").is_dir()
    assert f"{root}/xy/systemd/heat-engine-1.service" in output
    assert not (root / HOSTILE_PATH / "etc").exists()


def test_the_install_part_installs_the_virtualenv_once(tmp_path: Path) -> None:
    """site.yml's optional install part (tag install) for host B of the shipped
    sample, as doc/ansible.rst tells a user to run it: heat_wsgi from a wheel of
    this checkout, pinned by version. (Without the heat extra: openstack-heat's
    100-odd packages would only test pip.)"""
    from importlib.metadata import version

    from conftest import REPO, VENV
    from heat_wsgi.loader import load_topology
    wheels = tmp_path / "wheels"
    subprocess.run([str(VENV / "bin" / "pip"), "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(REPO)], check=True, capture_output=True, timeout=300)
    ansible_dir = render_tree(load_topology(REPO / "etc" / "heat" / "topology.sample.yaml"),
                              tmp_path / "out")
    venv = tmp_path / "venv"
    extra = tmp_path / "install.json"
    extra.write_text(json.dumps({
        "heat_wsgi_install": True, "heat_wsgi_venv": str(venv),
        "heat_wsgi_pip_packages": [f"heat_wsgi=={version('heat_wsgi')}"],
        "heat_wsgi_pip_extra_args": f"--find-links {wheels}",
        # Debian's apt module needs the system Python's python3-apt.
        "ansible_python_interpreter": "/usr/bin/python3"}))

    def install() -> str:
        result = run_tool("ansible-playbook", ["-c", "local", "--limit", "B", "--tags", "install",
                                               "-e", f"@{extra}", "site.yml"], ansible_dir,
                          timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def changed(output: str) -> int:
        match = re.search(r"\nB\s+:\s+ok=\d+\s+changed=(\d+)", output)
        assert match, output
        return int(match.group(1))

    first = install()
    assert "Install the OS packages" in first and "Install the Heat virtualenv" in first
    assert changed(first) >= 1, first
    probe = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import heat_wsgi, importlib.metadata as m; "
                            "print(m.version('heat_wsgi'), heat_wsgi.__file__)"],
                           capture_output=True, text=True, timeout=60, check=True,
                           cwd=tmp_path).stdout   # (not the checkout's heat_wsgi/)
    assert probe.startswith(version("heat_wsgi")) and str(venv) in probe, probe
    assert changed(install()) == 0
