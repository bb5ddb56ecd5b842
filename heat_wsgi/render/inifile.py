"""A small line-based editor for oslo.config ini files.

``configparser`` drops comments and rejects repeated keys, so heat.conf is
edited line by line instead: :func:`edit_ini` replaces or adds the few options
heat_wsgi owns and leaves every other line of the base file as it was. It
reads the base text with :func:`heat_wsgi.derive.ini.parse_lines`, the same
reading validation uses.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from heat_wsgi.derive.ini import Key, ParsedIni, parse_lines

__all__ = ["edit_ini", "EditShape", "IniTemplate", "edit_shape", "ini_template"]

#: The shape of an edit: each option in the order given, and whether it is set
#: (``True``) or removed (``False``). Values are not part of it.
EditShape = tuple[tuple[Key, bool], ...]


@dataclass(frozen=True, slots=True)
class IniTemplate:
    """What :func:`edit_ini` writes for one shape of edits, with the set values left open.

    Every heat.conf of a topology edits the same base text with the same
    options, so the line work is done once per shape and each file only pastes
    its own values in (:meth:`fill`).
    """

    pieces: tuple[str, ...]   #: literal text before, between and after the slots
    slots: tuple[Key, ...]    #: the option whose value goes between two pieces

    def fill(self, values: Mapping[Key, str | None]) -> str:
        """The text, with ``values[key]`` (already quoted) in each slot."""
        out = [self.pieces[0]]
        for key, piece in zip(self.slots, self.pieces[1:]):
            out.append(values[key] or "")
            out.append(piece)
        return "".join(out)

    def partial(self, values: Mapping[Key, str | None], keep: Collection[Key]) -> IniTemplate:
        """This template with every slot filled from ``values`` except those of ``keep``."""
        pieces = [self.pieces[0]]
        slots: list[Key] = []
        for key, piece in zip(self.slots, self.pieces[1:]):
            if key in keep:
                slots.append(key)
                pieces.append(piece)
            else:
                pieces[-1] += (values[key] or "") + piece
        return IniTemplate(tuple(pieces), tuple(slots))


def edit_shape(edits: Mapping[Key, str | None]) -> EditShape:
    """The :data:`EditShape` of ``edits`` (``None`` removes an option)."""
    return tuple((key, value is not None) for key, value in edits.items())


@dataclass(frozen=True, slots=True)
class _Slot:
    """An output line ``name = <value of key>``."""

    name: str
    key: Key


def edit_ini(text: str, edits: Mapping[Key, str | None],
             comments: Mapping[Key, str] | None = None) -> str:
    """Return ``text`` with each ``(section, key)`` of ``edits`` set or removed.

    ``edits`` maps to already-quoted value text, or ``None`` to remove the key.
    A removed key that ``comments`` names is commented out instead of dropped:
    its first occurrence is preceded by ``# <comment>``, and every line of
    every occurrence gets a leading ``#``.
    The first occurrence of a key is replaced in place and later repeats are
    dropped; a missing key goes after the last option of the last block of its
    section; a missing section is appended (``DEFAULT`` first, then sorted).
    Comments, blank lines and every other option are kept as they were.
    """
    shape = edit_shape(edits)
    notes = tuple((key, comments[key]) for key, is_set in shape
                  if not is_set and comments and key in comments)
    return ini_template(text, shape, notes).fill(edits)


@functools.lru_cache(maxsize=256)
def ini_template(text: str, shape: EditShape,
                 comments: tuple[tuple[Key, str], ...] = ()) -> IniTemplate:
    """The :class:`IniTemplate` of editing ``text`` with edits of ``shape``.

    ``comments`` are :func:`edit_ini`'s, as pairs. Cached: a topology asks for
    the same few shapes once per host and once per API instance.
    """
    parsed = parse_lines(text)
    is_set = dict(shape)
    notes = dict(comments)
    replace: dict[int, str | _Slot | None] = {}     # line index -> new line (None: drop)
    drop: set[int] = set()
    seen: set[Key] = set()
    for entry in parsed.entries:
        if entry.section is None:
            continue
        key = (entry.section, entry.key)
        if key not in is_set:
            continue
        if not is_set[key] and key in notes:
            lines = [f"#{line}" for line in parsed.lines[entry.start:entry.end]]
            if key not in seen:
                lines.insert(0, f"# {notes[key]}")
                seen.add(key)
            replace[entry.start] = "\n".join(lines)
        elif key in seen or not is_set[key]:
            replace[entry.start] = None
        else:
            replace[entry.start] = _Slot(entry.key, key)
            seen.add(key)
        drop.update(range(entry.start + 1, entry.end))

    missing: dict[str, list[_Slot]] = {}
    for (section, name), set_here in shape:
        if set_here and (section, name) not in seen:
            missing.setdefault(section, []).append(_Slot(name, (section, name)))

    # Where each existing section's last block ends (after its last option).
    insert_after: dict[str, int] = {}
    last_block_header: dict[str, int] = {}
    for section, index in parsed.headers:
        last_block_header[section] = index
        insert_after[section] = index
    for entry in parsed.entries:
        if entry.section is not None and last_block_header.get(entry.section, -1) < entry.start:
            insert_after[entry.section] = entry.end - 1

    additions: dict[int, list[_Slot]] = {}
    new_sections: list[str] = []
    for section in missing:
        if section in insert_after:
            additions.setdefault(insert_after[section], []).extend(missing[section])
        else:
            new_sections.append(section)
    drop.update(_emptied_blocks(parsed, replace, drop, additions))

    out: list[str | _Slot] = []
    if "DEFAULT" in new_sections:
        # oslo.config wants options inside a section; DEFAULT leads the file.
        first_header = parsed.headers[0][1] if parsed.headers else len(parsed.lines)
        out.extend(parsed.lines[:first_header])
        out.append("[DEFAULT]")
        out.extend(missing["DEFAULT"])
        out.append("")
        body_start = first_header
        new_sections.remove("DEFAULT")
    else:
        body_start = 0
    for index in range(body_start, len(parsed.lines)):
        if index not in drop:
            if index in replace:
                new = replace[index]
                if new is not None:
                    out.append(new)
            else:
                out.append(parsed.lines[index])
        out.extend(additions.get(index, ()))
    for section in sorted(new_sections):
        if out and not _blank(out[-1]):
            out.append("")
        out.append(f"[{section}]")
        out.extend(missing[section])
    while out and _blank(out[-1]):
        out.pop()
    return _template(out)


def _emptied_blocks(parsed: ParsedIni, replace: Mapping[int, str | _Slot | None],
                    drop: Collection[int], additions: Mapping[int, object]) -> set[int]:
    """The lines of each section block whose options the edits all removed.

    Such a block is dropped with its header (Heat 25+ files would otherwise
    keep an empty ``[heat_api]``), unless a comment or a new option stays in
    it; a block the base file has empty is the user's and stays.
    """
    ends = [index for _, index in parsed.headers[1:]] + [len(parsed.lines)]
    gone: set[int] = set()
    for (_, start), end in zip(parsed.headers, ends):
        entries = [e.start for e in parsed.entries if start < e.start < end]
        if not entries or any(replace.get(i, "") is not None for i in entries):
            continue
        rest = [i for i in range(start + 1, end) if i not in drop and i not in replace]
        if any(parsed.lines[i].strip() for i in rest) or any(i in additions for i in range(start, end)):
            continue
        gone.update(range(start, end))
    return gone


def _blank(line: str | _Slot) -> bool:
    # A slot is never blank: it holds at least "name = ".
    return isinstance(line, str) and not line.strip()


def _template(lines: list[str | _Slot]) -> IniTemplate:
    """Join ``lines`` with newlines (plus a final one), leaving a gap per slot."""
    pieces: list[str] = []
    slots: list[Key] = []
    text: list[str] = []
    for number, line in enumerate(lines):
        if number:
            text.append("\n")
        if isinstance(line, _Slot):
            text.append(f"{line.name} = ")
            pieces.append("".join(text))
            slots.append(line.key)
            text = []
        else:
            text.append(line)
    text.append("\n")
    pieces.append("".join(text))
    return IniTemplate(tuple(pieces), tuple(slots))
