"""The shipped sample topology deployed on the lab's machines, by the generated playbooks.

The lab deploys ``etc/heat/topology.sample.yaml`` itself, as a user would
render it, with one substitution: its addresses (:func:`lab_addresses`).
``lab`` (session scope) boots one machine per host of the sample, named
after it (host A is machine a: the lab's names are lowercase) on its lab
address, each with ``/opt/heat`` (the sample's ``paths.venv``) a symlink to
the checkout's virtualenv (:func:`checkout_venv`), so the rendered files are
the sample's, byte for byte, apart from the addresses. ``deployment``
(session scope) renders it, runs ``site.yml`` from the control namespace,
runs it again, and hands back a :class:`Deployment`: the rendered dir, the
inventory, and :meth:`Deployment.playbook` to run any generated playbook (or
a scenario's own) against the machines. Tests name hosts, instances and
secrets from ``deployment.topology``, never by hand.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import yaml

from ansible_checks import BIN, ansible_env
from heat_wsgi.lab import Lab
from heat_wsgi.loader import loads_topology
from heat_wsgi.model import Topology
from heat_wsgi.render import render_all
from heat_wsgi.writer import write_tree
from labfixture import SESSION

if TYPE_CHECKING:   # realstack imports conftest, which imports this module
    from realstack import LoadRun

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "etc" / "heat" / "topology.sample.yaml"
VENV = Path(sys.prefix)

T = TypeVar("T")

_RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                    re.MULTILINE)


def checkout_venv() -> Path:
    """A virtualenv whose ``heat_wsgi`` is this checkout's, for the machines' services.

    Usually the checkout's own ``.venv`` (its editable install points here).
    A git worktree shares another checkout's ``.venv`` and imports its own
    code through PYTHONPATH, which systemd units do not pass on; for it a
    small venv under ``.state/`` puts this checkout first and the shared
    venv's packages after it, and links the executables the units run.
    """
    probe = subprocess.run([str(VENV / "bin" / "python"), "-c",
                            "import heat_wsgi; print(heat_wsgi.__file__)"],
                           capture_output=True, text=True, cwd="/",
                           env={"PATH": "/usr/bin:/bin"}, check=True)
    if Path(probe.stdout.strip()).resolve().is_relative_to(REPO):
        return VENV
    return _venv_over(REPO / ".state" / "lab-venv",
                      Path(getattr(sys, "_base_executable", sys.executable)), VENV)


#: Where a lab host that serves under Debian's mod_wsgi finds its venv (see
#: :func:`system_python_venv`).
SYSTEM_VENV = "/opt/heat-system"


def system_python_venv() -> Path:
    """A venv of Debian's own Python running the checkout venv's packages, for a lab
    host under Debian's mod_wsgi.

    mod_wsgi's ``python-home`` follows the venv's ``pyvenv.cfg`` to its base
    Python's standard library. The checkout's venv is pyenv's 3.11.7, whose
    C extensions Debian's embedded 3.11.2 cannot load (``_ssl``: "undefined
    symbol: _PyModule_Add"); a real host makes its venv with
    ``/usr/bin/python3``, as site.yml's install part does. The packages'
    own C extensions load in either. Only mod_wsgi and Python run from it:
    uwsgi, built against 3.11.7, cannot use Debian's standard library.
    """
    return _venv_over(REPO / ".state" / "lab-venv-system", Path("/usr/bin/python3"),
                      checkout_venv())


def _venv_over(target: Path, python: Path, shared_venv: Path) -> Path:
    """A pip-less venv of ``python`` that imports this checkout first, then the packages
    of ``shared_venv``, with the executables the units run linked from it."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if not (target / "bin" / "python").exists():
        subprocess.run([str(python), "-m", "venv", "--without-pip", str(target)], check=True)
    site = target / "lib" / version / "site-packages"
    assert site.is_dir(), f"{python} is not a {version}: {target} has no {site}"
    shared = shared_venv / "lib" / version / "site-packages"
    (site / "heat_wsgi_checkout.pth").write_text(
        f"import sys, site; sys.path.insert(0, {str(REPO)!r}); site.addsitedir({str(shared)!r})\n")
    for name in ("uwsgi", "heat-engine", "heat-manage"):
        link = target / "bin" / name
        if not link.is_symlink():
            link.symlink_to(shared_venv / "bin" / name)
    script = target / "bin" / "heat-wsgi"
    script.write_text(f"#!{target}/bin/python\nimport sys\nfrom heat_wsgi.cli import main\n"
                      "sys.exit(main())\n")
    script.chmod(0o755)
    return target


_SAMPLE_NETWORK = re.compile(r"(?<![\d.])10\.0\.0\.(\d{1,3})(?![\d.])")


def lab_addresses(text: str) -> str:
    """``text`` with every address 10.0.0.N moved to 198.18.0.N: the lab's only change
    to the shipped sample topology.

    The sample describes the scaling guide's machines on 10.0.0.1-3. The lab
    never uses 10.x, which may well be a real network of the box or of CI:
    its machines live in 198.18.0.0/24, set aside for test networks (RFC
    2544), and only inside namespaces the lab made. Host N keeps its last
    octet, so 10.0.0.1 (A) is 198.18.0.1 (machine a), in host addresses and
    in any URL of the sample that names one.
    """
    return _SAMPLE_NETWORK.sub(r"198.18.0.\1", text)


def lab_topology() -> Topology:
    """etc/heat/topology.sample.yaml as the lab deploys it: only its addresses moved."""
    return loads_topology(lab_addresses(SAMPLE.read_text()), str(SAMPLE), SAMPLE.parent)


def lab_machines(topology: Topology) -> dict[str, str]:
    """One lab machine per host of ``topology``, on its address (host A is machine a)."""
    return {host.name: host.address for host in topology.hosts}


def lab_links(topology: Topology) -> dict[str, str]:
    """``paths.venv`` of every Heat host (the sample's /opt/heat) -> the checkout's venv."""
    venv = str(checkout_venv())
    return {host.paths.venv: venv for host in topology.hosts if host.paths.venv}


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """The sample's machines A, B, C (lab machines a, b, c on 198.18.0.1-3), for the
    session's tests that need them: closed after the last of them (labfixture)."""
    topology = lab_topology()
    try:
        yield SESSION.open(lab_machines(topology), lab_links(topology))
    finally:
        SESSION.close()   # a no-op unless the run ended before the lab's last test


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP per host: ok, changed, unreachable, failed."""
    return {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)),
                         "unreachable": int(m.group(4)), "failed": int(m.group(5))}
            for m in _RECAP.finditer(output)}


@dataclass(kw_only=True)
class Deployment:
    """The rendered tree on the box and the machines it was deployed to."""

    lab: Lab
    topology: Topology
    out: Path
    timings: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def ansible_dir(self) -> Path:
        return self.out / "ansible"

    @property
    def inventory(self) -> Path:
        return self.ansible_dir / "inventory.yml"

    @property
    def connection_vars(self) -> Path:
        return self.out / "lab-connection.yml"

    def render(self, topology: Topology | None = None) -> None:
        """Render (again), replacing the tree: e.g. after adding a host to the topology."""
        if topology is not None:
            self.topology = topology
        write_tree(render_all(self.topology), self.out, force=True)
        self.connection_vars.write_text(yaml.safe_dump(self.lab.ansible_vars()))

    def playbook(self, name: str, *args: str, timeout: float = 900,
                 label: str | None = None) -> subprocess.CompletedProcess[str]:
        """``ansible-playbook NAME ARGS`` in the control namespace, from the ansible/ dir."""
        started = time.monotonic()
        result = self.lab.control_run(
            [str(BIN / "ansible-playbook"), "-e", f"@{self.connection_vars}", name, *args],
            check=False, timeout=timeout, cwd=self.ansible_dir,
            # profile_tasks: each task's duration, for whoever reads a slow run.
            # (The lab's connection vars give each lab its own ssh control
            # sockets: the default ones are named after address, port and
            # user, which every lab's 198.18.0.3 shares.)
            env=ansible_env(ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks"),
            capture_output=True, text=True)
        key = label or name
        self.timings[key] = round(time.monotonic() - started, 1)
        self.outputs[key] = result.stdout + result.stderr
        # The whole output, for a failure's reader (the assertion shows the end).
        (self.out / f"{key.replace(' ', '-')}.log").write_text(self.outputs[key])
        return result

    def require(self, result: subprocess.CompletedProcess[str], what: str) -> dict[str, dict[str, int]]:
        """The recap of a run that must have succeeded on every host."""
        found = recap(result.stdout)
        bad = {h: r for h, r in found.items() if r["failed"] or r["unreachable"]}
        assert result.returncode == 0 and found and not bad, \
            f"{what} failed ({result.returncode}), whole output in {self.out}/:\n" \
            f"{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
        return found

    def report(self) -> str:
        return json.dumps(self.timings, sort_keys=True)


def deploy(lab: Lab, out: Path, topology: Topology | None = None) -> Deployment:
    """Render ``topology`` (the sample's, :func:`lab_topology`, by default) into ``out`` and
    run site.yml twice."""
    deployment = Deployment(lab=lab, topology=topology or lab_topology(), out=out)
    shutil.rmtree(out, ignore_errors=True)
    deployment.render()
    deployment.require(deployment.playbook("site.yml", label="site.yml first run"),
                       "site.yml (first run)")
    deployment.require(deployment.playbook("site.yml", label="site.yml second run"),
                       "site.yml (second run)")
    print(f"ansible lab deployment timings: {deployment.report()}", file=sys.stderr)
    return deployment


#: The rendered tree and the playbooks' logs of the last session, kept for
#: whoever reads a failure (pytest's own tmp dirs are rotated away).
OUT = REPO / ".state" / "ansible-lab"


@pytest.fixture(scope="session")
def deployment(lab: Lab) -> Iterator[Deployment]:
    """The sample topology deployed on the session's lab (site.yml run twice)."""
    yield deploy(lab, OUT)


def proxy_address(topology: Topology) -> str:
    """Where the proxy's listeners are (the clients' only way in)."""
    proxy = topology.proxy
    assert proxy is not None
    host = topology.host(proxy.host)
    assert host is not None
    return proxy.address or host.address


def api_hosts(topology: Topology) -> list[str]:
    """Names of the hosts that run API instances, in the topology's order."""
    return [h.name for h in topology.hosts if any(i.host == h.name for i in topology.api_instances)]


@contextmanager
def load(deployment: Deployment, tmp: Path, **kwargs: Any) -> Iterator[Callable[[], float]]:
    """:func:`realstack.client_load` on A's proxy, run inside the lab's control namespace."""
    from realstack import client_load
    with client_load(deployment.lab.control_popen,
                     f"http://{proxy_address(deployment.topology)}:8004/v1/admin", tmp,
                     **kwargs) as clock:
        yield clock


def under_load(deployment: Deployment, tmp: Path, title: str, event: Callable[[], T], *,
               linger: float = 0.0, **kwargs: Any) -> tuple[T, LoadRun]:
    """Run ``event`` while :func:`load` runs (and ``linger`` seconds after it), then read the
    load's summary and print its line under ``title``."""
    from realstack import LoadRun, read_summary
    with load(deployment, tmp, **kwargs) as clock:
        started = clock()
        outcome = event()
        ended = clock()
        time.sleep(linger)
    run = LoadRun(read_summary(tmp), started, ended)
    print(run.line(title), file=sys.stderr)
    return outcome, run


def unit_starts(deployment: Deployment, host: str) -> dict[str, str]:
    """``unit -> ActiveEnterTimestampMonotonic`` of the heat units on ``host``."""
    out = deployment.lab.ssh(host, "systemctl show -p Id -p ActiveEnterTimestampMonotonic "
                                   "'heat-*.service'").stdout
    units: dict[str, str] = {}
    for block in out.strip().split("\n\n"):
        fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if "Id" in fields:
            units[fields["Id"]] = fields.get("ActiveEnterTimestampMonotonic", "")
    return units


@dataclass(frozen=True)
class RollingRestart:
    """One run of rolling-restart.yml under reads and stack creates, and the units it restarted."""

    result: subprocess.CompletedProcess[str]
    run: LoadRun
    before: dict[str, dict[str, str]]
    after: dict[str, dict[str, str]]


@pytest.fixture(scope="session")
def rolling_restart(deployment: Deployment,
                    tmp_path_factory: pytest.TempPathFactory) -> RollingRestart:
    """rolling-restart.yml run once, under load, for every test that judges it: the
    playbook's own order (test_ansible_lab.py) and the clients' view of it
    (test_ansible_lab_operations.py). One run instead of two saves minutes of lab time."""
    tmp = tmp_path_factory.mktemp("rolling-restart")
    hosts = api_hosts(deployment.topology)
    before = {host: unit_starts(deployment, host) for host in hosts}
    result, run = under_load(
        deployment, tmp, "rolling restart under load",
        lambda: deployment.playbook("rolling-restart.yml", label="rolling-restart.yml"),
        readers=3, creators=2)
    after = {host: unit_starts(deployment, host) for host in hosts}
    return RollingRestart(result=result, run=run, before=before, after=after)
