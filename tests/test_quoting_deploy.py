"""The quoting functions of the deployment formats, each read back by its reader:
YAML (Ansible's !unsafe included), MariaDB option files (my_print_defaults),
shell (sh), and the refusals of SQL identifiers and tmpfiles.d fields."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from heat_wsgi.quoting import (
    UnsafeValue, mysql_option, shell_env, sql_identifier, sql_string, tmpfiles_field, yaml_key,
    yaml_str,
)

safe_text = st.text(st.characters(blacklist_categories=("Cc", "Zl", "Zp", "Cs")), max_size=30)


class Unsafe(str):
    pass


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!unsafe", lambda loader, node: Unsafe(loader.construct_scalar(node)))


@settings(max_examples=300, deadline=None)
@given(safe_text)
def test_yaml_str_reads_back_and_tags_every_template_marker(value: str) -> None:
    loaded = yaml.load(f"k: {yaml_str(value)}\n", Loader=_Loader)["k"]
    assert loaded == value and isinstance(loaded, str)
    assert isinstance(loaded, Unsafe) == ("{" in value or "%" in value)


@pytest.mark.parametrize("value", ["yes", "No", "on", "true", "null", "1.5", "0600", "~", "",
                                   "- x", "a: b", "#x", "*x", "&x", "!x", "@x", "`x", "'", '"'])
def test_yaml_str_keeps_yaml_words_and_indicators_strings(value: str) -> None:
    assert yaml.load(f"k: {yaml_str(value)}\n", Loader=_Loader)["k"] == value


@pytest.mark.parametrize(("quote", "value", "expected"), [
    (yaml_str, "/etc/heat/heat.conf", "/etc/heat/heat.conf"),
    (yaml_str, "10.0.0.1", '"10.0.0.1"'),
    (yaml_str, "{{ x }}", '!unsafe "{{ x }}"'),
    (yaml_str, "100%", '!unsafe "100%"'),
    (sql_string, "it's", "'it''s'"),
    (sql_string, "a\\b", "'a\\\\b'"),
    (sql_identifier, "he`at", "`he``at`"),
])
def test_quoting_examples(quote: Callable[[str], str], value: str, expected: str) -> None:
    assert quote(value) == expected


@pytest.mark.parametrize(("quote", "value"), [
    (yaml_str, "a\nb"),
    (yaml_key, "{{ x }}"),
    (sql_identifier, ""),
    (sql_string, "a\x00b"),
])
def test_quoting_refuses(quote: Callable[[str], str], value: str) -> None:
    with pytest.raises(UnsafeValue):
        quote(value)


@pytest.mark.skipif(shutil.which("my_print_defaults") is None, reason="needs MariaDB's client")
@pytest.mark.parametrize("value", ['pa"ss', "pa\\ss", "a#b", "with space", " lead", "x'y",
                                   "\\n", "end\\"])
def test_mysql_option_reads_back_through_my_print_defaults(value: str, tmp_path: Path) -> None:
    cnf = tmp_path / "x.cnf"
    cnf.write_text(f"[mysql]\npassword = {mysql_option(value)}\n")
    out = subprocess.run(["my_print_defaults", f"--defaults-file={cnf}", "mysql"],
                         capture_output=True, text=True, check=True).stdout
    assert out == f"--password={value}\n"


@settings(max_examples=60, deadline=None)
@given(safe_text)
def test_shell_env_reads_back_through_sh(value: str) -> None:
    out = subprocess.run(["sh", "-c", f"X={shell_env(value)}; printf %s \"$X\""],
                         capture_output=True, text=True, check=True).stdout
    assert out == value


def test_tmpfiles_field_doubles_specifiers_and_refuses_spaces() -> None:
    assert tmpfiles_field("/run/heat") == "/run/heat"
    assert tmpfiles_field("/run/h%t") == "/run/h%%t"
    for bad in ("/run/a b", "", "/run/a\\x"):
        with pytest.raises(UnsafeValue):
            tmpfiles_field(bad)
