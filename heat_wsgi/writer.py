"""Write rendered files to disk: the only code that does.

:func:`write_tree` builds the whole tree in a temporary directory next to
the target, then swaps it in with two renames. If anything fails before the
swap, the target is exactly as it was. :func:`write_in_place` writes each
host file at its own absolute path instead, for ``heat-wsgi up``, where every
host is this machine. Files that may hold credentials (heat.conf and anything
that looks like it holds a password) are written 0640 or tighter, whatever
mode the renderer asked for.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from heat_wsgi.errors import RenderError
from heat_wsgi.files import (DEPLOYMENT_DIRS, RenderedFile, holds_credentials, render_manifest,
                             safe_mode)

__all__ = ["write_tree", "write_in_place", "holds_credentials", "safe_mode", "MANIFEST_NAME"]

MANIFEST_NAME = "MANIFEST"
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
               *, force: bool = False) -> Path:
    """Write ``files`` under ``out_dir`` plus a ``MANIFEST``; return ``out_dir``.

    ``out_dir`` must not exist or be empty unless ``force`` is given, in which
    case its whole content is replaced. On any error ``out_dir`` is left
    untouched and :class:`~heat_wsgi.errors.RenderError` is raised.
    """
    target = Path(out_dir).absolute()
    for key, item in files.items():
        _check_key(key, item)
    if target.exists():
        if not target.is_dir():
            raise RenderError(str(target), "exists and is not a directory")
        if any(target.iterdir()) and not force:
            raise RenderError(str(target), "exists and is not empty; use --force to replace it")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=parent))
    except OSError as exc:
        raise RenderError(str(target), f"cannot create a staging directory: {exc}") from exc
    try:
        os.chmod(staging, 0o755)
        for key, item in files.items():
            _write(staging / key, item.text, safe_mode(item))
        _write(staging / MANIFEST_NAME, render_manifest(dict(files)), 0o644)
        _swap(staging, target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise RenderError(str(target), f"cannot write the files: {exc}") from exc
        raise
    return target


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
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
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


def _swap(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
