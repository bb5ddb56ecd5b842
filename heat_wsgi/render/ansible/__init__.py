"""The Ansible content of a topology: deployment-wide files under ``ansible/``.

``heat-wsgi render TOPOLOGY -o DIR`` writes them next to the host trees::

    DIR/<host>/...                  every host's rendered files
    DIR/ansible/ansible.cfg         inventory = inventory.yml
    DIR/ansible/inventory.yml       groups and host vars (no passwords)
    DIR/ansible/host_vars/<broker>.yml   the broker's accounts (0600)
    DIR/ansible/site.yml            deploy, idempotently
    DIR/ansible/library/heat_wsgi_files.py  which files differ (one round trip)
    DIR/ansible/rolling-restart.yml restart the API hosts one at a time
    DIR/ansible/forget-host.yml     take a machine lost for good out of service

The playbooks find each host's tree as ``{{ playbook_dir }}/../<host>``, so
DIR can be moved or copied as a whole. Ansible copies the rendered files;
it templates none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath

from heat_wsgi.derive import Derived
from heat_wsgi.files import RenderedFile
from heat_wsgi.model import Topology
from heat_wsgi.render.ansible.forget import forget_host_playbook
from heat_wsgi.render.ansible.inventory import broker_host_vars, build_inventory
from heat_wsgi.render.ansible.library import MODULE_NAME, MODULE_SOURCE
from heat_wsgi.render.ansible.rolling import rolling_restart_playbook
from heat_wsgi.render.ansible.site import site_playbook
from heat_wsgi.render.ansible.yamlout import dump_yaml
from heat_wsgi.render.common import header

__all__ = ["render_ansible", "ANSIBLE_DIR"]

ANSIBLE_DIR = "ansible"

_CFG = """[defaults]
inventory = inventory.yml
interpreter_python = auto_silent
forks = 20
retry_files_enabled = False

[ssh_connection]
pipelining = True
"""


_LINT = """---
# run_once is how site.yml runs db_sync exactly once; the play that uses it
# sets strategy: linear, the one strategy where it means "the first host".
skip_list:
  - run-once[task]
"""


def _module_text(header_lines: list[str]) -> str:
    # The shebang stays first: Ansible reads the interpreter from it.
    shebang, rest = MODULE_SOURCE.split("\n", 1)
    return "\n".join([shebang, *header_lines, rest.lstrip("\n")])


def render_ansible(topology: Topology, derived: Derived,
                   files: Mapping[PurePosixPath, RenderedFile]) -> list[RenderedFile]:
    """Inventory, playbooks and ansible.cfg, from the topology and its per-host files."""
    index = derived.index
    if not files:
        return []

    def item(name: str, text: str, purpose: str, mode: int = 0o644) -> RenderedFile:
        return RenderedFile(host=None, path=f"{ANSIBLE_DIR}/{name}", text=text, mode=mode,
                            kind="ansible", purpose=purpose)

    def doc(what: str) -> list[str]:
        return header("#", topology, what)

    result = [
        item(".ansible-lint", "\n".join(doc("ansible-lint settings for these playbooks")) + "\n"
             + _LINT, "ansible-lint settings"),
        item("ansible.cfg", "\n".join(doc("Ansible settings for the playbooks beside it")) + "\n"
             + _CFG, "Ansible settings: the inventory beside it"),
        item("inventory.yml", dump_yaml(build_inventory(topology, index, files),
                                        doc("Ansible inventory: groups by role, what each host gets")),
             "Ansible inventory: groups, addresses, files, units"),
        item(f"library/{MODULE_NAME}.py", _module_text(doc(
            f"Ansible module {MODULE_NAME}: which files differ from the rendered ones")),
             "Ansible module: finds the files to copy, in one round trip per host"),
        item("forget-host.yml", dump_yaml(forget_host_playbook(), doc(
            "take a lost host out of HAProxy and fail the stacks its engines held")),
             "playbook: -e heat_wsgi_forget_host=HOST after HOST is lost for good"),
        item("rolling-restart.yml", dump_yaml(rolling_restart_playbook(),
                                              doc("restart the API hosts one at a time, drained")),
             "playbook: drain, restart, check and enable one API host at a time"),
        item("site.yml", dump_yaml(site_playbook(), doc("deploy every host, idempotently")),
             "playbook: users, directories, files, then start in order"),
    ]
    broker = broker_host_vars(topology, index)
    if broker is not None:
        host, values = broker
        result.append(item(f"host_vars/{host}.yml",
                           dump_yaml(values, doc(f"host vars of {host!r}: the broker's accounts")),
                           "Ansible host vars: the broker's accounts (holds credentials)", 0o600))
    return sorted(result, key=lambda f: f.path)
