"""A small YAML writer for Ansible files: block style, every string through quoting.yaml_str.

Values are ``dict`` (keys kept in order), ``list``/``tuple`` (exactly those
types), ``str``,
``int``, ``bool`` and ``None``. A plain ``str`` is data (from the model or
from heat_wsgi) and Ansible will never template it; a :class:`Jinja` string
is an expression heat_wsgi itself wrote into a playbook, the only kind of
value Ansible evaluates.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Union

from heat_wsgi.quoting import yaml_key, yaml_str

__all__ = ["Jinja", "Node", "dump_yaml"]


class Jinja(str):
    """A template heat_wsgi wrote on purpose (``"{{ item.dest }}"``): left for Ansible."""

    __slots__ = ()


Node = Union[Mapping[str, "Node"], Sequence["Node"], str, int, bool, None]

_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"})


@functools.lru_cache(maxsize=1024)
def _key(key: str) -> str:
    if _BARE_KEY.fullmatch(key) and key.lower() not in _YAML_WORDS:
        return key
    return yaml_key(key)


def _scalar(value: Node) -> str:
    kind = type(value)
    if kind is str:
        return yaml_str(value)  # type: ignore[arg-type]
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is int:
        return str(value)
    if isinstance(value, Jinja):
        # json-style double quotes, no !unsafe: this one Ansible must render.
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, str):
        return yaml_str(value)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _emit(value: Node, indent: int, out: list[str]) -> None:
    # dict and list only (tuples become lists): isinstance on the ABCs is slow
    # for the 10**5 scalars of a large inventory.
    pad = " " * indent
    if type(value) is dict:
        for key, item in value.items():
            _emit_entry(f"{pad}{_key(key)}:", item, indent, out)
        return
    if type(value) is list or type(value) is tuple:
        lead = f"{pad}-"
        for item in value:
            if type(item) is dict and item:
                first = len(out)
                _emit(item, indent + 2, out)
                # "- " replaces the two spaces of the first line of the item.
                out[first] = f"{pad}- {out[first][indent + 2:]}"
            else:
                _emit_entry(lead, item, indent, out)
        return
    out.append(pad + _scalar(value))


def _emit_entry(lead: str, item: Node, indent: int, out: list[str]) -> None:
    """One mapping entry or list item: ``lead`` (``key:`` or ``-``), then ``item``
    nested below it, or on the same line when it is empty or a scalar."""
    kind = type(item)
    if (kind is dict or kind is list or kind is tuple) and item:
        out.append(lead)
        _emit(item, indent + 2, out)
    elif kind is dict:
        out.append(f"{lead} {{}}")
    elif kind is list or kind is tuple:
        out.append(f"{lead} []")
    else:
        out.append(f"{lead} {_scalar(item)}")


def dump_yaml(document: Node, header: Sequence[str] = ()) -> str:
    """The YAML text of ``document``: the comment lines, ``---``, then the block."""
    out = [*header, "---"]
    _emit(document, 0, out)
    return "\n".join(out) + "\n"
