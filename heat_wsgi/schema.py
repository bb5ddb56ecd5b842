"""JSON Schema of the topology YAML, derived from the model's dataclasses.

The dataclass fields (their type hints and ``doc`` metadata) are the one
declaration: the loader, the constructors' checks and this schema all read
them, so the three cannot disagree.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, get_args, get_origin

from heat_wsgi.model import Topology, _hints, model_classes

__all__ = ["topology_schema", "SCHEMA_ID"]

SCHEMA_ID = "https://opendev.org/heat_wsgi/topology.schema.json"

_SCALAR = {"type": ["string", "number", "boolean"]}
_SECTIONS = {
    "type": "object",
    "additionalProperties": {"type": "object", "additionalProperties": _SCALAR},
}


def _type_schema(hint: Any) -> dict[str, Any]:
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_type_schema(arg) for arg in get_args(hint)]}
    if origin is Literal:
        return {"enum": list(get_args(hint))}
    if origin is tuple:
        return {"type": "array", "items": _type_schema(get_args(hint)[0])}
    if hint is type(None):
        return {"type": "null"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is str:
        return {"type": "string"}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return {"$ref": f"#/$defs/{hint.__name__}"}
    return {}


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING and isinstance(f.default, (str, int, bool, type(None))):
        return f.default
    return dataclasses.MISSING


def _class_schema(cls: type) -> dict[str, Any]:
    hints = _hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal") or f.name.startswith("_"):
            continue
        prop = dict(_SECTIONS) if f.metadata.get("yaml") == "sections" else _type_schema(hints[f.name])
        if f.metadata.get("doc"):
            prop["description"] = f.metadata["doc"]
        default = _default(f)
        if default is not dataclasses.MISSING:
            prop["default"] = default
        properties[f.name] = prop
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
    if cls is Topology:
        properties["base_config_file"] = {
            "type": "string",
            "description": "Path of the base heat.conf, relative to the topology file "
                           "(instead of base_config)."}
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False,
                              "properties": properties}
    if required:
        schema["required"] = required
    if cls.__doc__:
        schema["description"] = " ".join(cls.__doc__.split())
    return schema


def topology_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a topology YAML file."""
    defs = {cls.__name__: _class_schema(cls) for cls in model_classes() if cls is not Topology}
    schema: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
              "title": "heat_wsgi topology"}
    schema.update(_class_schema(Topology))
    schema["not"] = {"required": ["base_config", "base_config_file"]}
    schema["$defs"] = defs
    return schema
