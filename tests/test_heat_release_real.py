"""Older Heat releases for real: Heat 24 (the last with the [heat_api] bind
options) and 26, each in its own cached venv (tests/releasevenv.py), next to
the main venv's 27.

* Every heat.conf rendered for a release passes that release's own
  ``oslo-config-validator`` run from its own generator config; so does the
  shipped etc/heat/heat.conf.
* ``heat_wsgi.api`` and ``heat_wsgi.cfn`` from the checkout serve each
  release under uwsgi from a heat.conf rendered for it, with that release's
  engine: python-heatclient creates and deletes a stack, boto3 lists it.

One MariaDB and one RabbitMQ serve every release (a database each; the
releases run one after the other, each engine stopped before the next
starts). Servers bind 127.0.0.70 (MariaDB, RabbitMQ with epmd 4377) and
127.0.0.71 (the two uwsgi instances) only, and are stopped by pid.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

import heat_wsgi
from heat_wsgi.model import (
    ApiInstance, Database, EngineGroup, Host, MessageBus, Paths, Topology,
)
from heat_wsgi.loader import load_topology
from heat_wsgi.runtime import heat, mariadb, rabbitmq, uwsgi
from heat_wsgi.runtime.service import Service, stop_all
from conftest import REPO, SHIPPED_HEAT_CONF, VENV, reachable_dir
from realstack import create_random_string_stack, heat_client, wait_deleted
from releasevenv import generator_config, heat_version_of, release_venv

pytestmark = pytest.mark.real

BACKEND = "127.0.0.70"
FRONT = "127.0.0.71"
EPMD_PORT = 4377


#: The releases CI runs: the main venv's 27, and older ones from cached venvs.
RELEASES = ("27", "24", "26")


@pytest.fixture(scope="module", params=RELEASES)
def release(request: pytest.FixtureRequest) -> tuple[int, Path]:
    """(major version, venv): the main venv for 27, a cached one for older ones."""
    series = str(request.param)
    venv = VENV if series == "27" else release_venv(series)
    assert heat_version_of(venv).split(".")[0] == series
    return int(series), venv


VALIDATE_MANY = Path(__file__).with_name("oslo_validate_many.py")


def validate(venv: Path, confs: list[Path]) -> tuple[dict[Path, int], str]:
    """The release's own oslo-config-validator's exit status for each file,
    and its messages (each file's under a ``== FILE`` line).

    One process for all the files (tests/oslo_validate_many.py): the CLI takes
    one --input-file and spends seconds of CPU importing every option
    namespace each time; the script builds the option data once.
    """
    gen = generator_config(heat_version_of(venv), venv / "bin" / "pip")
    result = subprocess.run([str(venv / "bin" / "python"), str(VALIDATE_MANY), str(gen),
                             *map(str, confs)], capture_output=True, text=True, timeout=600)
    statuses = {Path(line.split(" ", 2)[2]): int(line.split(" ", 2)[1])
                for line in result.stdout.splitlines() if line.startswith("RESULT ")}
    assert set(statuses) == set(confs), f"{VALIDATE_MANY}: {result.stderr[-2000:]}"
    assert result.returncode == (1 if any(statuses.values()) else 0), result.stderr[-2000:]
    return statuses, result.stderr


def test_rendered_heat_confs_pass_the_releases_own_validator(release: tuple[int, Path],
                                                             tmp_path: Path) -> None:
    version, venv = release
    sample = load_topology(REPO / "etc" / "heat" / "topology.sample.yaml")
    # Two REST instances on B: its own heat.conf and both copies differ.
    extra = ApiInstance(name="rest-server-3", service="api", host="B", port=8014)
    topology = dataclasses.replace(sample, heat_version=version,
                                   api_instances=sample.api_instances + (extra,))
    confs = [f for f in heat_wsgi.render(topology).values() if f.kind == "heat.conf"]
    assert len(confs) == 2 + 7
    paths = []
    for item in confs:
        paths.append(tmp_path / f"{item.host}-{Path(item.path).name}")
        paths[-1].write_text(item.text)
    # The validator does fail on an option the release does not know, also
    # between good files (each file's status is its own).
    bad = tmp_path / "bad.conf"
    bad.write_text(SHIPPED_HEAT_CONF.read_text() + "\n[heat_api]\nno_such_option = 1\n")
    statuses, messages = validate(venv, [SHIPPED_HEAT_CONF, *paths[:1], bad, *paths[1:]])
    assert statuses.pop(bad) != 0
    failed = {path: status for path, status in statuses.items() if status != 0}
    assert not failed, f"failed the release's validator: {failed}\n{messages[-4000:]}"


def release_topology(state: Path, version: int, venv: Path, db_url: str,
                     transport_url: str) -> Topology:
    paths = Paths(config_dir=f"{state}/etc", log_dir=f"{state}/logs", run_dir=f"{state}/run",
                  state_dir=f"{state}/lib", venv=str(venv))
    return Topology(
        name=f"heat-{version}", heat_version=version,
        hosts=(Host(name="node", address=FRONT, paths=paths),),
        api_instances=(
            ApiInstance(name="rest", service="api", host="node", mode="uwsgi", port=8004,
                        processes=1, threads=2),
            ApiInstance(name="cfn", service="cfn", host="node", mode="uwsgi", port=8000,
                        processes=1, threads=1)),
        engines=(EngineGroup(host="node", processes=1),),
        database=Database(url=db_url), message_bus=MessageBus(transport_url=transport_url),
        base_config=SHIPPED_HEAT_CONF.read_text())


@pytest.fixture(scope="module")
def backends() -> Iterator[tuple[Path, Service, Service]]:
    """(state dir, MariaDB, RabbitMQ), started once for every release."""
    state = reachable_dir("heat-wsgi-release-backends-")
    services: list[Service] = []
    try:
        services.append(mariadb.start_mariadb(state, address=BACKEND, port=3306))
        services.append(rabbitmq.start_rabbitmq(state, address=BACKEND, port=5672,
                                                epmd_port=EPMD_PORT))
        yield state, services[0], services[1]
    finally:
        stop_all(list(reversed(services)))
        subprocess.run(["rm", "-rf", "--", str(state)], check=False)


@pytest.fixture(scope="module")
def served(release: tuple[int, Path],
           backends: tuple[Path, Service, Service]) -> Iterator[tuple[int, Path]]:
    version, venv = release
    backend_state, db, mq = backends
    state = reachable_dir(f"heat-wsgi-release-{version}-")
    services: list[Service] = []
    try:
        # A database of its own: each release's db_sync starts from nothing.
        database = f"heat{version}"
        mariadb.create_database(mariadb.socket_path(backend_state), database=database,
                                user="heat", password="heat", service="mariadb",
                                log=str(backend_state / "logs" / "mariadb.log"))
        assert db.url.count("/heat?") == 1, db.url
        db_url = db.url.replace("/heat?", f"/{database}?")
        topology = release_topology(state, version, venv, db_url, mq.transport_url)
        assert [p for p in heat_wsgi.validate(topology) if p.severity == "error"] == []
        files = heat_wsgi.render(topology)
        for item in files.values():
            if item.kind in ("heat.conf", "uwsgi"):
                path = Path(item.path)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(item.text)
        for sub in ("logs", "run", "lib"):
            (state / sub).mkdir(exist_ok=True)
        conf = state / "etc" / "heat.conf"
        heat.db_sync(venv, conf)
        services.append(heat.start_engine(venv, conf, state, "heat-engine", host="node",
                                          database_url=db_url))
        for name in ("rest", "cfn"):
            ini = state / "etc" / "uwsgi" / f"{name}.ini"
            # The one addition: heat_wsgi comes from the checkout, not the venv.
            ini.write_text(ini.read_text() + f"pythonpath = {REPO}\n")
            services.append(uwsgi.start_uwsgi(venv, ini, state, f"uwsgi-{name}"))
        yield version, state
    finally:
        stop_all(list(reversed(services)))
        subprocess.run(["rm", "-rf", "--", str(state)], check=False)


def test_the_release_serves_both_apis_and_creates_a_stack(served: tuple[int, Path]) -> None:
    version, state = served
    own = (state / "etc" / "heat-rest.conf").read_text()
    # Heat <= 24 reads the bind options; 25+ has none (and no empty section).
    assert (f"[heat_api]\nbind_host = {FRONT}\nbind_port = 8004\n" in own) == (version <= 24)
    assert ("\n[heat_api]\n" in own) == (version <= 24)
    client = heat_client(f"http://{FRONT}:8004")
    stack_id, _ = create_random_string_stack(client, f"release-{version}")
    cfn = boto3.client("cloudformation", endpoint_url=f"http://{FRONT}:8000/v1/",
                       region_name="RegionOne", aws_access_key_id="x", aws_secret_access_key="y")
    names = [s["StackName"] for s in cfn.list_stacks()["StackSummaries"]]
    assert f"release-{version}" in names
    client.stacks.delete(stack_id)
    wait_deleted(client, stack_id)
