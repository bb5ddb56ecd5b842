"""Load a topology from YAML, remembering the file and line of every field.

The YAML mirrors the model: one mapping per dataclass, keys named after the
fields, lists for tuples. Two shorthands: heat.conf options are written as
``{section: {key: value}}``, and the base heat.conf is given either inline as
``base_config`` or as a path in ``base_config_file`` (relative to the YAML
file). A base config file must be a regular file of at most
:data:`MAX_BASE_CONFIG_BYTES` inside the topology file's directory
(``base_config_anywhere=True``, the CLI's ``--base-config-anywhere``, lifts
the directory rule only): a topology cannot make validation read
``/etc/shadow``, ``/dev/zero`` or a FIFO. The work is bounded too: a
document of at most :data:`MAX_TOPOLOGY_BYTES`, whose aliases add at most
:data:`MAX_ALIAS_EXPANSION` nodes. Every problem, whether bad YAML, a wrong type or a failed field check,
becomes a :class:`~heat_wsgi.errors.TopologyError` ending in
``in topology.yaml:LINE``; no traceback escapes.

Only :func:`load_topology` reads files; :func:`loads_topology` is pure.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

from heat_wsgi.errors import TopologyError
from heat_wsgi.model import ConfOption, Topology, _describe, _hints, source_at
from heat_wsgi.secretfile import read_stats_credentials

__all__ = ["load_topology", "loads_topology", "MAX_TOPOLOGY_BYTES", "MAX_BASE_CONFIG_BYTES",
           "MAX_ALIAS_EXPANSION"]

#: The largest topology document read (10,000 API instances take about 1 MiB).
MAX_TOPOLOGY_BYTES = 16 * 1024 * 1024
#: The largest base heat.conf read (Heat's full sample is about 200 KiB).
MAX_BASE_CONFIG_BYTES = 1024 * 1024
#: How many nodes YAML aliases may add to a document, all uses counted.
MAX_ALIAS_EXPANSION = 100_000

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_FLOAT = "tag:yaml.org,2002:float"
_ITEM_KEYS = ("name", "host", "service")


#: How deep ``[...]``/``{...}`` may nest: PyYAML's scanner takes time quadratic in it.
MAX_FLOW_DEPTH = 64


class _Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no stubs here
    """SafeLoader with flow collections nested at most :data:`MAX_FLOW_DEPTH` deep."""

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= MAX_FLOW_DEPTH:
            raise yaml.scanner.ScannerError(None, None, f"'[' and '{{' are nested more than "
                                            f"{MAX_FLOW_DEPTH} deep", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)


def _read_bounded(file: Path, limit: int) -> str:
    """The UTF-8 text of regular file ``file``, at most ``limit`` bytes; OSError or ValueError otherwise.

    Opened without blocking (a FIFO would wait for a writer forever) and
    checked on the open descriptor, so what is checked is what is read.
    """
    fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("must be a regular file (not a device, FIFO, socket or directory)")
        if info.st_size > limit:
            raise ValueError(f"is larger than {limit} bytes ({info.st_size})")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"is larger than {limit} bytes")
    try:
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise ValueError(f"is not UTF-8 text (byte {exc.start})") from None


def _check_expansion(root: yaml.Node, filename: str) -> None:
    """Refuse a document whose aliases expand it by more than MAX_ALIAS_EXPANSION nodes, or loop."""
    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if done:
            active.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > len(sizes) + MAX_ALIAS_EXPANSION:
                raise TopologyError("<yaml>", f"uses aliases that expand it to more than "
                                    f"{MAX_ALIAS_EXPANSION} extra nodes", None, filename)
            continue
        if key in sizes:
            continue
        if key in active:
            raise TopologyError("<yaml>", "has an alias that refers to itself",
                                None, f"{filename}:{node.start_mark.line + 1}")
        active.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)


class _Builder:
    def __init__(self, filename: str, base_dir: Path | None, base_anywhere: bool = False) -> None:
        self.filename = filename
        self.base_dir = base_dir
        self.base_anywhere = base_anywhere
        self.sources: dict[str, str] = {}
        self.constructor = yaml.SafeLoader("")

    def where(self, node: yaml.Node) -> str:
        return f"{self.filename}:{node.start_mark.line + 1}"

    def fail(self, path: str, message: str, node: yaml.Node, value: object = None) -> TopologyError:
        return TopologyError(path or "<top>", message, value, self.where(node))

    def record(self, path: str, node: yaml.Node) -> None:
        self.sources.setdefault(path, self.where(node))

    def scalar(self, node: yaml.Node) -> Any:
        return self.constructor.construct_object(node, deep=True)

    def convert(self, node: yaml.Node, hint: Any, path: str) -> Any:
        self.record(path, node)
        origin = get_origin(hint)
        if origin in (typing.Union, types.UnionType):
            args = get_args(hint)
            if type(None) in args and isinstance(node, yaml.ScalarNode) and node.tag == _NULL:
                return None
            others = [a for a in args if a is not type(None)]
            if len(others) == 1:
                return self.convert(node, others[0], path)
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            return self.dataclass(node, hint, path)
        if origin is tuple:
            item_hint = get_args(hint)[0]
            if not isinstance(node, yaml.SequenceNode):
                raise self.fail(path, "must be a list", node, self._raw(node))
            items = []
            for i, item in enumerate(node.value):
                key = self._item_key(item)
                items.append(self.convert(item, item_hint, f"{path}[{key}]" if key else f"{path}[#{i}]"))
                self.record(f"{path}[#{i}]", item)
            return tuple(items)
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(path, f"must be {_describe(hint)}", node, self._raw(node))
        if origin is Literal:
            if node.tag != _STR or node.value not in get_args(hint):
                raise self.fail(path, f"must be {_describe(hint)}", node, node.value)
            return node.value
        if hint is str:
            if node.tag != _STR:
                raise self.fail(path, "must be a string (quote it)", node, node.value)
            return node.value
        if hint is bool:
            if node.tag != _BOOL:
                raise self.fail(path, "must be true or false", node, node.value)
            return self.scalar(node)
        if hint is int:
            if node.tag != _INT:
                raise self.fail(path, "must be an integer", node, node.value)
            return self.scalar(node)
        if hint is float:
            if node.tag not in (_INT, _FLOAT):
                raise self.fail(path, "must be a number", node, node.value)
            return float(self.scalar(node))
        raise self.fail(path, f"must be {_describe(hint)}", node, node.value)

    @staticmethod
    def _raw(node: yaml.Node) -> object:
        if isinstance(node, yaml.ScalarNode):
            return node.value
        return "a mapping" if isinstance(node, yaml.MappingNode) else "a list"

    @staticmethod
    def _item_key(node: yaml.Node) -> str | None:
        if isinstance(node, yaml.MappingNode):
            for key in _ITEM_KEYS:
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == key \
                            and isinstance(v, yaml.ScalarNode) and v.tag == _STR:
                        return str(v.value)
        return None

    def sections(self, node: yaml.Node, path: str) -> tuple[ConfOption, ...]:
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL:
            return ()
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(path, "must be a mapping {section: {key: value}}", node, self._raw(node))
        options = []
        for section_node, keys_node in node.value:
            section = str(section_node.value) if isinstance(section_node, yaml.ScalarNode) else "?"
            if not isinstance(keys_node, yaml.MappingNode):
                raise self.fail(f"{path}.{section}", "must be a mapping {key: value}",
                                keys_node, self._raw(keys_node))
            for key_node, value_node in keys_node.value:
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
                where = f"{path}.{section}.{key}"
                self.record(where, key_node)
                if not isinstance(value_node, yaml.ScalarNode) or value_node.tag == _NULL:
                    raise self.fail(where, "must be a single value", value_node, self._raw(value_node))
                # The text as written: `debug: true` and `timeout: 600` become
                # the heat.conf values "true" and "600".
                options.append(ConfOption(section=section, key=key, value=str(value_node.value)))
        return tuple(options)

    def dataclass(self, node: yaml.Node, cls: type, path: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(path, f"must be a mapping (a {cls.__name__})", node, self._raw(node))
        hints = _hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
        extra = {"base_config_file"} if cls is Topology else set()
        values: dict[str, Any] = {}
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            sub = f"{path}.{key}" if path else str(key)
            if key in seen:
                raise self.fail(sub, "is given twice", key_node, key)
            seen.add(str(key))
            if key in extra:
                values["base_config"] = self.read_base(value_node, sub)
                continue
            if key not in fields:
                expected = ", ".join(sorted(set(fields) | extra))
                raise self.fail(sub, f"is not a field of {cls.__name__} (expected one of: {expected})",
                                key_node, key)
            self.record(sub, key_node)
            if fields[key].metadata.get("yaml") == "sections":
                values[key] = self.sections(value_node, sub)
            elif cls is Topology and key == "base_config":
                values[key] = self.inline_base(value_node, sub)
            else:
                values[key] = self.convert(value_node, hints[key], sub)
        if "base_config" in seen and "base_config_file" in seen:
            raise self.fail(f"{path}base_config", "give base_config or base_config_file, not both", node)
        missing = [f.name for f in fields.values()
                   if f.name not in values and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise self.fail(path, f"must set {', '.join(missing)}", node, None)
        try:
            return cls(**values)
        except TopologyError as exc:
            raise TopologyError(exc.path, exc.message, exc.value,
                                source_at(self.sources, exc.path) or self.where(node)) from None

    def inline_base(self, node: yaml.Node, path: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            raise self.fail(path, "must be the text of a heat.conf", node, self._raw(node))
        line = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
        self.sources[path] = f"{self.filename}:{line}"
        return str(node.value)

    def read_base(self, node: yaml.Node, path: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            raise self.fail(path, "must be a path to a heat.conf", node, self._raw(node))
        if self.base_dir is None:
            raise self.fail(path, "cannot be read: the topology did not come from a file", node, node.value)
        file = self.base_dir / node.value
        if not self.base_anywhere:
            inside = os.path.realpath(self.base_dir)
            real = os.path.realpath(file)
            if os.path.commonpath([inside, real]) != inside:
                raise self.fail(path, f"must be a file inside the topology file's directory {inside} "
                                "(to read one from elsewhere, pass --base-config-anywhere, "
                                "or base_config_anywhere=True to load_topology)", node, node.value)
        try:
            text = _read_bounded(file, MAX_BASE_CONFIG_BYTES)
        except OSError as exc:
            raise self.fail(path, f"cannot be read: {exc.strerror or exc}", node, node.value) from None
        except ValueError as exc:
            raise self.fail(path, str(exc), node, node.value) from None
        self.sources["base_config"] = f"{file}:1"
        return text


def loads_topology(text: str, filename: str = "<topology>", base_dir: Path | None = None,
                   *, base_config_anywhere: bool = False) -> Topology:
    """Build a :class:`Topology` from YAML text.

    ``base_dir`` is where ``base_config_file`` is looked up; without it only
    an inline ``base_config`` is accepted. ``base_config_anywhere`` lets
    ``base_config_file`` name a file outside ``base_dir``.
    """
    if len(text) > MAX_TOPOLOGY_BYTES:
        raise TopologyError("<yaml>", f"is larger than {MAX_TOPOLOGY_BYTES} bytes", None, filename)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except RecursionError:
        raise TopologyError("<yaml>", "is nested too deeply", None, filename) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        source = f"{filename}:{mark.line + 1}" if mark is not None else filename
        raise TopologyError("<yaml>", f"is not valid YAML: {exc.problem or exc}", None, source) from None
    except yaml.YAMLError as exc:
        raise TopologyError("<yaml>", f"is not valid YAML: {exc}", None, filename) from None
    if node is None:
        raise TopologyError("<top>", "must be a mapping describing the topology", None, filename)
    _check_expansion(node, filename)
    builder = _Builder(filename, base_dir, base_config_anywhere)
    try:
        topology: Topology = builder.dataclass(node, Topology, "")
    except RecursionError:
        raise TopologyError("<top>", "is nested too deeply", None, filename) from None
    except (ValueError, TypeError, yaml.YAMLError) as exc:
        if isinstance(exc, TopologyError):
            raise
        raise TopologyError("<top>", f"cannot be read: {exc}", None, filename) from None
    topology = dataclasses.replace(topology, sources=tuple(sorted(builder.sources.items())))
    try:
        return read_stats_credentials(topology, base_dir)
    except TopologyError as exc:
        raise TopologyError(exc.path, exc.message, exc.value,
                            source_at(builder.sources, exc.path) or filename) from None


def load_topology(path: str | Path, *, base_config_anywhere: bool = False) -> Topology:
    """Read a topology YAML file (and the base heat.conf it names).

    :param base_config_anywhere: let ``base_config_file`` name a file outside
        the topology file's directory (it must still be a regular file of at
        most :data:`MAX_BASE_CONFIG_BYTES`).
    """
    file = Path(path)
    try:
        text = _read_bounded(file, MAX_TOPOLOGY_BYTES)
    except OSError as exc:
        raise TopologyError(str(file), f"cannot be read: {exc.strerror or exc}", None) from None
    except ValueError as exc:
        raise TopologyError(str(file), str(exc), None) from None
    return loads_topology(text, str(file), file.parent, base_config_anywhere=base_config_anywhere)
