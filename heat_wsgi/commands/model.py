"""``heat-wsgi validate | render | schema | diagram``: the deployment model's CLI.

Exit status: 0 when all is well (warnings are printed but do not fail),
1 when the topology has errors, 2 when the input cannot be used at all
(unreadable file, bad YAML, wrong types).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from heat_wsgi.diagram import DIAGRAM_FORMATS, render_diagram
from heat_wsgi.loader import load_topology
from heat_wsgi.model import Topology
from heat_wsgi.render import render_all
from heat_wsgi.schema import topology_schema
from heat_wsgi.validate import Problem, validate
from heat_wsgi.writer import MANIFEST_NAME, write_tree

__all__ = ["register"]


def _print_problems(problems: list[Problem]) -> bool:
    """Print every problem; return whether any is an error."""
    for problem in problems:
        print(problem)
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    if problems:
        print(f"{errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return errors > 0


def _load(args: argparse.Namespace) -> Topology:
    return load_topology(args.topology, base_config_anywhere=args.base_config_anywhere)


def _topology_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topology", metavar="TOPOLOGY", help="topology YAML file")
    parser.add_argument("--base-config-anywhere", action="store_true",
                        help="let base_config_file name a file outside the topology file's "
                        "directory (it must still be a regular file of at most 1 MiB)")


def cmd_validate(args: argparse.Namespace) -> int:
    topology = _load(args)
    has_errors = _print_problems(validate(topology))
    if not has_errors:
        print(f"{args.topology}: OK ({len(topology.hosts)} hosts, "
              f"{len(topology.api_instances)} API instances, "
              f"{sum(g.processes for g in topology.engines)} engine processes)")
    return 1 if has_errors else 0


def cmd_render(args: argparse.Namespace) -> int:
    topology = _load(args)
    if _print_problems(validate(topology)):
        print("nothing written: fix the errors above first", file=sys.stderr)
        return 1
    files = render_all(topology, validated=True)
    inputs = [args.topology] + [source.rpartition(":")[0] for key, source in topology.sources
                                if key == "base_config"]
    stats = topology.proxy.stats if topology.proxy else None
    if stats is not None and stats.credentials_file is not None:
        inputs.append(Path(args.topology).parent / stats.credentials_file)
    target = write_tree(files, args.output, force=args.force, inputs=inputs)
    print(f"wrote {len(files)} files to {target} (list: {target / MANIFEST_NAME})")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(topology_schema(), indent=2))
    return 0


def cmd_diagram(args: argparse.Namespace) -> int:
    sys.stdout.write(render_diagram(_load(args), args.format))
    return 0


def register(subparsers: Any) -> None:
    """Add the model's subcommands to the ``heat-wsgi`` parser."""
    p = subparsers.add_parser("validate", help="check a topology file and print every problem",
                              description="Check a topology YAML file. Exit 0 when clean "
                              "(warnings allowed), 1 on errors, 2 when unusable.")
    _topology_argument(p)
    p.set_defaults(func=cmd_validate)

    p = subparsers.add_parser("render", help="render every config file of a topology",
                              description="Validate, then write every rendered file under DIR "
                              "(one directory per host) plus a MANIFEST, atomically.")
    _topology_argument(p)
    p.add_argument("-o", "--output", metavar="DIR", required=True, help="output directory")
    p.add_argument("--force", action="store_true",
                   help="replace DIR's content when it is not empty")
    p.set_defaults(func=cmd_render)

    p = subparsers.add_parser("schema", help="print the JSON Schema of topology files")
    p.set_defaults(func=cmd_schema)

    p = subparsers.add_parser("diagram", help="draw a topology as text or Graphviz DOT")
    _topology_argument(p)
    p.add_argument("--format", choices=DIAGRAM_FORMATS, default="text", help="output format")
    p.set_defaults(func=cmd_diagram)
