"""Read the credentials files a topology names: regular, bounded, never world-readable, never echoed."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

from heat_wsgi.errors import TopologyError
from heat_wsgi.model import Topology

__all__ = ["read_credentials_file", "read_stats_credentials", "MAX_CREDENTIALS_BYTES"]

#: A 'user:password' line is short; anything larger is not a credentials file.
MAX_CREDENTIALS_BYTES = 4096


def read_credentials_file(field: str, file: Path) -> str:
    """The one line of ``file``, without its newline.

    :raises TopologyError: naming ``field``, when the file is not a regular
        file, can be read by others, is too large, is not one UTF-8 line, or
        cannot be read. The error names the file, never its content.
    """
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise TopologyError(field, f"cannot be read: {exc.strerror}", str(file)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise TopologyError(field, "must be a regular file", str(file))
        if info.st_mode & 0o007:
            raise TopologyError(field, f"must not be accessible to others (mode "
                                f"{stat.S_IMODE(info.st_mode):04o}; chmod 0600 it)", str(file))
        data = os.read(fd, MAX_CREDENTIALS_BYTES + 1)
    except OSError as exc:
        raise TopologyError(field, f"cannot be read: {exc.strerror}", str(file)) from None
    finally:
        os.close(fd)
    if len(data) > MAX_CREDENTIALS_BYTES:
        raise TopologyError(field, f"must hold one line of at most {MAX_CREDENTIALS_BYTES} "
                            "bytes", str(file))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TopologyError(field, "must be UTF-8 text", str(file)) from None
    line = text[:-1] if text.endswith("\n") else text
    if "\n" in line or "\r" in line:
        raise TopologyError(field, "must hold exactly one line 'user:password'", str(file))
    return line


def read_stats_credentials(topology: Topology, base_dir: Path | None) -> Topology:
    """``topology`` with ``proxy.stats.credentials`` read from its ``credentials_file``.

    A relative path is looked up in ``base_dir`` (the topology file's
    directory); without one, only an absolute path is read. The topology is
    returned unchanged when there is no file to read.
    """
    proxy = topology.proxy
    stats = proxy.stats if proxy is not None else None
    if proxy is None or stats is None or stats.credentials_file is None:
        return topology
    file = Path(stats.credentials_file)
    if not file.is_absolute():
        if base_dir is None:
            return topology    # validation says it was not read
        file = base_dir / file
    secret = read_credentials_file("proxy.stats.credentials_file", file)
    return dataclasses.replace(topology, proxy=dataclasses.replace(
        proxy, stats=dataclasses.replace(stats, credentials=secret)))
