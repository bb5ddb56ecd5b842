"""heat.conf as oslo.config reads it: values, the line of each option, syntax errors.

``configparser`` drops comments and rejects repeated keys, so the text is read
line by line, the way ``oslo_config.iniparser`` does: one pair of outer quotes
comes off, ``$$`` is a literal ``$``, an indented line continues the value
above, and the last occurrence of a key wins. The editor that writes heat.conf
(:mod:`heat_wsgi.render.inifile`) works on the same :func:`parse_lines`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

__all__ = ["Key", "IniSyntaxError", "Entry", "ParsedIni", "parse_lines", "parse_ini",
           "option_lines", "unquote", "syntax_errors"]

#: An option: ``(section, key)``.
Key = tuple[str, str]

@dataclass(frozen=True, slots=True)
class IniSyntaxError:
    """A line oslo.config would refuse to read."""

    lineno: int
    message: str
    line: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``key = value`` of the text, with its continuation lines."""

    section: str | None
    key: str
    start: int        # index of the ``key = value`` line
    end: int          # one past its last continuation line
    raw: str          # value text as written, continuation lines joined by "\n"


@dataclass(frozen=True, slots=True)
class ParsedIni:
    """The text split into lines, options, section headers and refused lines."""

    lines: tuple[str, ...]
    entries: tuple[Entry, ...]
    headers: tuple[tuple[str, int], ...]   # (section, line index), in order
    errors: tuple[IniSyntaxError, ...]


def _split(line: str) -> tuple[str, str] | None:
    colon, equal = line.find(":"), line.find("=")
    if colon < 0 and equal < 0:
        return None
    cut = equal if colon < 0 or (0 <= equal < colon) else colon
    return line[:cut].strip(), line[cut + 1:]


@functools.lru_cache(maxsize=64)
def parse_lines(text: str) -> ParsedIni:
    """Read ``text`` line by line as oslo.config does (cached: one base text serves every file)."""
    lines = tuple(text.splitlines())
    entries: list[Entry] = []
    headers: list[tuple[str, int]] = []
    errors: list[IniSyntaxError] = []
    section: str | None = None
    current: tuple[str | None, str, int, list[str]] | None = None

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
                errors.append(IniSyntaxError(index + 1, "continuation line with nothing to continue", original))
            else:
                current[3].append(line.lstrip())
            continue
        flush(index)
        if line.startswith("["):
            if not line.endswith("]") or len(line) <= 2:
                errors.append(IniSyntaxError(index + 1, "section header must be '[name]'", original))
                continue
            section = line[1:-1]
            headers.append((section, index))
        elif line.startswith(("#", ";")):
            continue
        else:
            split = _split(line)
            if split is None or not split[0]:
                errors.append(IniSyntaxError(index + 1, "not a 'key = value' line", original))
                continue
            if section is None:
                errors.append(IniSyntaxError(index + 1, "option before any [section]", original))
            current = (section, split[0], index, [split[1].strip()])
    flush(len(lines))
    return ParsedIni(lines, tuple(entries), tuple(headers), tuple(errors))


def unquote(raw: str) -> str:
    """The value oslo.config sees for ``raw`` (outer quotes off, ``$$`` -> ``$``)."""
    value = raw.strip()
    if value and value[0] == value[-1] and value[0] in "\"'" and len(value) >= 2:
        value = value[1:-1]
    elif len(value) == 1 and value in "\"'":
        value = ""
    return value.replace("$$", "$")


def syntax_errors(text: str) -> tuple[IniSyntaxError, ...]:
    """Lines of ``text`` that oslo.config would refuse."""
    return parse_lines(text).errors


def parse_ini(text: str) -> dict[Key, str]:
    """``(section, key) -> value`` as oslo.config would read it (last one wins)."""
    result: dict[Key, str] = {}
    for entry in parse_lines(text).entries:
        if entry.section is not None:
            result[(entry.section, entry.key)] = unquote(entry.raw)
    return result


def option_lines(text: str) -> dict[Key, int]:
    """``(section, key) -> 1-based line`` of the occurrence oslo.config reads (the last)."""
    return {(e.section, e.key): e.start + 1 for e in parse_lines(text).entries if e.section is not None}
