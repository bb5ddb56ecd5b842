"""Heat's own processes: the schema (``heat-manage db_sync``) and heat-engine."""

from __future__ import annotations

import time
from pathlib import Path

from heat_wsgi.errors import ServiceError
from heat_wsgi.runtime import process
from heat_wsgi.runtime.service import Service

ENGINE_TIMEOUT = 90.0
DB_SYNC_TIMEOUT = 300.0


def _bin(venv: Path, name: str, service: str) -> Path:
    path = venv / "bin" / name
    if not path.is_file():
        raise ServiceError(service, f"cannot run {path}: not found "
                                    "(is openstack-heat installed in that venv?)")
    return path


def db_sync(venv: Path, heat_conf: Path, *, log: Path | None = None,
            timeout: float = DB_SYNC_TIMEOUT) -> None:
    """Run ``heat-manage --config-file heat_conf db_sync`` to completion.

    Idempotent: alembic only applies the revisions the database lacks.

    :param log: where its output goes (default ``heat_conf``'s sibling
        ``db_sync.log``); quoted in the error when it fails.
    """
    binary = _bin(venv, "heat-manage", "heat-manage db_sync")
    log = log if log is not None else heat_conf.parent / "db_sync.log"
    process.run_to_completion("heat-manage db_sync", [str(binary), "--config-file", str(heat_conf), "db_sync"],
              log, timeout)


def cloudwatch_db_sync(venv: Path, heat_conf: Path, *, log: Path | None = None,
                       timeout: float = DB_SYNC_TIMEOUT) -> None:
    """Run ``heat-wsgi cloudwatch db-sync --config-file heat_conf`` (idempotent).

    heat_wsgi's CloudWatch API keeps its own tables next to Heat's.
    """
    binary = _bin(venv, "heat-wsgi", "heat-wsgi cloudwatch db-sync")
    log = log if log is not None else heat_conf.parent / "db_sync.log"
    process.run_to_completion("heat-wsgi cloudwatch db-sync",
              [str(binary), "cloudwatch", "db-sync", "--config-file", str(heat_conf)],
              log, timeout)


def _engine_ids(database_url: str, host: str) -> set[str] | None:
    """The engine ids ``host`` has registered in Heat's ``service`` table.

    None when the table cannot be read yet (the schema may still be missing).
    """
    import sqlalchemy  # only the venv that runs Heat has it

    try:
        engine = sqlalchemy.create_engine(database_url, poolclass=sqlalchemy.pool.NullPool)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    sqlalchemy.text("SELECT engine_id FROM service WHERE host = :host "
                                    "AND `binary` = 'heat-engine' AND deleted_at IS NULL"
                                    if database_url.startswith("mysql") else
                                    "SELECT engine_id FROM service WHERE host = :host "
                                    "AND binary = 'heat-engine' AND deleted_at IS NULL"),
                    {"host": host}).all()
        finally:
            engine.dispose()
    except sqlalchemy.exc.SQLAlchemyError:
        return None
    return {str(row[0]) for row in rows}


def start_engine(venv: Path, heat_conf: Path, state_dir: Path, name: str, *,
                 host: str | None = None, workers: int = 1, database_url: str | None = None,
                 timeout: float = ENGINE_TIMEOUT, launcher: bool = False) -> Service:
    """Start one ``heat-engine --config-file heat_conf`` in the foreground.

    Ready means the engine consumes RPC: every worker has registered itself in
    Heat's ``service`` table, which Heat does right after its RPC server
    started. That needs ``database_url`` and ``host`` (the ``[DEFAULT] host``
    of ``heat_conf``). Without them, ready means the log says
    "Starting listener for engine" ``workers`` times (needs ``debug = True``).

    :param name: unique name in the state dir, e.g. ``heat-engine-node-2-1``.
    :param launcher: run it as ``python -m heat_wsgi.engine`` (heat-engine
        whose stop loses no RPC call, see :mod:`heat_wsgi.engine`); the venv
        must have heat_wsgi installed.
    """
    binary = _bin(venv, "heat-engine", name)
    argv = ([str(venv / "bin" / "python"), "-m", "heat_wsgi.engine"] if launcher
            else [str(binary)]) + ["--config-file", str(heat_conf)]
    state_dir = state_dir.absolute()
    log = state_dir / "logs" / f"{name}.log"
    offset = process.log_size(log)
    # Engines already registered for this host (earlier engines of the same
    # host, or stale rows of an earlier run) do not count as ours.
    before = (_engine_ids(database_url, host) or set()) if database_url and host else set()
    proc = process.spawn(name, argv, state_dir=state_dir, log=log)
    try:
        if database_url and host:
            what = f"{workers} engine worker(s) of host {host!r} registered in the service table"
            deadline = time.monotonic() + timeout
            while len((_engine_ids(database_url, host) or set()) - before) < workers:
                if not process.is_alive(proc.pid):
                    status = process.exit_status(proc.pid)
                    raise ServiceError(name, f"exited with status {status} before {what}"
                                       + process.log_tail(log), str(log))
                if time.monotonic() >= deadline:
                    raise ServiceError(name, f"not ready after {timeout:g}s: waiting for {what}"
                                       + process.log_tail(log), str(log))
                time.sleep(0.5)
        else:
            process.wait_for_log(log, "Starting listener for engine", timeout, service=name,
                                 pid=proc.pid, offset=offset)
    except BaseException:
        process.stop_proc(proc)
        raise
    return Service(name=name, kind="heat-engine", procs=(proc,), address=host or "",
                   url="", health="", log=str(log))
