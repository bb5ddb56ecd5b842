"""A lab of real Debian machines booted with systemd-nspawn on this box, for multi-host tests.

``spec`` validates what is asked for, ``prepare`` computes the files each
machine gets and ``plan`` every namespace, link, mount and command, all
without I/O;
``executor`` carries a plan out and tears down exactly what its state file
(``state``) recorded; ``files`` writes inside a machine's root without
stepping onto the box; ``lab`` is the API tests use::

    from heat_wsgi.lab import Lab

    with Lab() as lab:                       # machines a, b, c on 198.18.0.1-3
        lab.ssh("a", "systemctl is-system-running")
        lab.control_run(["ansible-playbook", "-i", inventory, "site.yml"])
        lab.power_off("c")                   # a pulled plug
        lab.add_machine("d", "198.18.0.4")

"""

from __future__ import annotations

from heat_wsgi.errors import LabError
from heat_wsgi.lab.lab import Lab, Machine, default_state_dir, start_lab
from heat_wsgi.lab.spec import (
    DEFAULT_CONTROL_ADDRESS, DEFAULT_MACHINES, DEFAULT_PREFIX, LAB_NETWORK)

__all__ = ["DEFAULT_CONTROL_ADDRESS", "DEFAULT_MACHINES", "DEFAULT_PREFIX", "LAB_NETWORK",
           "Lab", "LabError", "Machine", "default_state_dir", "start_lab"]
