"""Work out which oslo.config arguments a WSGI process should boot with.

A WSGI module is imported by a host server (uwsgi, mod_wsgi, gunicorn, ...)
whose ``sys.argv`` belongs to that server, not to Heat. This module decides,
from argv and the environment only, which ``--config-file``/``--config-dir``
arguments Heat gets. It does no I/O beyond reading what it is given, so it is
tested as a pure function.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

CONFIG_FILES_ENV = "OS_HEAT_CONFIG_FILES"
CONFIG_DIR_ENV = "OS_HEAT_CONFIG_DIR"
DEFAULT_CONFIG_DIR = "/etc/heat"
DEFAULT_CONFIG_FILE = "heat.conf"

# The only argv options we take from the host server's command line. The
# rest of argv belongs to the server (``gunicorn -b ...``) and must not reach
# oslo.config, which would reject it.
_VALUE_OPTIONS = ("--config-file", "--config-dir")


@dataclass(frozen=True, slots=True)
class ConfigArgs:
    """The oslo.config arguments chosen, and where they came from."""

    args: tuple[str, ...]
    origin: str  # "argv", "environment" or "default search"

    @property
    def config_files(self) -> tuple[str, ...]:
        return _values_of(self.args, "--config-file")

    @property
    def config_dirs(self) -> tuple[str, ...]:
        return _values_of(self.args, "--config-dir")


def _values_of(args: Sequence[str], option: str) -> tuple[str, ...]:
    return tuple(args[i + 1] for i, arg in enumerate(args[:-1]) if arg == option)


def from_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """Pick ``--config-file X``, ``--config-file=X`` and ``--config-dir``
    out of a host server's argv (without its program name)."""
    picked: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in _VALUE_OPTIONS:
            if eq:
                picked += [name, value]
            elif i + 1 < len(argv):
                picked += [name, argv[i + 1]]
                i += 1
        i += 1
    return tuple(picked)


def from_environment(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Follow the OpenStack convention for WSGI services (as in Nova and
    Keystone): ``OS_<PROJECT>_CONFIG_FILES`` is a ``;``-separated list of
    files, relative names resolved against ``OS_<PROJECT>_CONFIG_DIR``
    (default ``/etc/heat``)."""
    files_value = environ.get(CONFIG_FILES_ENV, "").strip()
    dir_value = environ.get(CONFIG_DIR_ENV, "").strip()
    if not files_value and not dir_value:
        return ()
    config_dir = dir_value or DEFAULT_CONFIG_DIR
    names = [name.strip() for name in files_value.split(";") if name.strip()]
    if not names:
        names = [DEFAULT_CONFIG_FILE]
    args: list[str] = []
    for name in names:
        args += ["--config-file", os.path.join(config_dir, name)]
    return tuple(args)


def choose(argv: Sequence[str], environ: Mapping[str, str]) -> ConfigArgs:
    """Explicit argv (uwsgi ``pyargv``, a .wsgi wrapper setting sys.argv)
    wins over the environment, which wins over oslo.config's own search."""
    picked = from_argv(argv[1:])
    if picked:
        return ConfigArgs(picked, "argv")
    picked = from_environment(environ)
    if picked:
        return ConfigArgs(picked, "environment")
    return ConfigArgs((), "default search")


def default_search_paths(project: str, prog: str,
                         environ: Mapping[str, str]) -> tuple[str, ...]:
    """The files oslo.config's default search looks for, in its order, so an
    error can list them when none exists."""
    home = environ.get("HOME") or os.path.expanduser("~")
    dirs = [os.path.join(home, "." + project), home,
            os.path.join("/etc", project), "/etc"]
    for snap_var in ("SNAP_COMMON", "SNAP"):
        if environ.get(snap_var):
            dirs.append(os.path.join(environ[snap_var], "etc", project))
    names = (f"{project}.conf", f"{prog}.conf")
    return tuple(os.path.join(d, n) for d in dirs for n in names)
