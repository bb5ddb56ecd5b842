"""``library/heat_wsgi_files.py``: an Ansible module that finds the files that differ from the rendered ones.

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

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: heat_wsgi_files
short_description: List the files whose content, owner, group or mode differ
description:
  - Compares each path of O(files) with its SHA-1 and with the owner, group
    and mode of its group of files. Changes nothing.
options:
  files:
    description: Groups of paths (and their sha1) with owner, group and mode.
    type: list
    elements: dict
    required: true
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


def main():
    module = AnsibleModule(argument_spec={
        "files": {"type": "list", "elements": "dict", "required": True}},
        supports_check_mode=True)
    differ = [path for entry in module.params["files"]
              for path, checksum in zip(entry["paths"], entry["sha1"])
              if _differs(path, entry, checksum)]
    module.exit_json(changed=False, differ=differ)


if __name__ == "__main__":
    main()
'''
