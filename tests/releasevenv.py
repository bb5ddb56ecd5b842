"""A virtualenv per older Heat release, built once and cached between runs.

``release_venv("24")`` is ``$HEAT_WSGI_VENV_CACHE/heat-24`` (default
``~/.cache/heat_wsgi/venvs``): the newest Heat 24.x from PyPI, uwsgi and
PyMySQL, by plain pip resolution (``scripts/install.sh`` builds 24 and 26). yaql imports ``pkg_resources``, which
setuptools 81 removed, hence the pin. heat_wsgi itself is not installed in
it: tests put the checkout on ``PYTHONPATH``. A stamp file with the
requirement list marks a finished build; without it the venv is rebuilt.

:func:`generator_config` is that release's own ``heat-config-generator.conf``
from its sdist (the wheel does not ship it), cached next to the venvs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

__all__ = ["cache_root", "release_venv", "heat_version_of", "generator_config"]

REQUIREMENTS = ("setuptools<81", "uwsgi>=2.0.28", "PyMySQL>=1.1")
STAMP = ".heat_wsgi-release-venv"


def cache_root() -> Path:
    default = Path.home() / ".cache" / "heat_wsgi" / "venvs"
    return Path(os.environ.get("HEAT_WSGI_VENV_CACHE", default))


def release_venv(series: str) -> Path:
    """The cached venv of Heat ``series``.* (built on first use, ~2 minutes with a warm pip cache)."""
    venv = cache_root() / f"heat-{series}"
    wanted = "\n".join((f"openstack-heat=={series}.*",) + REQUIREMENTS) + "\n"
    stamp = venv / STAMP
    if stamp.is_file() and stamp.read_text() == wanted and (venv / "bin" / "heat-engine").is_file():
        return venv
    # Scripts name the venv's python by absolute path: build in place.
    subprocess.run(["rm", "-rf", "--", str(venv)], check=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                    *wanted.split()], check=True)
    stamp.write_text(wanted)
    return venv


def heat_version_of(venv: Path) -> str:
    """The openstack-heat version installed in ``venv``."""
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import importlib.metadata as m; print(m.version('openstack-heat'))"],
        check=True, capture_output=True, text=True).stdout.strip()


def generator_config(version: str, pip: Path) -> Path:
    """``etc/heat/heat-config-generator.conf`` of openstack-heat ``version``'s sdist."""
    where = cache_root() / "generator" / version
    conf = where / "heat-config-generator.conf"
    if conf.is_file():
        return conf
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(pip), "download", "-q", "--disable-pip-version-check", "--no-deps",
                    "--no-binary", ":all:", "-d", str(where), f"openstack-heat=={version}"],
                   check=True)
    sdist = next(where.glob("openstack_heat-*.tar.gz"), None) or next(where.glob("openstack-heat-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers()
                      if m.name.endswith("/etc/heat/heat-config-generator.conf"))
        source = tar.extractfile(member)
        assert source is not None, f"{sdist}: {member.name} is not a file"
        data = source.read()
    tmp = conf.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.rename(conf)
    sdist.unlink()
    return conf
