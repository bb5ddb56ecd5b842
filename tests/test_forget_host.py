"""``heat-wsgi forget-host``: a killed engine's stack stays in progress until the host is forgotten.

Real MariaDB, RabbitMQ, heat-engine and Heat's API under uwsgi on
127.0.0.100-101. A stack whose one resource waits 10 minutes is created, its
engine is killed mid-create (the way a machine that loses power stops), and
the command must: refuse while the engine still answers; then report the
held stack and change nothing; then, with --apply, leave it CREATE_FAILED
and drop the dead engine's service rows. A session left open from the
"lost machine's" address 127.0.0.102, in a transaction that locks the
stack's row (what a machine that lost power mid-transaction leaves on
MariaDB), must be killed by --apply --address before the reset, which would
otherwise wait out innodb_lock_wait_timeout and fail. A new engine then
serves a new stack, so nothing else was disturbed.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from heat_wsgi.runtime import heat, uwsgi
from heat_wsgi.runtime.process import group_alive as is_alive_group
from heat_wsgi.runtime.service import Service

from conftest import VENV, wait_until
from realstack import (Backend, heat_backend, heat_client, run_cli, wait_deleted,
                       wait_for_status)

ADDRESS, API = "127.0.0.100", ("127.0.0.101", 18004)
LOST_ADDRESS = "127.0.0.102"        # where the stand-in for a dead machine's session comes from
ENGINE_HOST = "test-engine-host"    # heat_backend's engine's [DEFAULT] host

SLOW = {"heat_template_version": "2018-08-31",
        "resources": {"slow": {"type": "OS::Heat::TestResource",
                               "properties": {"action_wait_secs": {"create": 600}}}}}
QUICK = {"heat_template_version": "2018-08-31",
         "resources": {"rs": {"type": "OS::Heat::RandomString"}}}


@pytest.mark.parametrize("value", ["0", "-5", "nan"])
def test_stalled_after_must_be_a_positive_number_of_seconds(value: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    from heat_wsgi import cli
    conf = tmp_path / "heat.conf"
    conf.write_text("[DEFAULT]\n")
    assert cli.main(["forget-host", "C", "--config-file", str(conf),
                     f"--stalled-after={value}"]) == 2
    assert f"--stalled-after: must be a number of seconds above 0 (got {value})" in \
        capsys.readouterr().err


def test_address_must_be_an_ip_address(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    from heat_wsgi import cli
    conf = tmp_path / "heat.conf"
    conf.write_text("[DEFAULT]\n")
    assert cli.main(["forget-host", "C", "--config-file", str(conf), "--address", "c.lab"]) == 2
    assert "--address: must be an IP address, as the database reports its clients " \
        "(got 'c.lab')" in capsys.readouterr().err


def session_locking_stack(backend: Backend, stack_id: str) -> Any:
    """A database session from LOST_ADDRESS holding the stack row's lock in an open
    transaction, then left idle: what a machine that lost power leaves behind."""
    import pymysql
    from sqlalchemy.engine import make_url
    url = make_url(backend.database_url)
    conn = pymysql.connect(host=url.host, port=url.port or 3306, user=url.username,
                           password=url.password, database=url.database,
                           bind_address=LOST_ADDRESS, autocommit=False)
    with conn.cursor() as cursor:
        cursor.execute("SELECT id FROM stack WHERE id = %s FOR UPDATE", (stack_id,))
        assert cursor.fetchall()
    return conn


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    with heat_backend(ADDRESS, epmd_port=4310, engine_workers=1,
                      prefix="heat-wsgi-forget-") as started:
        yield started


@pytest.fixture(scope="module")
def client(backend: Backend) -> Iterator[Any]:
    ini = backend.state_dir / "etc" / "uwsgi-api.ini"
    ini.write_text(uwsgi.render_ini([
        ("http-socket", f"{API[0]}:{API[1]}"), ("virtualenv", str(VENV)),
        ("module", "heat_wsgi.api:application"), ("pyargv", f"--config-file {backend.heat_conf}"),
        ("processes", "1"), ("threads", "2"), *uwsgi.PRIVATE_OPTIONS]))
    service = uwsgi.start_uwsgi(VENV, ini, backend.state_dir, "uwsgi-api")
    try:
        yield heat_client(f"http://{API[0]}:{API[1]}")
    finally:
        service.stop()


def forget(backend: Backend, *extra: str) -> "subprocess.CompletedProcess[str]":
    return run_cli("forget-host", ENGINE_HOST, "--config-file", str(backend.heat_conf), *extra,
                   timeout=120)


def engine_rows(backend: Backend) -> list[str]:
    out = subprocess.run([str(VENV / "bin" / "heat-manage"), "--config-file",
                          str(backend.heat_conf), "service", "list"],
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if ENGINE_HOST in line]


@pytest.mark.real
def test_a_killed_engines_stack_is_reported_then_failed_and_a_new_engine_serves(
        backend: Backend, client: Any) -> None:
    engine = next(s for s in backend.services if s.name == "heat-engine")
    stack_id = client.stacks.create(stack_name="held", template=SLOW)["stack"]["id"]
    wait_until(lambda: any(r.resource_status == "CREATE_IN_PROGRESS"
                           for r in client.resources.list(stack_id)), 60,
               "the slow resource to start")

    alive = forget(backend, "--apply")
    assert alive.returncode == 2, alive.stdout + alive.stderr
    assert "still answers Heat's liveness probe" in alive.stderr and "nothing was changed" \
        in alive.stderr, alive.stderr
    assert client.stacks.get(stack_id).stack_status == "CREATE_IN_PROGRESS"

    # As a machine losing power stops it: the engine and its workers (Heat's
    # default of 4 here), the process group this test started, all at once.
    os.killpg(engine.pid, signal.SIGKILL)
    wait_until(lambda: not is_alive_group(engine.pid), 30, "the engine's workers to die")

    dead_session = session_locking_stack(backend, stack_id)
    report = forget(backend, "--address", LOST_ADDRESS)
    assert report.returncode == 0, report.stdout + report.stderr
    assert f"held: stack {stack_id} (held) CREATE_IN_PROGRESS: slow" in report.stdout, \
        report.stdout
    assert "1 stack(s) would reset" in report.stdout, report.stdout
    assert "1 database session(s) open" in report.stdout, report.stdout
    assert engine_rows(backend), "the report alone deleted the service rows"
    dead_session.ping(reconnect=False)   # the report left the session alone

    # (No engine runs now, so the API cannot answer: the apply run's line
    # shows that the report left the stack as it was.) Without the kill the
    # reset would wait on the session's lock for innodb_lock_wait_timeout (50 s).
    applied = forget(backend, "--apply", "--address", LOST_ADDRESS)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert f"{stack_id} (held) CREATE_IN_PROGRESS: slow -> FAILED" in applied.stdout
    assert "1 database session(s) killed" in applied.stdout, applied.stdout
    assert engine_rows(backend) == []
    with pytest.raises(Exception):
        dead_session.ping(reconnect=False)
    again = forget(backend, "--apply")
    assert "0 dead heat-engine(s), 0 stack(s)" in again.stdout, again.stdout

    replacement: Service = heat.start_engine(VENV, backend.heat_conf, backend.state_dir,
                                             "heat-engine-2", host=ENGINE_HOST,
                                             database_url=backend.database_url)
    backend.services.append(replacement)
    stack = client.stacks.get(stack_id)
    assert (stack.stack_status, stack.stack_status_reason) == \
        ("CREATE_FAILED", "Stack status manually reset"), stack
    new_id = client.stacks.create(stack_name="after", template=QUICK)["stack"]["id"]
    wait_for_status(client, new_id, "CREATE_COMPLETE", 120)
    client.stacks.delete(stack_id)   # a failed stack deletes as usual
    wait_deleted(client, stack_id)
