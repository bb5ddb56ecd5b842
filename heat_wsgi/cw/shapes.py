"""Declarative parameter shapes and their decoding from a parameter tree.

Each action declares a ``Struct`` of the parameters it accepts (names,
types, lengths, list sizes, closed value sets), mirroring the AWS service
model. ``decode`` checks a request against it and returns plain Python
values, so ``requests`` only has the rules that span several fields.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Union

from heat_wsgi.cw.errors import CloudWatchError, invalid_value, missing
from heat_wsgi.cw.query import Tree

# XML 1.0 cannot carry these; anything we store may be echoed in XML later.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_DOUBLE = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_INDEX = re.compile(r"[1-9][0-9]{0,5}")
# AWS refuses values outside +-2**360 (and NaN/Infinity).
DOUBLE_LIMIT = 2.0 ** 360


@dataclass(frozen=True, slots=True, kw_only=True)
class Text:
    min_len: int = 0
    max_len: int = 1024
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Integer:
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Double:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Boolean:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Timestamp:
    """ISO 8601, as botocore and boto send it; decoded to epoch milliseconds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ListOf:
    item: Shape
    max_items: int
    min_items: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Struct:
    fields: Mapping[str, Shape]
    required: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsupported:
    """A parameter AWS has and heat_wsgi deliberately does not implement."""

    reason: str


Shape = Union[Text, Integer, Double, Boolean, Timestamp, ListOf, Struct, Unsupported]
Node = Union[str, Tree]


def decode(node: Node, shape: Shape, path: str) -> Any:
    """The value of ``node`` checked against ``shape``; ``path`` is its
    parameter name (``MetricData.member.1.Value``) for error messages."""
    if isinstance(shape, Unsupported):
        raise CloudWatchError("InvalidParameterValue", f"{path}: {shape.reason}")
    if isinstance(shape, Struct):
        return _decode_struct(node, shape, path)
    if isinstance(shape, ListOf):
        return _decode_list(node, shape, path)
    if not isinstance(node, str):
        raise CloudWatchError("InvalidQueryParameter",
                              f"{path}: must be a single value (got sub-parameters "
                              f"{', '.join(sorted(path + '.' + k for k in node))})")
    if isinstance(shape, Text):
        return _decode_text(node, shape, path)
    if isinstance(shape, Integer):
        return _decode_integer(node, shape, path)
    if isinstance(shape, Double):
        return decode_double(node, path)
    if isinstance(shape, Boolean):
        if node.lower() not in ("true", "false"):
            raise invalid_value(path, "be true or false", node)
        return node.lower() == "true"
    return decode_timestamp(node, path)


def _decode_struct(node: Node, shape: Struct, path: str) -> dict[str, Any]:
    prefix = f"{path}." if path else ""
    if isinstance(node, str):
        raise CloudWatchError("InvalidQueryParameter",
                              f"{path}: is a structure, give its fields as {prefix}Name "
                              f"(got a plain value {node!r})")
    out: dict[str, Any] = {}
    for name in sorted(node):
        if name not in shape.fields:
            raise CloudWatchError("InvalidQueryParameter", f"{prefix}{name}: is not a parameter here")
        out[name] = decode(node[name], shape.fields[name], prefix + name)
    for name in sorted(shape.required - set(out)):
        raise missing(prefix + name)
    return out


def _decode_list(node: Node, shape: ListOf, path: str) -> list[Any]:
    if isinstance(node, str):
        # botocore writes an empty list as a bare "Name=" parameter.
        if node == "":
            items: list[Any] = []
        else:
            raise CloudWatchError("InvalidQueryParameter",
                                  f"{path}: is a list, give it as {path}.member.N (got {node!r})")
    else:
        if set(node) != {"member"} or isinstance(node["member"], str):
            raise CloudWatchError("InvalidQueryParameter",
                                  f"{path}: is a list, give it as {path}.member.N "
                                  f"(got {', '.join(sorted(path + '.' + k for k in node))})")
        members = node["member"]
        for index in members:
            if not _INDEX.fullmatch(index):
                raise CloudWatchError("InvalidQueryParameter",
                                      f"{path}.member.{index}: the index must be a positive integer")
        items = [decode(members[index], shape.item, f"{path}.member.{index}")
                 for index in sorted(members, key=int)]
    if len(items) > shape.max_items:
        raise invalid_value(path, f"have at most {shape.max_items} members", f"{len(items)} members")
    if len(items) < shape.min_items:
        raise missing(f"{path}.member.1")
    return items


def _decode_text(node: str, shape: Text, path: str) -> str:
    if shape.choices and node not in shape.choices:
        raise invalid_value(path, f"be one of {', '.join(shape.choices)}", node)
    if not shape.min_len <= len(node) <= shape.max_len:
        raise invalid_value(path, f"be {shape.min_len} to {shape.max_len} characters long",
                            f"{len(node)} characters")
    bad = _NOT_XML.search(node)
    if bad:
        raise invalid_value(path, "hold only characters XML can carry",
                            f"U+{ord(bad.group()):04X} at {bad.start()}")
    return node


def _decode_integer(node: str, shape: Integer, path: str) -> int:
    if not _INTEGER.fullmatch(node):
        raise invalid_value(path, "be an integer", node)
    value = int(node)
    if shape.minimum is not None and value < shape.minimum:
        raise invalid_value(path, f"be at least {shape.minimum}", value)
    if shape.maximum is not None and value > shape.maximum:
        raise invalid_value(path, f"be at most {shape.maximum}", value)
    return value


def decode_double(node: str, path: str) -> float:
    if not _DOUBLE.fullmatch(node.strip()):
        raise invalid_value(path, "be a number", node)
    value = float(node)
    if not math.isfinite(value) or abs(value) > DOUBLE_LIMIT:
        raise invalid_value(path, "be a finite number within +-2^360", node)
    return value


def decode_timestamp(node: str, path: str) -> int:
    text = node.strip()
    try:
        when = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise invalid_value(path, "be an ISO 8601 timestamp such as 2024-05-01T12:00:00Z",
                            node) from None
    if when.tzinfo is None:  # AWS reads a zone-less timestamp as UTC
        when = when.replace(tzinfo=timezone.utc)
    try:
        return int(when.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        raise invalid_value(path, "be a representable time", node) from None
