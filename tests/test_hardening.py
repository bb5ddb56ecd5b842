"""Issue 11, items 1-2 and 4-6: files read, secrets and escapes printed, loopback spellings, bounded work."""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from pathlib import Path

import pytest

from heat_wsgi.cli import main
from heat_wsgi.derive.addresses import is_loopback, rewrite_url_loopback, url_hosts
from heat_wsgi.diagram import render_diagram
from heat_wsgi.errors import HeatWsgiError, TopologyError
from heat_wsgi.loader import load_topology, loads_topology
from heat_wsgi.redact import mask_secrets
from heat_wsgi.validate import validate
from conftest import REPO

# The guide's legacy base file: its sql_connection carries odd loopback spellings.
SAMPLE = REPO / "etc" / "heat" / "topology.legacy.yaml"
SAMPLE_TEXT = SAMPLE.read_text()


def _with_base_file(tmp_path: Path, target: str) -> Path:
    head, _, _ = SAMPLE_TEXT.partition("base_config: |")
    path = tmp_path / "t.yaml"
    path.write_text(head + f"base_config_file: {target!r}\n")
    return path


# -- item 1: base_config_file ---------------------------------------------------------

@pytest.mark.parametrize("target", ["/etc/shadow", "/proc/self/environ", "/dev/zero", "FIFO",
                                    "/etc/passwd", "../outside.conf"])
def test_base_config_file_outside_or_special_is_refused_at_once(
        tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]) -> None:
    if target == "FIFO":
        os.mkfifo(tmp_path / "fifo.conf")
        target = "fifo.conf"
    if target.startswith(".."):
        (tmp_path.parent / "outside.conf").write_text("[DEFAULT]\npassword = hunter2\n")
    path = _with_base_file(tmp_path, target)
    started = time.monotonic()
    assert main(["validate", str(path)]) == 2
    assert time.monotonic() - started < 5
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "base_config_file" in err and "hunter2" not in err and "root:" not in err


def test_base_config_file_must_be_regular_even_when_widened(tmp_path: Path) -> None:
    path = _with_base_file(tmp_path, "/dev/zero")
    with pytest.raises(TopologyError, match="regular file"):
        load_topology(path, base_config_anywhere=True)


def test_base_config_file_size_is_bounded(tmp_path: Path) -> None:
    (tmp_path / "big.conf").write_text("[DEFAULT]\n" + "# x\n" * 300_000)
    with pytest.raises(TopologyError, match="larger than"):
        load_topology(_with_base_file(tmp_path, "big.conf"))


def test_widened_base_config_file_outside_the_directory(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "etc"
    other.mkdir()
    (other / "heat.conf").write_text(SAMPLE_TEXT.partition("base_config: |\n")[2].replace("\n  ", "\n")[2:])
    sub = tmp_path / "topo"
    sub.mkdir()
    path = _with_base_file(sub, str(other / "heat.conf"))
    assert main(["validate", str(path)]) == 2
    capsys.readouterr()
    assert main(["validate", "--base-config-anywhere", str(path)]) == 0
    assert load_topology(path, base_config_anywhere=True).base_config.startswith("[DEFAULT]")


def test_base_config_problems_name_file_line_and_key_not_the_line(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "base.conf").write_text(
        "[DEFAULT]\ndebug = false\n\n  password = hunter2\nsecret_line hunter3\n[database\n")
    assert main(["validate", str(_with_base_file(tmp_path, "base.conf"))]) == 1
    out = capsys.readouterr().out
    assert "hunter2" not in out and "hunter3" not in out
    assert f"{tmp_path / 'base.conf'}:4" in out and f"{tmp_path / 'base.conf'}:5" in out
    assert "[DEFAULT] after debug" in out   # the section and option the line follows


# -- item 2: secrets --------------------------------------------------------------------

@pytest.mark.parametrize("password", ["s3cret", "pa/ss", "pa#ss", "pa?ss", "p@ss", "pa ss", "p:a,ss"])
def test_mask_secrets_hides_every_password(password: str) -> None:
    for url in (f"mysql+pymysql://heat:{password}@127.0.0.1/heat",
                f"rabbit://heat:{password}@127.0.0.1:5672,heat:{password}@10.0.0.2:5672/"):
        masked = mask_secrets(url)
        assert password not in masked and "heat:***@" in masked


def test_control_character_error_masks_the_database_url() -> None:
    text = SAMPLE_TEXT.replace(
        "  url: mysql+pymysql://heat:heat-db-secret@127.0.0.1/heat?charset=utf8\n",
        "  url: |\n    mysql+pymysql://heat:pa/ss#x@127.0.0.1/heat\n")
    problems = validate(loads_topology(text))
    shown = "\n".join(map(str, problems))
    assert "database.url" in shown and "pa/ss" not in shown and "heat:***@" in shown


def test_password_keys_are_masked() -> None:
    text = SAMPLE_TEXT.replace("  [paste_deploy]\n", "  [keystone_authtoken]\n  password = \"hunter2\x07\"\n  [paste_deploy]\n")
    shown = "\n".join(map(str, validate(loads_topology(text.replace("\x07", "\\a")))))
    text = SAMPLE_TEXT + "heat_conf:\n  keystone_authtoken:\n    password: \"hunter2\\a\"\n"
    shown += "\n".join(map(str, validate(loads_topology(text))))
    assert "keystone_authtoken.password" in shown and "hunter2" not in shown


# -- item 4: loopback spellings -----------------------------------------------------------

LOOPBACKS = ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "0:0:0:0:0:0:0:1", "localhost.", "LOCALHOST",
             "Localhost.Localdomain", "::ffff:127.0.0.1", "[::ffff:127.0.0.1]", "127.1", "2130706433",
             "0x7f000001", "0177.0.0.1", "0x7f.1", "017700000001", "::1%lo", "ip6-localhost"]


@pytest.mark.parametrize("host", LOOPBACKS)
def test_loopback_spellings(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1",
                                  "0x7f.1", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1",
                                  "LOCALHOST"])
def test_the_spellings_resolve_to_loopback_as_the_client_libraries_do(host: str) -> None:
    # PyMySQL and py-amqp connect through socket.getaddrinfo: what it takes, they take.
    infos = socket.getaddrinfo(host, 3306, type=socket.SOCK_STREAM)
    assert infos and all(is_loopback(str(info[4][0])) for info in infos)


@pytest.mark.parametrize("host", ["10.0.0.2", "127.0.0.1.example.com", "localhostx", "0x7g.0.0.1",
                                  "::2", "::ffff:10.0.0.1", "db"])
def test_not_loopback(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize("password", ["pa/ss", "pa#ss", "pa?ss"])
def test_db_url_with_special_password_is_rewritten(password: str) -> None:
    url = f"mysql+pymysql://heat:{password}@127.0.0.1/heat"
    assert url_hosts(url) == ["127.0.0.1"]
    assert rewrite_url_loopback(url, "10.0.0.1") == f"mysql+pymysql://heat:{password}@10.0.0.1/heat"


@pytest.mark.parametrize("host", ["127.1", "[::1]", "LOCALHOST", "0x7f000001", "[::ffff:127.0.0.1]"])
def test_remote_host_with_odd_loopback_in_base_config_is_reported(host: str) -> None:
    text = SAMPLE_TEXT.replace("sql_connection = mysql+pymysql://heat:heat-db-secret@127.0.0.1/",
                               f"sql_connection = mysql+pymysql://heat:heat-db-secret@{host}/")
    text = text.replace("database:\n  # Written", "unused:\n  # Written", 1)
    text = text.partition("unused:")[0] + "message_bus:" + text.partition("message_bus:")[2]
    problems = [str(p) for p in validate(loads_topology(text)) if "loopback" in p.message]
    assert problems and all("heat-db-secret" not in p for p in problems)


@pytest.mark.parametrize("password", ["pa/ss", "pa#ss", "pa?ss"])
def test_amqp_url_with_unencoded_password_is_reported(password: str) -> None:
    text = SAMPLE_TEXT.replace("rabbit://heat:heat-mq-secret@", f"rabbit://heat:{password}@")
    shown = [str(p) for p in validate(loads_topology(text)) if p.path == "message_bus.transport_url"]
    assert any("percent-encode" in p for p in shown) and not any(password in p for p in shown)


# -- item 5: bounded work ------------------------------------------------------------------

def test_yaml_alias_bomb_is_refused_quickly() -> None:
    lines = ['a0: &a0 {k: "v"}']
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    text = "name: x\nheat_conf:\n  DEFAULT: {}\nbomb:\n" + "\n".join("  " + l for l in lines) + "\n"
    started = time.monotonic()
    with pytest.raises(TopologyError, match="alias"):
        loads_topology(text)
    assert time.monotonic() - started < 2


def test_document_size_is_bounded() -> None:
    with pytest.raises(TopologyError, match="larger than"):
        loads_topology("name: x\n" + "# padding\n" * 3_000_000)


def test_deep_nesting_is_one_error_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(TopologyError, match="nested"):
        loads_topology("name: " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(TopologyError, match="nested"):
        loads_topology("name:\n" + "".join(" " * i + "- \n" for i in range(2_000)))
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("old, new, field", [
    ("- {host: B, processes: 2}", "- {host: B, processes: 1000000000000}", "engines[B].processes"),
    ("- {host: B, processes: 2}", "- {host: B, workers: 100000000}", "engines[B].workers"),
    ("processes: 2, threads: 1}", "processes: 100000000, threads: 4}", "api_instances[rest-server-1].processes"),
    ("processes: 2, threads: 1}", "processes: 2, threads: 100000000}", "api_instances[rest-server-1].threads"),
])
def test_process_counts_are_bounded(old: str, new: str, field: str) -> None:
    text = SAMPLE_TEXT.replace(old, new, 1).replace("  max_connections: 151      # MariaDB's default\n", "")
    problems = [p for p in validate(loads_topology(text)) if p.severity == "error"]
    assert any(p.path == field and "at most" in p.message for p in problems), problems


# -- item 6: crashes and escapes -------------------------------------------------------------

def test_lone_surrogate_is_refused_by_validation() -> None:
    text = SAMPLE_TEXT + 'heat_conf:\n  DEFAULT:\n    x: "a\\udc80b"\n'
    assert any("surrogate" in p.message for p in validate(loads_topology(text)))
    text = SAMPLE_TEXT.replace("  flavor = noauth\n", '  flavor = noauth\n') .replace(
        "base_config: |\n", "base_config: \"[DEFAULT]\\nx = \\udc80\\n\"\nunused: |\n")
    text = text.partition("unused: |")[0]
    problems = validate(loads_topology(text))
    assert any(p.path == "base_config" and "UTF-8" in p.message for p in problems)


@pytest.mark.parametrize("field", ["user", "group", "web_group"])
def test_every_user_and_group_field_is_checked(field: str) -> None:
    topology = loads_topology(SAMPLE_TEXT)
    host = topology.hosts[1]
    bad = dataclasses.replace(host, **{field: "www-data root"})
    topology = dataclasses.replace(topology, hosts=(topology.hosts[0], bad) + topology.hosts[2:])
    assert any(p.path == f"hosts[B].{field}" for p in validate(topology))


def test_problem_paths_and_sources_are_escaped() -> None:
    text = SAMPLE_TEXT.replace("name: rest-server-1", "name: \"rest\\e[31m\\nserver\"")
    shown = "\n".join(map(str, validate(loads_topology(text, filename="t\x1b.yaml"))))
    assert "\x1b" not in shown and "\\x1b" in shown
    assert all(line.startswith(("error:", "warning:")) for line in shown.splitlines())


def test_diagram_escapes_names() -> None:
    text = SAMPLE_TEXT.replace("name: rest-server-1", "name: \"rest\\e[31m\\nserver\"")
    text = text.replace("name: scaling-sample", "name: \"x\\e]0;owned\\a\"")
    drawn = render_diagram(loads_topology(text))
    assert "\x1b" not in drawn and "\x07" not in drawn and "rest\\x1b[31m\\nserver" in drawn
    try:
        dot = render_diagram(loads_topology(text), "dot")
    except HeatWsgiError as exc:
        dot = str(exc)
    assert "\x1b" not in dot


def test_cli_error_lines_are_masked_and_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = SAMPLE_TEXT.replace("name: rest-server-1", "name: \"rest\\e[31m\"").replace(
        "heat:heat-db-secret@", "heat:heat-db-secret\\x07@").replace("  url: mysql", '  url: "mysql', 1)
    text = text.replace("?charset=utf8\n  host: A", "?charset=utf8\"\n  host: A", 1)
    path = tmp_path / "t.yaml"
    path.write_text(text)
    assert main(["diagram", "--format", "dot", str(path)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and len(err.splitlines()) == 1


def test_upper_case_section_is_what_validation_reads() -> None:
    # oslo.config files [Database] under "database": host B would use this loopback URL.
    text = SAMPLE_TEXT.replace("  sql_connection = mysql+pymysql://heat:heat-db-secret@127.0.0.1/heat?charset=utf8\n", "")
    text = text.replace("  [paste_deploy]\n", "  [Database]\n  connection = mysql+pymysql://heat:x@127.0.0.1/heat\n  [paste_deploy]\n")
    text = text.partition("database:\n")[0] + "message_bus:" + text.partition("message_bus:")[2]
    problems = validate(loads_topology(text))
    assert any(p.path == "base_config.database.connection" and "loopback" in p.message for p in problems)
    assert not any("has no [database] connection" in p.message for p in problems)
