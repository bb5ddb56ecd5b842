"""Quoting: each format's function, parsed back by that format's rules."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oslo_config import cfg

from heat_wsgi.quoting import (
    UnsafeValue, apache_arg, dot_string, haproxy_word, ini_value, python_str, systemd_exec_arg,
    systemd_value, unsafe_reason, uwsgi_value,
)

ALL = (ini_value, uwsgi_value, apache_arg, haproxy_word, systemd_value, systemd_exec_arg,
       python_str, dot_string)
safe_text = st.text(st.characters(blacklist_categories=("Cc", "Zl", "Zp", "Cs")), max_size=30)


@pytest.mark.parametrize("quote", ALL)
@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "x\x00", "\x1b[31m", "a\u2028b", "\x7f"])
def test_control_characters_are_refused_everywhere(quote: object, bad: str) -> None:
    with pytest.raises(UnsafeValue):
        quote(bad)  # type: ignore[operator]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20))
def test_every_function_refuses_or_stays_on_one_line(value: str) -> None:
    for quote in ALL:
        try:
            out = quote(value)
        except UnsafeValue:
            continue
        assert unsafe_reason(out) is None
        assert "\n" not in out and "\r" not in out


def test_ini_value_examples() -> None:
    assert ini_value("plain") == "plain"
    assert ini_value("$x") == "$$x"
    assert ini_value(" pad ") == '" pad "'
    assert ini_value('"q"') == '""q""'
    assert ini_value("") == ""


@settings(max_examples=60, deadline=None)
@given(safe_text)
def test_ini_value_reads_back_through_oslo_config(value: str) -> None:
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.conf"
        path.write_text(f"[DEFAULT]\nv = {ini_value(value)}\n", encoding="utf-8")
        conf = cfg.ConfigOpts()
        conf.register_opt(cfg.StrOpt("v"))
        conf(args=[], default_config_files=[str(path)], project="q")
        assert conf.v == value


def _apache_words(line: str) -> list[str]:
    """Split a directive line like httpd's ap_getword_conf."""
    words, i = [], 0
    while i < len(line):
        if line[i].isspace():
            i += 1
            continue
        if line[i] in "\"'":
            quote, j, out = line[i], i + 1, []
            while j < len(line) and line[j] != quote:
                if line[j] == "\\" and j + 1 < len(line) and line[j + 1] in (quote, "\\"):
                    j += 1
                out.append(line[j])
                j += 1
            assert j < len(line), "unterminated quote"
            words.append("".join(out))
            i = j + 1
        else:
            j = i
            while j < len(line) and not line[j].isspace():
                j += 1
            words.append(line[i:j])
            i = j
    return words


@settings(max_examples=300, deadline=None)
@given(safe_text)
def test_apache_arg_is_one_word(value: str) -> None:
    try:
        out = apache_arg(value)
    except UnsafeValue:
        assert "${" in value
        return
    assert _apache_words(f"Directive {out} next") == ["Directive", value, "next"]


@pytest.mark.parametrize("value", ['a\\"b c', "ends\\", "two\\\\back", 'q"'])
def test_apache_arg_escapes_backslashes_before_quotes(value: str) -> None:
    # httpd reads \\ as one backslash inside quotes: a lone one before the
    # closing quote would end the word early.
    assert _apache_words(f"Directive {apache_arg(value)} next") == ["Directive", value, "next"]


@settings(max_examples=300, deadline=None)
@given(safe_text)
def test_haproxy_word_is_one_word(value: str) -> None:
    try:
        out = haproxy_word(value)
    except UnsafeValue:
        assert "'" in value
        return
    if out.startswith("'"):
        assert out == f"'{value}'" and "'" not in value
    else:
        assert out == value and not any(c in value for c in " \t#\\\"'$")


@settings(max_examples=300, deadline=None)
@given(safe_text)
def test_systemd_exec_arg_splits_back(value: str) -> None:
    out = systemd_exec_arg(value)
    # systemd unquotes like a POSIX shell here, then undoes %% and $$.
    words = shlex.split(f"/bin/x {out} tail")
    assert words[0] == "/bin/x" and words[-1] == "tail" and len(words) == 3
    assert words[1].replace("%%", "%").replace("$$", "$") == value


def test_systemd_value_escapes_specifiers() -> None:
    assert systemd_value("100%") == "100%%"
    with pytest.raises(UnsafeValue):
        systemd_value("ends with \\")


@pytest.mark.parametrize("value", ["%n", "$(HOME)", "@(file)", " lead", "# comment"])
def test_uwsgi_refuses_what_it_would_expand(value: str) -> None:
    with pytest.raises(UnsafeValue):
        uwsgi_value(value)


@settings(max_examples=200, deadline=None)
@given(safe_text)
def test_python_str_is_a_literal(value: str) -> None:
    import ast
    assert ast.literal_eval(python_str(value)) == value
