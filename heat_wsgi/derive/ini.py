r"""heat.conf as oslo.config reads it: values, the line of each option, syntax errors.

``configparser`` drops comments and rejects repeated keys, so the text is read
line by line, the way ``oslo_config.iniparser`` and ``ConfigOpts`` do: lines
end at ``\n``, ``\r\n`` or ``\r`` only; one pair of outer quotes comes off
the first line's value (before continuation lines are joined); an indented
line continues the value above; section names other than ``DEFAULT`` are
lowercased (``[Database]`` is ``[database]``); the last occurrence of a key
wins; and then ``\$`` and ``$$`` are a literal ``$`` while ``$name`` and
``${name}`` substitute another option (same section, else ``DEFAULT``). The
editor that writes heat.conf (:mod:`heat_wsgi.render.inifile`) works on the
same :func:`parse_lines`. ``tests/test_ini_oslo.py`` checks all this against
oslo.config itself.
"""

from __future__ import annotations

import functools
import io
import string
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Key", "IniSyntaxError", "Entry", "ParsedIni", "parse_lines", "parse_ini",
           "option_lines", "normalize_section", "substitutions", "syntax_errors"]

#: An option: ``(section, key)``.
Key = tuple[str, str]

@dataclass(frozen=True, slots=True)
class IniSyntaxError:
    """A line oslo.config would refuse to read.

    ``line`` is the text itself, for the editor only: messages give
    :attr:`lineno` and :attr:`where`, never the line (it may hold a password).
    """

    lineno: int
    message: str
    line: str
    where: str = ""   #: the section and the option before the line: "[DEFAULT] after debug"


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``key = value`` of the text, with its continuation lines."""

    section: str | None   # normalized (:func:`normalize_section`)
    key: str
    start: int        # index of the ``key = value`` line
    end: int          # one past its last continuation line
    raw: str          # value before substitution: outer quotes off, continuation lines joined by "\n"


@dataclass(frozen=True, slots=True)
class ParsedIni:
    """The text split into lines, options, section headers and refused lines."""

    lines: tuple[str, ...]
    entries: tuple[Entry, ...]
    headers: tuple[tuple[str, int], ...]   # (normalized section, line index), in order
    errors: tuple[IniSyntaxError, ...]


def normalize_section(section: str) -> str:
    """The group oslo.config files a section under: ``DEFAULT`` as is, any other lowercased."""
    return section if section == "DEFAULT" else section.lower()


def _split(line: str) -> tuple[str, str] | None:
    colon, equal = line.find(":"), line.find("=")
    if colon < 0 and equal < 0:
        return None
    cut = equal if colon < 0 or (0 <= equal < colon) else colon
    value = line[cut + 1:].strip()
    # oslo.config unquotes the first line alone, before any continuation.
    if value and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return line[:cut].strip(), value


def _split_lines(text: str) -> tuple[str, ...]:
    """Lines as ``open()`` gives them to oslo.config (``str.splitlines`` also breaks at \\x0c, \\x85...)."""
    return tuple(line.removesuffix("\n") for line in io.StringIO(text, newline=None))


@functools.lru_cache(maxsize=64)
def parse_lines(text: str) -> ParsedIni:
    """Read ``text`` line by line as oslo.config does (cached: one base text serves every file)."""
    lines = _split_lines(text)
    entries: list[Entry] = []
    headers: list[tuple[str, int]] = []
    errors: list[IniSyntaxError] = []
    section: str | None = None
    current: tuple[str | None, str, int, list[str]] | None = None
    last_key: str | None = None

    def error(index: int, message: str, original: str) -> None:
        where = f"[{section}]" if section is not None else "before any section"
        if last_key is not None:
            where += f" after {last_key}"
        errors.append(IniSyntaxError(index + 1, message, original, where))

    def flush(end: int) -> None:
        nonlocal current
        if current is not None:
            sec, key, start, parts = current
            entries.append(Entry(sec, key, start, end, "\n".join(parts)))
            current = None

    for index, original in enumerate(lines):
        line = original.rstrip()
        if not line:
            flush(index)
            continue
        if line[0] in " \t":
            if current is None:
                error(index, "continuation line with nothing to continue", original)
            else:
                current[3].append(line.lstrip())
            continue
        flush(index)
        if line.startswith("["):
            if not line.endswith("]") or len(line) <= 2:
                error(index, "section header must be '[name]'", original)
                continue
            section = normalize_section(line[1:-1])
            headers.append((section, index))
            last_key = None
        elif line.startswith(("#", ";")):
            continue
        else:
            split = _split(line)
            if split is None or not split[0]:
                error(index, "not a 'key = value' line", original)
                continue
            if section is None:
                error(index, "option before any [section]", original)
            current = (section, split[0], index, [split[1]])
            last_key = split[0]
    flush(len(lines))
    return ParsedIni(lines, tuple(entries), tuple(headers), tuple(errors))


class _Template(string.Template):
    idpattern = r"[_a-z][\._a-z0-9]*"    # oslo.config's (string.Template ignores case)


class _Lookup(Mapping[str, str]):
    """Option values for ``$name`` in ``section``; a KeyError leaves ``$name`` as written."""

    def __init__(self, raw: dict[Key, str], section: str, stack: tuple[Key, ...]) -> None:
        self.raw, self.section, self.stack = raw, section, stack

    def __getitem__(self, name: str) -> str:
        group, dot, option = name.partition(".")
        candidates = [(group, option)] if dot else []
        candidates += [(self.section, name), ("DEFAULT", name)] if not dot else [("DEFAULT", name)]
        for key in candidates:
            if key in self.raw:
                if key in self.stack or len(self.stack) > 32:
                    raise KeyError(name)   # oslo.config recurses until it fails
                return _substitute(self.raw, key, self.stack)
        raise KeyError(name)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(())

    def __len__(self) -> int:
        return 0


def _substitute(raw: dict[Key, str], key: Key, stack: tuple[Key, ...] = ()) -> str:
    value = raw[key]
    if "$" not in value:
        return value
    # oslo.config reads "\$" as "$$" (a literal "$").
    value = value.replace("\\$", "$$")
    return _Template(value).safe_substitute(_Lookup(raw, key[0], stack + (key,)))


def substitutions(value: str) -> list[str]:
    """The option names ``value`` (as written, before substitution) refers to."""
    found = []
    for match in _Template.pattern.finditer(value.replace("\\$", "$$")):
        name = match.group("named") or match.group("braced")
        if name:
            found.append(name)
    return found


def syntax_errors(text: str) -> tuple[IniSyntaxError, ...]:
    """Lines of ``text`` that oslo.config would refuse."""
    return parse_lines(text).errors


def parse_ini(text: str) -> dict[Key, str]:
    """``(section, key) -> value`` as oslo.config would read it (last one wins)."""
    raw: dict[Key, str] = {}
    for entry in parse_lines(text).entries:
        if entry.section is not None:
            raw[(entry.section, entry.key)] = entry.raw
    return {key: _substitute(raw, key) for key in raw}


def option_lines(text: str) -> dict[Key, int]:
    """``(section, key) -> 1-based line`` of the occurrence oslo.config reads (the last)."""
    return {(e.section, e.key): e.start + 1 for e in parse_lines(text).entries if e.section is not None}
