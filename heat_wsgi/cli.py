"""The ``heat-wsgi`` command: a thin adapter from argv to the library.

Each group of subcommands lives in its own module under
``heat_wsgi.commands`` and exposes ``register(subparsers)``. A command
function takes the parsed namespace and returns the exit status; it raises
:class:`~heat_wsgi.errors.HeatWsgiError` for unusable input, which becomes
exit status 2 with a one-line message.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from heat_wsgi.errors import HeatWsgiError
from heat_wsgi.redact import escape_text, mask_secrets

# Each group imports what it needs of Heat (and of heat_wsgi's heavier parts)
# inside its command functions, so `heat-wsgi --help` never needs Heat.
COMMAND_MODULES: tuple[str, ...] = (
    "heat_wsgi.commands.model",
    "heat_wsgi.commands.cluster",
    "heat_wsgi.commands.cloudwatch",
    "heat_wsgi.commands.engines",
    "heat_wsgi.commands.lab",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heat-wsgi",
        description="Run OpenStack Heat's APIs under real web servers and scale them out.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except HeatWsgiError as exc:
        # One line, whatever the error holds: passwords masked, control characters escaped.
        print(f"heat-wsgi: error: {escape_text(mask_secrets(str(exc)))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
