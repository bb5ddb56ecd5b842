"""Write rendered files to disk: the only code that does.

:func:`write_tree` builds the whole tree in a staging directory next to the
target, then swaps it in. On Linux the swap is one ``renameat2(...,
RENAME_EXCHANGE)`` call, so the output directory is always the old tree or
the new one, never missing; where that call is missing (another system, a
file system without it) it falls back to two renames, with a moment between
them where the target is absent. If anything fails before the swap, the
target is exactly as it was. Every directory the writer creates gets mode
0755 whatever the umask. Staging and old trees that a killed run left behind
(they may hold 0640 copies of heat.conf) are removed by the next run. A
target that is a symlink to a directory keeps its link: the directory it
points to is the one replaced. A target that holds one of the input files
(the topology, its base heat.conf) is refused, so ``-o . --force`` cannot
delete them.

:func:`write_in_place` writes each host file at its own absolute path
instead, for ``heat-wsgi up``, where every host is this machine. Files that
may hold credentials (heat.conf and anything that looks like it holds a
password) are written 0640 or tighter, whatever mode the renderer asked for.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from heat_wsgi.errors import RenderError
from heat_wsgi.files import (DEPLOYMENT_DIRS, RenderedFile, holds_credentials, render_manifest,
                             safe_mode)

__all__ = ["write_tree", "write_in_place", "holds_credentials", "safe_mode", "MANIFEST_NAME",
           "DIR_MODE"]

MANIFEST_NAME = "MANIFEST"
DIR_MODE = 0o755


def _check_key(key: PurePosixPath, item: RenderedFile) -> None:
    if key.is_absolute() or not key.parts or any(part in ("..", ".", "") for part in key.parts):
        raise RenderError(str(key), "must be a relative path without '..'")
    if key.parts[0] == MANIFEST_NAME and len(key.parts) == 1:
        raise RenderError(str(key), "clashes with the manifest")
    # Deployment-wide files and host trees share the top level: keep them apart.
    deployment_wide = key.parts[0] in DEPLOYMENT_DIRS and len(key.parts) > 1
    if item.host is not None and deployment_wide:
        raise RenderError(str(key), f"is a file of host {item.host!r} inside a directory "
                          f"reserved for deployment-wide files ({', '.join(DEPLOYMENT_DIRS)}/)")
    if item.host is None and not deployment_wide:
        raise RenderError(str(key), "is a deployment-wide file outside the directories "
                          f"reserved for them ({', '.join(DEPLOYMENT_DIRS)}/)")


def write_tree(files: Mapping[PurePosixPath, RenderedFile], out_dir: str | Path,
               *, force: bool = False, inputs: Iterable[str | Path] = ()) -> Path:
    """Write ``files`` under ``out_dir`` plus a ``MANIFEST``; return ``out_dir``.

    ``out_dir`` must not exist or be empty unless ``force`` is given, in which
    case its whole content is replaced. On any error ``out_dir`` is left
    untouched and :class:`~heat_wsgi.errors.RenderError` is raised.

    :param inputs: the files the render read (the topology, its base
        heat.conf): an ``out_dir`` that holds one of them is refused.
    """
    link = Path(out_dir).absolute()
    # A symlink to a directory stays a symlink: the directory it points to is replaced.
    target = link.resolve() if link.is_symlink() else link
    for key, item in files.items():
        _check_key(key, item)
    for name in inputs:
        held = Path(name).absolute().resolve()
        if held == target or target in held.parents:
            raise RenderError(str(link), f"holds the input file {name}, which replacing it "
                              "would delete; write the files somewhere else")
    if target.exists():
        if not target.is_dir():
            raise RenderError(str(target), "exists and is not a directory")
        if any(target.iterdir()) and not force:
            raise RenderError(str(target), "exists and is not empty; use --force to replace it")
    parent = target.parent
    try:
        _makedirs(parent)
        _clean_stale(parent, target.name)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-{os.getpid()}-", dir=parent))
    except OSError as exc:
        raise RenderError(str(target), f"cannot create a staging directory: {exc}") from exc
    try:
        os.chmod(staging, DIR_MODE)
        for key, item in files.items():
            _write(staging / key, item.text, safe_mode(item))
        _write(staging / MANIFEST_NAME, render_manifest(dict(files)), 0o644)
        _swap(staging, target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise RenderError(str(target), f"cannot write the files: {exc}") from exc
        raise
    return link


def write_in_place(files: Mapping[PurePosixPath, RenderedFile], *,
                   group_ids: Mapping[str, int] | None = None) -> None:
    """Write each host file at its own absolute path, each one replaced atomically.

    :param group_ids: host name -> group id to give that host's files (its
        mod_wsgi processes run as the host's user, which must read them).
    :raises RenderError: a file is deployment-wide, or cannot be written.
    """
    for item in files.values():
        if item.host is None or not item.path.startswith("/"):
            raise RenderError(str(item.key), "is not a file at an absolute path on a host")
        path = Path(item.path)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            tmp.unlink(missing_ok=True)
            _write(tmp, item.text, safe_mode(item))
            gid = (group_ids or {}).get(item.host)
            if gid is not None:
                os.chown(tmp, -1, gid)
            os.replace(tmp, path)
        except OSError as exc:
            raise RenderError(item.path, f"cannot write the file: {exc}") from exc


def _write(path: Path, text: str, mode: int) -> None:
    _makedirs(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)          # not subject to the umask
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            fd = -1
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        if fd >= 0:
            os.close(fd)


def _makedirs(path: Path) -> None:
    """``mkdir -p`` that gives each directory it creates mode 0755, whatever the umask."""
    if path.is_dir():
        return
    _makedirs(path.parent)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        if not path.is_dir():
            raise
        return
    os.chmod(path, DIR_MODE)


_STALE = re.compile(r"\.(?P<name>.+)\.(?:new|old)-(?P<pid>[0-9]{1,10})-[^/]*")


def _clean_stale(parent: Path, name: str) -> None:
    """Remove the staging and old trees of ``name`` that dead runs left in ``parent``."""
    for entry in parent.iterdir():
        match = _STALE.fullmatch(entry.name)
        if not match or match["name"] != name or entry.is_symlink() or not entry.is_dir():
            continue
        pid = int(match["pid"])
        if pid != os.getpid() and _alive(pid):
            continue      # another run's, still at work
        shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True       # someone else's process
    return True


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` in one ``renameat2`` call; False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:        # glibc before 2.28
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False              # a kernel or file system without RENAME_EXCHANGE
    raise OSError(err, os.strerror(err), str(b))


def _swap(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)     # it holds the old tree now
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{os.getpid()}-", dir=target.parent))
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
