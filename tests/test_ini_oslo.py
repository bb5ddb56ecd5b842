"""heat.conf read as oslo.config reads it: derive.ini against oslo.config's own parser.

Differential property test on generated files (sections in any case,
quotes, continuation lines, ``$`` and ``\\$``, comments, CR line ends), and a
round trip of every value through ``quoting.ini_value`` and oslo.config.
Longer run: ``HEAT_WSGI_HYPOTHESIS_SCALE=100 pytest tests/test_ini_oslo.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oslo_config import cfg

from heat_wsgi.derive.ini import parse_ini, syntax_errors
from heat_wsgi.quoting import UnsafeValue, ini_value
from conftest import hypothesis_examples

_SECTIONS = st.sampled_from(["DEFAULT", "Default", "database", "Database", "DATABASE", "x", "X_y"])
_KEYS = st.sampled_from(["a", "b", "conn", "Conn", "host", "x_1"])
_VALUE_CHARS = st.sampled_from(list("ab$\\{}\"' =:#;.[]\t") + ["$$", "\\$", "${a}", "$b", "$a.b",
                                                               "\xa0", "é", "\x0c"])
_VALUES = st.lists(_VALUE_CHARS, max_size=8).map("".join)


@st.composite
def _lines(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["section", "option", "option", "option", "continuation", "comment",
                                 "blank", "junk"]))
    if kind == "section":
        return f"[{draw(_SECTIONS)}]"
    if kind == "option":
        sep = draw(st.sampled_from(["=", " = ", ":", " : ", "= ", " =\t"]))
        return f"{draw(_KEYS)}{sep}{draw(_VALUES)}"
    if kind == "continuation":
        return draw(st.sampled_from([" ", "\t", "   "])) + draw(_VALUES)
    if kind == "comment":
        return draw(st.sampled_from(["#", ";"])) + draw(_VALUES)
    if kind == "blank":
        return draw(st.sampled_from(["", "  ", "\t"]))
    return draw(st.sampled_from(["[", "[]", "= x", "novalue", "[a] b"]))


_FILES = st.tuples(st.sampled_from(["[DEFAULT]", "[database]", ""]),
                   st.lists(_lines(), max_size=12),
                   st.sampled_from(["\n", "\r\n", "\r"])).map(
    lambda t: t[2].join([t[0], *t[1]]) + t[2])


def _oslo_read(text: str) -> dict[tuple[str, str], str] | None:
    """What oslo.config reads from ``text`` (None: it refuses the file).

    Every (section, key) its parser sees is registered as a StrOpt; a value
    whose substitution fails in oslo.config is left out.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "heat.conf"
        path.write_bytes(text.encode("utf-8"))
        sections: dict[str, dict[str, list[str]]] = {}
        normalized: dict[str, dict[str, list[str]]] = {}
        parser = cfg.ConfigParser(str(path), sections)
        parser._add_normalized(normalized)
        try:
            parser.parse()
        except cfg.ParseError:
            return None
        conf = cfg.ConfigOpts()
        for group, keys in normalized.items():
            for key in keys:
                conf.register_opt(cfg.StrOpt(key), group=None if group == "DEFAULT" else group)
        conf(args=[], default_config_files=[str(path)], use_env=False)
        result: dict[tuple[str, str], str] = {}
        for group, keys in normalized.items():
            for key in keys:
                try:
                    value = conf[key] if group == "DEFAULT" else conf[group][key]
                except (cfg.Error, RecursionError, ValueError, AttributeError):
                    continue
                result[(group, key)] = value
        return result


@settings(max_examples=hypothesis_examples(150), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(_FILES)
def test_ini_reads_as_oslo_config_does(text: str) -> None:
    expected = _oslo_read(text)
    errors = syntax_errors(text)
    if expected is None:
        assert errors, f"oslo.config refuses {text!r}, derive.ini does not"
        return
    assert not errors, f"oslo.config reads {text!r}, derive.ini refuses it: {errors}"
    ours = parse_ini(text)
    assert set(ours) == {k for k in ours} and set(expected) <= set(ours)
    for key, value in expected.items():
        assert ours[key] == value, (text, key)


@pytest.mark.parametrize("text, key, value", [
    ("[DEFAULT]\np = pa\\$x\n", ("DEFAULT", "p"), "pa$x"),
    ("[Database]\nconnection = x\n", ("database", "connection"), "x"),
    ("[DEFAULT]\nv = \"abc\"\n  def\n", ("DEFAULT", "v"), "abc\ndef"),
    ("[DEFAULT]\nv = \"abc\n  def\"\n", ("DEFAULT", "v"), "\"abc\ndef\""),
    ("[DEFAULT]\na = 1\nb = $a-${a}\n", ("DEFAULT", "b"), "1-1"),
    ("[x]\nb = $a\n[DEFAULT]\na = d\n", ("x", "b"), "d"),
])
def test_known_meaning_changes(text: str, key: tuple[str, str], value: str) -> None:
    assert parse_ini(text)[key] == value
    assert _oslo_read(text) == parse_ini(text) or _oslo_read(text)[key] == value  # type: ignore[index]


_ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=30)


@settings(max_examples=hypothesis_examples(200), deadline=None)
@given(_ANY_TEXT | _VALUES)
def test_ini_value_round_trips_through_oslo_config(value: str) -> None:
    try:
        quoted = ini_value(value)
    except UnsafeValue as exc:
        assert exc.reason   # refused values are refused with a reason validation reports
        return
    text = f"[DEFAULT]\nopt = {quoted}\n"
    assert _oslo_read(text) == {("DEFAULT", "opt"): value}
    assert parse_ini(text) == {("DEFAULT", "opt"): value}
