"""``heat-wsgi forget-host``: what a lost machine's heat-engines left behind."""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path
from typing import Any

from heat_wsgi.errors import HeatWsgiError


class ForgetHostError(HeatWsgiError):
    """The command's input cannot be used (a missing heat.conf, an unreachable database)."""


def register(subparsers: Any) -> None:
    forget = subparsers.add_parser(
        "forget-host",
        help="after a machine is lost for good: report (and with --apply reset to FAILED) the "
             "stacks its heat-engines held, and drop their service rows",
        description="Find the stacks whose resources are in progress under a heat-engine "
                    "registered from HOST ([DEFAULT] host), after checking that none of "
                    "HOST's engines answers Heat's liveness probe. Reports only, unless "
                    "--apply.")
    forget.add_argument("host", metavar="HOST", help="the lost machine's [DEFAULT] host")
    forget.add_argument("--config-file", action="append", required=True, metavar="PATH",
                        help="the deployment's heat.conf (repeatable), for the database "
                             "and the message bus")
    forget.add_argument("--apply", action="store_true",
                        help="reset the held stacks to FAILED and delete HOST's service rows")
    forget.add_argument("--stalled-after", type=float, metavar="SECONDS",
                        help="also count as lost a stack in progress that no engine holds and "
                             "that has not changed for SECONDS (its RPC cast was lost with "
                             "HOST); without it such stacks are only listed")
    forget.add_argument("--address", action="append", default=[], metavar="ADDRESS",
                        help="the lost machine's IP address (repeatable): its database "
                             "sessions, which keep their row locks after a power loss, are "
                             "listed and with --apply killed")
    forget.set_defaults(func=forget_host)


def forget_host(args: argparse.Namespace) -> int:
    if args.stalled_after is not None and not args.stalled_after > 0:
        raise ForgetHostError(f"--stalled-after: must be a number of seconds above 0 "
                              f"(got {args.stalled_after:g})")
    for address in args.address:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ForgetHostError(f"--address: must be an IP address, as the database "
                                  f"reports its clients (got {address!r})") from None
    for path in args.config_file:
        if not Path(path).is_file():
            raise ForgetHostError(f"--config-file {path}: no such file")
    from heat_wsgi import forget_host as lost
    try:
        lines = lost.run(args.host, args.config_file, args.apply, args.stalled_after,
                         args.address)
    except HeatWsgiError:
        raise
    except Exception as exc:   # a database or broker error: say what, not a traceback
        raise ForgetHostError(f"forget-host {args.host} (config {', '.join(args.config_file)}): "
                              f"{type(exc).__name__}: {exc}") from None
    print("\n".join(lines))
    return 0
