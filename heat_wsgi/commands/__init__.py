"""Subcommand groups of the heat-wsgi CLI; see heat_wsgi.cli."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable


def state_dir_and_handler(parser: argparse.ArgumentParser, state_help: str,
                          func: Callable[[argparse.Namespace], int]) -> None:
    """End a stateful subcommand: its ``--state-dir`` option, then the function it runs."""
    parser.add_argument("--state-dir", type=Path, help=state_help)
    parser.set_defaults(func=func)
