"""``python -m heat_wsgi.uwsgi_stop PID``: a uwsgi unit's ``ExecStop``, a graceful stop that ends.

The rendered uwsgi units stop their instance with this instead of leaving it
to systemd's ``KillSignal`` alone. The master is sent SIGTERM, on which the
rendered ini (``hook-master-start = unix_signal:15 gracefully_kill_them_all``)
has it send each worker SIGHUP and wait for the requests they hold. uwsgi
2.0.31 can miss that SIGHUP in a worker (one that had only just spawned, or,
as the lab saw, worker 2 of an instance that had served for minutes and went
on answering health checks), and the master then waits on it past its own
``worker-reload-mercy``, until systemd's ``TimeoutStopSec`` (90 s) ends in
SIGKILL. So, as ``heat-wsgi down`` does: if the master still runs 5 s after
the SIGTERM, each worker is sent SIGHUP once more; after the mercy the whole
process group gets SIGKILL.

systemd passes the master's pid as ``$MAINPID``; it is empty when the master
has already exited, and then there is nothing to do.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from heat_wsgi.runtime import process

__all__ = ["main", "STOP_TIMEOUT"]

STOP_TIMEOUT = 80.0  # the rendered worker-reload-mercy; TimeoutStopSec (90) covers it


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1:
        print(f"heat_wsgi.uwsgi_stop: expected one argument, the master's pid (got {args!r})",
              file=sys.stderr)
        return 2
    if not args or not args[0].strip():
        return 0   # $MAINPID was empty: the master is gone already
    try:
        pid = int(args[0])
    except ValueError:
        print(f"heat_wsgi.uwsgi_stop: the master's pid must be a number (got {args[0]!r})",
              file=sys.stderr)
        return 2
    if pid <= 1:
        print(f"heat_wsgi.uwsgi_stop: refusing pid {pid}", file=sys.stderr)
        return 2
    process.stop(pid, STOP_TIMEOUT, nudge_children_after=process.UWSGI_NUDGE_AFTER)
    return 0


if __name__ == "__main__":
    sys.exit(main())
