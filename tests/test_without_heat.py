"""The package and its deployment model work on a machine without Heat.

Deployment tools validate and render topologies on hosts that will never
run Heat themselves, so importing heat_wsgi, the model, the loader and the
renderers, and running the model commands, must not need Heat, oslo.messaging
or uwsgi. The check blocks those imports in a fresh interpreter.
"""

import subprocess

from conftest import PYTHON, REPO

BLOCKED = ("heat", "oslo_messaging", "uwsgi", "uwsgidecorators", "keystonemiddleware",
           "sqlalchemy", "oslo_db")

PROBE = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # makes 'import name' raise ImportError
import heat_wsgi
from heat_wsgi import Topology, ApiInstance, EngineGroup, ProxyConfig
from heat_wsgi.loader import load_topology
from heat_wsgi import cli
topology = load_topology({str(REPO / 'etc/heat/topology.sample.yaml')!r})
assert not [p for p in heat_wsgi.validate(topology) if p.severity == "error"]
files = heat_wsgi.render(topology)
assert any(str(path).endswith("haproxy.cfg") for path in files)
print("EXIT", cli.main(["validate", {str(REPO / 'etc/heat/topology.sample.yaml')!r}]))
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r} and sys.modules[m])
print("LOADED", loaded)
"""


def test_model_and_cli_without_heat_installed():
    proc = subprocess.run([str(PYTHON), "-c", PROBE], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "EXIT 0" in proc.stdout, proc.stdout + proc.stderr
    assert "LOADED []" in proc.stdout


def test_entrypoint_without_heat_says_what_to_install(clean_env):
    code = "import sys; sys.modules['heat'] = None; import heat_wsgi.api"
    proc = subprocess.run([str(PYTHON), "-c", code], capture_output=True, text=True,
                          env=clean_env, timeout=120)
    assert "pip install 'heat_wsgi[heat]'" in proc.stderr
    assert "Traceback" not in proc.stderr
