"""File operations inside a machine's mounted root that never step out onto the box."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from heat_wsgi.errors import LabError
from heat_wsgi.lab.prepare import (
    Chmod, Copy, FileOp, InMachine, MakeDir, Remove, Symlink, Write)

Runner = Callable[..., subprocess.CompletedProcess[str]]


def _unescape(field: str) -> str:
    # /proc/mounts writes space, tab, newline and backslash as octal escapes.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mounts() -> list[tuple[str, str, str]]:
    """(source, target, fstype) of every mount in this mount namespace."""
    out = []
    with open("/proc/mounts") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) >= 3:
                out.append((_unescape(fields[0]), _unescape(fields[1]), fields[2]))
    return out


def overlay_mounts() -> list[str]:
    return [target for _, target, fstype in mounts() if fstype == "overlay"]


def cgroup_roots() -> list[str]:
    """Mount points of the cgroup hierarchies systemd uses: cgroup2, and the v1
    ``name=systemd`` one of a hybrid box."""
    roots = []
    with open("/proc/mounts") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) < 4:
                continue
            if fields[2] == "cgroup2" or (fields[2] == "cgroup"
                                          and "name=systemd" in fields[3].split(",")):
                roots.append(_unescape(fields[1]))
    return roots


def remove_cgroup(path: Path) -> str | None:
    """rmdir a cgroup of ours and every cgroup below it, deepest first; None when gone."""
    if not path.is_dir():
        return None
    for below, _, _ in sorted(os.walk(path), key=lambda w: -len(Path(w[0]).parts)):
        try:
            os.rmdir(below)
        except FileNotFoundError:
            pass
        except OSError as exc:  # EBUSY: a process still in it
            procs = (Path(below) / "cgroup.procs").read_text().split()
            return f"rmdir {below}: {exc.strerror} (pids {', '.join(procs) or 'none'})"
    return None


def inside(root: Path, path: PurePosixPath) -> Path:
    """``root`` joined with the machine path ``path``, refusing any symlink on the way.

    An absolute symlink in the machine (the box's own, seen through the
    overlay) would lead from here onto the box's filesystem, so every parent
    must be a real directory; the last component is the caller's to check.
    """
    if not path.is_absolute() or ".." in path.parts:
        raise LabError("machine files", f"need an absolute path without '..' (got {str(path)!r})")
    current = root
    for part in path.parts[1:-1]:
        current = current / part
        if current.is_symlink():
            raise LabError("machine files", f"{path}: {current} is a symlink in the machine; "
                                            "refusing to follow it onto the box")
    return root / path.relative_to("/")


def _replace(target: Path) -> None:
    """Drop a symlink or file at ``target`` first, so a write cannot follow it."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        target.unlink()


def _write(target: Path, data: bytes, mode: int) -> None:
    _replace(target)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(target, mode)


def apply(root: Path, op: FileOp, *, where: str, run: Runner) -> None:
    """Carry out one file operation of a machine's plan inside ``root``."""
    if isinstance(op, InMachine):
        run(tuple(a.replace("{root}", str(root)) for a in op.argv), where=where)
        return
    target = inside(root, op.path)  # every other op has a path
    if isinstance(op, Remove):
        if target.is_symlink() or target.exists():
            target.unlink()
    elif isinstance(op, Write):
        _write(target, op.text.encode(), op.mode)
    elif isinstance(op, Copy):
        _write(target, Path(op.source).read_bytes(), op.mode)
    elif isinstance(op, MakeDir):
        if target.is_symlink():
            target.unlink()
        target.mkdir(mode=op.mode, exist_ok=True)
        os.chmod(target, op.mode)
    elif isinstance(op, Chmod):
        if target.is_symlink() or not target.is_dir():
            raise LabError(where, f"{op.path}: expected a directory in the machine")
        os.chmod(target, op.mode)  # the overlay copies it up: the box keeps its mode
    elif isinstance(op, Symlink):
        _replace(target)
        os.symlink(op.target, target)


def read_inside(root: Path, path: PurePosixPath) -> str:
    target = inside(root, path)
    if target.is_symlink():
        raise LabError("machine files", f"{path} is a symlink in the machine")
    return target.read_text()


def remove_tree(path: Path, *, inside: Path) -> None:
    """Delete a directory of the lab's own (an old upper or work dir), never a mounted one."""
    path = path.absolute()
    if not path.is_relative_to(inside) or path == inside:
        raise LabError("state dir", f"refusing to delete {path}: not under {inside}")
    busy = [t for _, t, _ in mounts() if Path(t).is_relative_to(path)]
    if busy:
        raise LabError("state dir", f"refusing to delete {path}: {busy[0]} is mounted")
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def rmdir_quiet(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass

