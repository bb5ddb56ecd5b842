"""Sphinx extension: the topology field reference, generated from the model.

``.. heat-wsgi-fields::`` expands to one section per model class with every
field's YAML key, type, default and description, read from the dataclass
fields and their ``doc`` metadata (:func:`heat_wsgi.model.field_docs`) when
the documentation is built. Nothing of it is written by hand, so it cannot
drift from the code.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

from heat_wsgi.model import _describe, _hints, model_classes

__all__ = ["reference_lines", "setup"]


def _default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        return "none" if f.default is None else f"``{f.default!r}``"
    if f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
        if dataclasses.is_dataclass(value):
            return f"the defaults of :ref:`{type(value).__name__} <field-{type(value).__name__}>`"
        return "none" if value in ((), None) else f"``{value!r}``"
    return "required"


def _type(cls: type, f: dataclasses.Field[Any]) -> str:
    if f.metadata.get("yaml") == "sections":
        return "``{section: {key: value}}``"
    return _describe(_hints(cls)[f.name])


def reference_lines() -> list[str]:
    """The reST of the whole reference: a section per class, a list entry per field."""
    lines: list[str] = []
    for cls in model_classes():
        lines += [f".. _field-{cls.__name__}:", "", cls.__name__, "~" * len(cls.__name__), ""]
        lines += [" ".join((cls.__doc__ or "").split()), ""]
        for f in dataclasses.fields(cls):
            if f.metadata.get("internal"):
                continue
            lines += [f"``{f.name}``",
                      f"   {str(f.metadata.get('doc', '')).strip()}",
                      "",
                      f"   *Type:* {_type(cls, f)}. *Default:* {_default(f)}.",
                      ""]
    return lines


class FieldReference(SphinxDirective):
    """``.. heat-wsgi-fields::``: the generated reference, parsed in place."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        nested_parse_with_titles(self.state, StringList(reference_lines(), source="heat_wsgi.model"),
                                 container)
        return list(container.children)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("heat-wsgi-fields", FieldReference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
