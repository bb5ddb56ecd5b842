"""A private OpenStack Keystone (identity v3) under a state directory, served by uwsgi.

Heat cannot do everything without an identity service: its engine handles
a resource signal under the stack owner's stored context and asks Keystone
for that user's domain. This module runs the real Keystone for such cases:
``keystone.conf`` under ``<state_dir>/<name>/``, its schema in a database
the caller provides (a MariaDB from :mod:`heat_wsgi.runtime.mariadb` does),
fernet and credential key repositories beside the config, the admin user,
project, role, region and identity endpoints made by ``keystone-manage
bootstrap``, and ``keystone.wsgi.api:application`` under ``<venv>/bin/uwsgi``.
"""

from __future__ import annotations

from pathlib import Path

from heat_wsgi.errors import ServiceError
from heat_wsgi.quoting import ini_value
from heat_wsgi.runtime import mariadb, process, uwsgi
from heat_wsgi.runtime.service import Service

MANAGE_TIMEOUT = 300.0
START_TIMEOUT = 90.0
ADMIN_USER = "admin"
ADMIN_PROJECT = "admin"
REGION = "RegionOne"


def create_database(socket_path: Path, db_address: str, *, database: str = "keystone",
                    user: str = "keystone", password: str = "keystone",
                    service: str = "keystone", log: str = "") -> str:
    """Create Keystone's database and user in a running MariaDB, idempotently.

    :param socket_path: the server's unix socket (root is let in over it)
    :param db_address: ``host:port`` the server listens on, for the URL
    :returns: the SQLAlchemy URL Keystone connects with.
    """
    mariadb.create_database(socket_path, database=database, user=user, password=password,
                            service=service, log=log)
    return f"mysql+pymysql://{user}:{password}@{db_address}/{database}?charset=utf8mb4"


def render_config(*, database_url: str, key_dir: Path, log_file: Path) -> str:
    """The keystone.conf of a private instance."""
    lines = [
        "# Written by heat_wsgi.runtime.keystone for a private test instance.",
        "[DEFAULT]",
        f"log_file = {ini_value(str(log_file))}",
        "",
        "[database]",
        f"connection = {ini_value(database_url)}",
        "",
        "[fernet_tokens]",
        f"key_repository = {ini_value(str(key_dir / 'fernet-keys'))}",
        "",
        "[credential]",
        f"key_repository = {ini_value(str(key_dir / 'credential-keys'))}",
        "",
        # The minimum bcrypt cost: every password check (bootstrap, each
        # token request) otherwise costs a quarter of a second of CPU.
        "[identity]",
        "password_hash_rounds = 4",
        "",
        "[token]",
        "provider = fernet",
        "",
    ]
    return "\n".join(lines)


def _manage(venv: Path, conf: Path, args: list[str], log: Path, name: str) -> None:
    binary = venv / "bin" / "keystone-manage"
    if not binary.is_file():
        raise ServiceError(name, f"cannot run {binary}: not found (pip install keystone)")
    # heat's runtime already runs one-shot tools with their output in a log.
    process.run_to_completion(f"{name}: keystone-manage {args[0]}",
                           [str(binary), "--config-file", str(conf), *args], log,
                           MANAGE_TIMEOUT)


def write_uwsgi_ini(path: Path, *, conf: Path, address: str, port: int, log: Path) -> Path:
    """The uwsgi ini serving ``keystone.wsgi.api:application`` on ``address:port``."""
    # keystone.server.flask.core._get_config_files reads OS_KEYSTONE_CONFIG_FILES
    # (';'-separated) when the module is imported; without it Keystone looks
    # for /etc/keystone/keystone.conf. Connection: close (PRIVATE_OPTIONS)
    # matters here: keystoneauth reuses its discovery GET's connection.
    path.write_text(uwsgi.render_ini([
        ("http-socket", f"{address}:{port}"), ("module", "keystone.wsgi.api:application"),
        ("env", f"OS_KEYSTONE_CONFIG_FILES={conf}"), ("processes", "1"), ("threads", "4"),
        *uwsgi.PRIVATE_OPTIONS, ("logto", str(log))]))
    return path


def start_keystone(venv: Path, state_dir: Path, *, database_url: str,
                   address: str = "127.0.0.1", port: int = 5000,
                   admin_password: str = "secret", name: str = "keystone",
                   timeout: float = START_TIMEOUT) -> Service:
    """Set up and start Keystone; ready when ``GET /v3`` answers 200.

    Runs ``keystone-manage db_sync``, ``fernet_setup``, ``credential_setup``
    and ``bootstrap`` (all idempotent), then uwsgi in the foreground.
    ``bootstrap`` makes user ``admin`` (``admin_password``) with the
    ``admin`` role on project ``admin`` in domain ``Default``, region
    ``RegionOne`` and the identity endpoints at ``http://address:port/v3``.

    :returns: a :class:`Service` whose ``url`` is ``http://address:port/v3``.
    """
    process.require_free_ports(name, [(address, port)])
    state_dir = state_dir.absolute()
    base = state_dir / name
    base.mkdir(parents=True, exist_ok=True)
    # One log for everything: keystone-manage and the app both log to the
    # conf's log_file, and uwsgi's own output (an import failure) goes there too.
    log = state_dir / "logs" / f"{name}.log"
    manage_log = log
    conf = base / "keystone.conf"
    conf.write_text(render_config(database_url=database_url, key_dir=base, log_file=log))
    url = f"http://{address}:{port}/v3"
    _manage(venv, conf, ["db_sync"], manage_log, name)
    # As root keystone-manage insists on a user and group to own the keys;
    # ours is whoever runs the tests, so name that.
    owner = ["--keystone-user", str(base.owner()), "--keystone-group", str(base.group())]
    _manage(venv, conf, ["fernet_setup", *owner], manage_log, name)
    _manage(venv, conf, ["credential_setup", *owner], manage_log, name)
    _manage(venv, conf, ["bootstrap", "--bootstrap-password", admin_password,
                         "--bootstrap-username", ADMIN_USER,
                         "--bootstrap-project-name", ADMIN_PROJECT,
                         "--bootstrap-admin-url", url, "--bootstrap-public-url", url,
                         "--bootstrap-internal-url", url, "--bootstrap-region-id", REGION],
            manage_log, name)
    ini = write_uwsgi_ini(base / "uwsgi.ini", conf=conf, address=address, port=port,
                          log=log)
    service = uwsgi.start_uwsgi(venv, ini, state_dir, name, health_path="/v3",
                                timeout=timeout)
    return Service(name=name, kind="keystone", procs=service.procs, address=service.address,
                   url=url, health=service.health, log=service.log)
