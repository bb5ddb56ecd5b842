"""``library/heat_wsgi_files.py``: an Ansible module that makes the directories and finds the
files that differ from the rendered ones.

The directories come first, in the same module run: one round trip per host
where a loop of ``file`` tasks took one per directory.

One module run per host compares every file's content (SHA-1, computed at
render time), owner, group and mode with what the inventory says; site.yml then runs ``copy`` only for
those files. A second run is then one round trip per host instead of one
per file, and ``--check --diff`` still shows each differing file's diff
(copy runs on exactly those).
"""

from __future__ import annotations

__all__ = ["MODULE_NAME", "MODULE_SOURCE"]

MODULE_NAME = "heat_wsgi_files"

MODULE_SOURCE = '''#!/usr/bin/python
"""Which of the rendered files on this machine differ from the rendered ones."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: heat_wsgi_files
short_description: Make the directories, list the files that differ
description:
  - Makes each directory of O(directories) with its owner, group and mode
    (reported only, in check mode). Then compares each path of O(files)
    with its SHA-1 and with the owner, group and mode of its group of
    files, and changes none of them.
options:
  directories:
    description: Directories (path, owner, group, mode) the files expect.
    type: list
    elements: dict
    default: []
  write:
    description:
      - Files to write, each atomically, as [group of O(files), path]; with it
        the module only writes (and diffs, with --diff).
    type: list
    elements: raw
    default: []
  contents:
    description: The content of each file of O(write), in the same order.
    type: list
    elements: str
    default: []
  files:
    description: Groups of paths (and their sha1) with owner, group and mode.
    type: list
    elements: dict
    default: []
"""


def _name(lookup, number):
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def _differs(path, entry, checksum):
    """Whether the file at path is missing or not as rendered."""
    try:
        info = os.stat(path)
    except OSError:
        return True
    if stat.S_IMODE(info.st_mode) != int(entry["mode"], 8):
        return True
    if _name(pwd.getpwuid, info.st_uid) != entry["owner"]:
        return True
    if _name(grp.getgrgid, info.st_gid) != entry["group"]:
        return True
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    return digest.hexdigest() != checksum


def _directory(path, entry, check_mode):
    """Make path the directory entry describes; whether that changed anything.

    Missing parents are made too (owned by root, mode 0755, as mkdir -p
    would); in check mode nothing is touched, the answer is only reported.
    """
    uid = pwd.getpwnam(entry["owner"]).pw_uid
    gid = grp.getgrnam(entry["group"]).gr_gid
    mode = int(entry["mode"], 8)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if not check_mode:
            os.makedirs(path, mode=0o755)
            os.chown(path, uid, gid)
            os.chmod(path, mode)
        return True
    if not stat.S_ISDIR(info.st_mode):
        raise OSError(f"{path} exists and is not a directory")
    if (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (uid, gid, mode):
        return False
    if not check_mode:
        os.chown(path, uid, gid)
        os.chmod(path, mode)
    return True


def _write(entry, check_mode, want_diff):
    """Put entry's content at its path with its owner, group and mode, atomically,
    unless it is there already; whether it changed, and the diff (when asked)."""
    path = entry["path"]
    content = entry["content"].encode("utf-8")
    try:
        with open(path, "rb") as handle:
            before = handle.read()
    except FileNotFoundError:
        before = None
    uid = pwd.getpwnam(entry["owner"]).pw_uid
    gid = grp.getgrnam(entry["group"]).gr_gid
    if before == content:
        info = os.stat(path)
        if (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == \
                (uid, gid, int(entry["mode"], 8)):
            return False, None
    if not check_mode:
        fd, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".heat_wsgi.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            os.chown(temp, uid, gid)
            os.chmod(temp, int(entry["mode"], 8))
            os.replace(temp, path)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
    if not want_diff:
        return True, None
    return True, {"before_header": path, "after_header": path,
                  "before": "" if before is None else before.decode("utf-8", "replace"),
                  "after": entry["content"]}


def main():
    module = AnsibleModule(argument_spec={
        "files": {"type": "list", "elements": "dict", "default": []},
        "directories": {"type": "list", "elements": "dict", "default": []},
        "write": {"type": "list", "elements": "raw", "default": []},
        "contents": {"type": "list", "elements": "str", "default": []}},
        supports_check_mode=True)
    if module.params["write"]:
        if len(module.params["write"]) != len(module.params["contents"]):
            module.fail_json(msg="write and contents differ in length")
        entries = [dict(group, path=path, content=content) for (group, path), content
                   in zip(module.params["write"], module.params["contents"])]
        try:
            done = [(entry["path"], *_write(entry, module.check_mode, module._diff))
                    for entry in entries]
        except (KeyError, OSError) as exc:
            module.fail_json(msg=f"write: {exc}")
        written = [path for path, changed, _ in done if changed]
        result = {"changed": bool(written), "written": written}
        if module._diff:
            result["diff"] = [diff for _, changed, diff in done if changed]
        module.exit_json(**result)
    try:
        made = [entry["path"] for entry in module.params["directories"]
                if _directory(entry["path"], entry, module.check_mode)]
    except (KeyError, OSError) as exc:
        module.fail_json(msg=f"directory: {exc}")
    differ = [path for entry in module.params["files"]
              for path, checksum in zip(entry["paths"], entry["sha1"])
              if _differs(path, entry, checksum)]
    module.exit_json(changed=bool(made), directories=made, differ=differ)


if __name__ == "__main__":
    main()
'''
