"""A private MariaDB server under a state directory, with Heat's database in it."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from heat_wsgi.errors import ServiceError
from heat_wsgi.runtime import process
from heat_wsgi.runtime.service import Service

START_TIMEOUT = 60.0
# Each heat-engine worker and uwsgi worker holds an oslo.db pool (5 + 10
# overflow); a few hosts of those exceed MariaDB's default of 151.
MAX_CONNECTIONS = 1000


def _quote_sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _quote_sql_ident(value: str) -> str:
    return "`" + value.replace("`", "``") + "`"


INSTALL_DB_ARGS = ("--no-defaults", "--user=root", "--auth-root-authentication-method=socket",
                   "--skip-test-db")


def _run_install_db(binary: str, datadir: Path, *, service: str, log: Path) -> None:
    datadir.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        result = subprocess.run(
            [binary, INSTALL_DB_ARGS[0], f"--datadir={datadir}", *INSTALL_DB_ARGS[1:]],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        # A half-made datadir would be "kept" next time; remove it.
        shutil.rmtree(datadir, ignore_errors=True)
        raise ServiceError(service, f"mariadb-install-db exited with status "
                                    f"{result.returncode}" + process.log_tail(log), str(log))


def _template_dir(binary: str) -> Path | None:
    """Where the pristine datadir for this MariaDB build and these options is
    kept, or None when the server's version cannot be read."""
    server = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    try:
        version = subprocess.run([server, "--version"], capture_output=True, text=True,
                                 check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    # The tables hold no path; the host name and the options go in the key in
    # case a build ever writes them (root@<hostname> did, before socket auth).
    key = hashlib.sha256("\0".join([version, socket.gethostname(), binary, *INSTALL_DB_ARGS])
                         .encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "heat_wsgi" / "mariadb-datadir" / key


def install_db(datadir: Path, *, service: str, log: Path) -> None:
    """Create the system tables in ``datadir`` once; a populated datadir is kept.

    ``mariadb-install-db`` takes seconds (it boots a bootstrap server); a copy
    of a pristine datadir it made once for this MariaDB build (kept under
    ``~/.cache/heat_wsgi/mariadb-datadir``, never started) takes a fraction
    of that and yields the same files, modes and users.
    """
    if (datadir / "mysql").is_dir():
        return
    binary = shutil.which("mariadb-install-db")
    if binary is None:
        raise ServiceError(service, "cannot run mariadb-install-db: not found "
                                    "(install the mariadb-server package)")
    template = _template_dir(binary)
    if template is None or (datadir.exists() and any(datadir.iterdir())):
        _run_install_db(binary, datadir, service=service, log=log)
        return
    if not (template / "mysql").is_dir():
        template.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f"{template.name}.", dir=template.parent))
        made = building / "data"
        _run_install_db(binary, made, service=service, log=log)
        try:
            made.rename(template)
        except OSError:
            pass  # another process made it first: same build, same files
        shutil.rmtree(building, ignore_errors=True)
    datadir.parent.mkdir(parents=True, exist_ok=True)
    partial = datadir.with_name(datadir.name + ".copying")
    shutil.rmtree(partial, ignore_errors=True)
    # Copied beside, then renamed: a half-copied datadir is never "kept".
    shutil.copytree(template, partial, symlinks=True)
    if datadir.exists():
        datadir.rmdir()
    partial.rename(datadir)


def run_sql(socket_path: Path, sql: str, *, service: str, log: str) -> str:
    """Run ``sql`` as root over the unix socket with the ``mariadb`` client."""
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        raise ServiceError(service, "cannot run the mariadb client: not found "
                                    "(install the mariadb-client package)")
    result = subprocess.run([client, "--no-defaults", f"--socket={socket_path}", "-uroot",
                             "--batch", "--skip-column-names", "-e", sql],
                            capture_output=True, text=True, check=False, timeout=60)
    if result.returncode != 0:
        raise ServiceError(service, f"SQL failed over {socket_path}: "
                                    f"{result.stderr.strip() or result.stdout.strip()}", log)
    return result.stdout


def create_database(socket_path: Path, *, database: str, user: str, password: str,
                    service: str, log: str) -> None:
    """Create ``database`` and a ``user`` with every right on it, idempotently
    (the password is reset to ``password`` each time), as root over the
    server's unix socket."""
    db, who, pw = _quote_sql_ident(database), _quote_sql_string(user), _quote_sql_string(password)
    run_sql(socket_path, f"CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb4;"
                         f"CREATE USER IF NOT EXISTS {who}@'%' IDENTIFIED BY {pw};"
                         f"ALTER USER {who}@'%' IDENTIFIED BY {pw};"
                         f"GRANT ALL PRIVILEGES ON {db}.* TO {who}@'%';"
                         "FLUSH PRIVILEGES;", service=service, log=log)


def socket_path(state_dir: Path, name: str = "mariadb") -> Path:
    """The unix socket of the instance ``name`` under ``state_dir``, over
    which root administers it (:func:`run_sql`, :func:`create_database`)."""
    return state_dir.absolute() / name / "mysqld.sock"


def start_mariadb(state_dir: Path, *, address: str = "127.0.0.1", port: int = 3306,
                  database: str = "heat", user: str = "heat", password: str = "heat",
                  name: str = "mariadb", max_connections: int = MAX_CONNECTIONS,
                  timeout: float = START_TIMEOUT) -> Service:
    """Start ``mariadbd --no-defaults`` bound to ``address:port``; create db and user.

    The datadir ``<state_dir>/<name>/data`` is created with
    ``mariadb-install-db`` on first use and kept afterwards, so a restart keeps
    the stacks. The database and user are created idempotently as root over
    the unix socket ``<state_dir>/<name>/mysqld.sock``.

    :returns: a :class:`Service` whose ``url`` is
        ``mysql+pymysql://user:password@address:port/database?charset=utf8mb4``.
    """
    process.require_free_ports(name, [(address, port)])
    state_dir = state_dir.absolute()
    base = state_dir / name
    datadir = base / "data"
    sock = socket_path(state_dir, name)
    log = state_dir / "logs" / f"{name}.log"
    install_db(datadir, service=name, log=log)
    binary = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    argv = [binary, "--no-defaults", f"--datadir={datadir}", "--user=root",
            f"--bind-address={address}", f"--port={port}", f"--socket={sock}",
            f"--pid-file={base / 'mariadbd.pid'}", f"--max-connections={max_connections}",
            "--skip-name-resolve", "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_general_ci", "--innodb-buffer-pool-size=64M",
            # Durability is not the point of a throwaway cluster; speed is.
            "--innodb-flush-log-at-trx-commit=2", "--skip-log-bin",
            f"--log-error={log}"]
    proc = process.spawn(name, argv, state_dir=state_dir, log=log)
    try:
        process.wait_for_unix_socket(sock, timeout, service=name, pid=proc.pid, log=log)
        process.wait_for_tcp(address, port, timeout, service=name, pid=proc.pid, log=log)
        create_database(sock, database=database, user=user, password=password,
                        service=name, log=str(log))
    except BaseException:
        process.stop_proc(proc, 30.0)
        raise
    return Service(name=name, kind="mariadb", procs=(proc,), address=f"{address}:{port}",
                   url=f"mysql+pymysql://{user}:{password}@{address}:{port}/{database}"
                       "?charset=utf8mb4",
                   health=f"tcp://{address}:{port}", log=str(log))
