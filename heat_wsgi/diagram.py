"""Draw a topology: as text in the style of Heat's scaling guide, or as DOT."""

from __future__ import annotations

from typing import Literal, get_args

from heat_wsgi.derive import build_index
from heat_wsgi.derive.addresses import is_wildcard
from heat_wsgi.derive.layout import instance_address
from heat_wsgi.model import Topology
from heat_wsgi.quoting import dot_string
from heat_wsgi.redact import escape_text
from heat_wsgi.services import SERVICE_NAMES, SERVICES

__all__ = ["DiagramFormat", "DIAGRAM_FORMATS", "render_diagram", "render_text_diagram",
           "render_dot"]

DiagramFormat = Literal["text", "dot"]
"""The diagram formats: text in the scaling guide's style, or Graphviz DOT."""

DIAGRAM_FORMATS: tuple[DiagramFormat, ...] = get_args(DiagramFormat)

def _boxes(labels: list[str]) -> list[str]:
    width = max((len(label) for label in labels), default=0)
    return [f"|- [{label.ljust(width)}] -|" for label in labels]


def render_text_diagram(topology: Topology) -> str:
    """The architecture as text: CLI -> proxy -> API instances -> AMQP -> engines."""
    index = build_index(topology)
    api_labels: list[str] = []
    for service in SERVICE_NAMES:
        for inst in topology.api_instances:
            if inst.service != service:
                continue
            host = index.hosts.get(inst.host)
            address = instance_address(inst, host) if host else "?"
            api_labels.append(f"{SERVICES[service].diagram_label} {inst.name} @ {inst.host} "
                              f"{address}:{inst.effective_port} ({inst.mode})")
    engine_labels = [f"ENGINE x{g.processes * g.workers} @ {g.host}" for g in topology.engines]
    apis, engines = _boxes(api_labels), _boxes(engine_labels)
    proxy = topology.proxy
    if proxy is not None:
        host = index.hosts.get(proxy.host)
        address = proxy.address or (host.address if host else "?")
        ports = ",".join(str(l.effective_port) for l in proxy.listeners)
        left = f"[CLI] -- <HTTP> -- [PROXY @ {proxy.host} {address}:{ports}] --"
    else:
        left = "[CLI] -- <HTTP> --"
    middle = len(apis) // 2
    apis.insert(middle, "")
    api_width = max((len(a) for a in apis), default=0)
    rows = max(len(apis), len(engines), 1)
    top = (rows - len(apis)) // 2
    apis = [""] * top + apis + [""] * (rows - len(apis) - top)
    centre = top + middle
    engine_top = max(centre - len(engines) // 2, 0)
    engines_col = [""] * engine_top + engines
    engines_col += [""] * (rows - len(engines_col))
    lines = [f"Topology {topology.name!r} (Heat {topology.heat_version})", ""]
    for row in range(rows):
        prefix = left if row == centre else " " * len(left)
        link = " -- <AMQP> -- " if row == centre and engines else " " * 14
        lines.append(f"{prefix}{apis[row].ljust(api_width)}{link}{engines_col[row]}".rstrip())
    lines.append("")
    if topology.database is not None:
        users = "engines" + (", cloudwatch" if any(i.service == "cloudwatch" for i in topology.api_instances) else "")
        lines.append(f"[DATABASE @ {topology.database.host or '?'}] <-- <SQL> -- {users}")
    if topology.message_bus is not None:
        lines.append(f"[AMQP @ {topology.message_bus.host or '?'}] carries RPC from the APIs to the engines")
    lines.append("Hosts: " + ", ".join(f"{h.name} {h.address}" for h in topology.hosts))
    # Names are drawn unvalidated: a terminal escape or newline in one is shown escaped.
    return "\n".join(escape_text(line) for line in lines).rstrip() + "\n"


def render_dot(topology: Topology) -> str:
    """The architecture as a Graphviz digraph, one cluster per host."""
    q = dot_string
    index = build_index(topology)
    lines = [f"digraph {q(topology.name)} {{", "    rankdir=LR;", "    node [shape=box];",
             f"    {q('cli')} [label={q('CLI')}, shape=ellipse];"]
    members: dict[str, list[str]] = {name: [] for name in index.hosts}
    edges: list[str] = []
    proxy = topology.proxy
    if proxy is not None:
        members.setdefault(proxy.host, []).append(
            f"{q('proxy')} [label={q('HAProxy')}];")
        for listener in proxy.listeners:
            edges.append(f"{q('cli')} -> {q('proxy')} [label={q(f'{listener.service}:{listener.effective_port}')}];")
    if topology.message_bus is not None:
        members.setdefault(topology.message_bus.host or "", []).append(
            f"{q('amqp')} [label={q('RabbitMQ')}, shape=cylinder];")
    if topology.database is not None:
        members.setdefault(topology.database.host or "", []).append(
            f"{q('db')} [label={q('Database')}, shape=cylinder];")
    for inst in topology.api_instances:
        node = f"api:{inst.name}"
        host = index.hosts.get(inst.host)
        address = instance_address(inst, host) if host else "?"
        if host and is_wildcard(address):
            address = host.address
        label = inst.info.program + "\\n" + f"{inst.name} ({inst.mode})"
        members.setdefault(inst.host, []).append(f"{q(node)} [label={q(label)}];")
        edges.append(f"{q('proxy' if proxy else 'cli')} -> {q(node)} "
                     f"[label={q(f'{address}:{inst.effective_port}')}];")
        if topology.message_bus is not None:
            edges.append(f"{q(node)} -> {q('amqp')} [style=dashed];")
        if inst.info.uses_database and topology.database is not None:
            edges.append(f"{q(node)} -> {q('db')};")
    for group in topology.engines:
        node = f"engine:{group.host}"
        members.setdefault(group.host, []).append(
            f"{q(node)} [label={q(f'heat-engine x{group.processes} ({group.workers} workers each)')}];")
        if topology.message_bus is not None:
            edges.append(f"{q('amqp')} -> {q(node)} [style=dashed];")
        if topology.database is not None:
            edges.append(f"{q(node)} -> {q('db')};")
    for number, (host_name, nodes) in enumerate(members.items()):
        if not nodes:
            continue
        if host_name == "":
            lines.extend(f"    {n}" for n in nodes)
            continue
        host = index.hosts.get(host_name)
        label = f"{host_name} {host.address}" if host else host_name
        lines.append(f"    subgraph {q(f'cluster_{number}')} {{")
        lines.append(f"        label={q(label)};")
        lines.extend(f"        {n}" for n in nodes)
        lines.append("    }")
    lines.extend(f"    {e}" for e in edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_diagram(topology: Topology, fmt: DiagramFormat = "text") -> str:
    """The diagram in ``fmt``: ``text`` (the default) or ``dot``."""
    return render_dot(topology) if fmt == "dot" else render_text_diagram(topology)
