"""``heat-wsgi lab up | down | status``: real Debian machines on this box, for multi-host work."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from heat_wsgi.commands import state_dir_and_handler
from heat_wsgi.lab import lab as lab_api
from heat_wsgi.lab import state as state_file
from heat_wsgi.lab.spec import DEFAULT_MACHINES, DEFAULT_PREFIX
from heat_wsgi.runtime.process import is_alive


def _machine(value: str) -> tuple[str, str]:
    name, sep, address = value.partition("=")
    if not sep or not name or not address:
        raise argparse.ArgumentTypeError(f"expected NAME=ADDRESS (got {value!r})")
    return name, address


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lab = subparsers.add_parser(
        "lab", help="boot real Debian machines on this box (systemd-nspawn) for multi-host tests",
        description="A lab of Debian machines with systemd as PID 1, each on its own overlay "
                    "of this box's root and in its own network namespace on 198.18.0.0/24, "
                    "reached over SSH from a control namespace. See doc/ansible.rst (How the lab works).")
    commands = lab.add_subparsers(dest="lab_command", metavar="COMMAND", required=True)
    state_help = (f"state directory (default: ${lab_api.STATE_ENV} or "
                  "<checkout>/.state/lab)")
    defaults = " ".join(f"{n}={a}" for n, a in DEFAULT_MACHINES)

    up = commands.add_parser("up", help="boot the machines and print how to reach them")
    up.add_argument("--machine", action="append", type=_machine, metavar="NAME=ADDRESS",
                    help=f"a machine to boot, repeatable (default: {defaults})")
    up.add_argument("--prefix", default=DEFAULT_PREFIX,
                    help=f"prefix of every namespace and mount name (default {DEFAULT_PREFIX})")
    up.add_argument("--boot-timeout", type=float, default=60.0, metavar="SECONDS")
    state_dir_and_handler(up, state_help, cmd_up)

    down = commands.add_parser("down", help="stop every machine, remove every mount and "
                                            "namespace the lab made")
    down.add_argument("--kill", action="store_true",
                      help="kill the machines at once instead of halting them cleanly")
    state_dir_and_handler(down, state_help, cmd_down)

    status = commands.add_parser("status", help="each machine's pid and systemd state")
    state_dir_and_handler(status, state_help, cmd_status)


def _progress(line: str) -> None:
    print(line, flush=True)


def _running(state_dir: Path) -> lab_api.Lab | None:
    record = state_file.load(state_dir)
    if record is None or not record.machines:
        return None
    if not all(is_alive(m.nspawn_pid, m.nspawn_starttime or None)
               for m in record.machines.values()):
        return None
    return lab_api.Lab.attach(state_dir)


def _how_to_reach(lab: lab_api.Lab) -> None:
    print(f"{'MACHINE':<8} {'ADDRESS':<14} ROOT")
    for name, machine in lab.machines.items():
        print(f"{name:<8} {machine.address:<14} {machine.root}")
    first = next(iter(lab.machines.values()))
    ssh = shlex.join(lab.control_argv(["ssh", *lab.ssh_options(), f"root@{first.address}"]))
    print()
    print(f"Reach a machine from the control namespace ({lab.control_address}):")
    print(f"  {ssh}")
    print("Run clients (ansible-playbook, test clients) there too:")
    print(f"  {shlex.join(lab.control_argv(['COMMAND']))}")
    print("Then: heat-wsgi lab status | heat-wsgi lab down")


def cmd_up(args: argparse.Namespace) -> int:
    state_dir = (args.state_dir or lab_api.default_state_dir()).absolute()
    lab = _running(state_dir)
    if lab is not None:
        print(f"The lab in {state_dir} is already running.")
    else:
        lab = lab_api.Lab(args.machine, state_dir=state_dir, prefix=args.prefix,
                          boot_timeout=args.boot_timeout, progress=_progress).start()
        print()
    _how_to_reach(lab)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    state_dir = (args.state_dir or lab_api.default_state_dir()).absolute()
    record = state_file.load(state_dir)
    prefix = record.prefix if record is not None else DEFAULT_PREFIX
    # Starting clean and tearing down are the same job: recorded machines,
    # mounts and namespaces, then anything left with the lab's prefix.
    lab_api.Lab(state_dir=state_dir, prefix=prefix, progress=_progress).clean_leftovers(
        abrupt=args.kill)
    if record is None:
        print(f"heat-wsgi: no lab state in {state_dir}; removed any leftovers of prefix {prefix}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state_dir = (args.state_dir or lab_api.default_state_dir()).absolute()
    record = state_file.load(state_dir)
    if record is None or not record.machines:
        print(f"heat-wsgi: no lab is running from {state_dir}")
        return 3
    lab = lab_api.Lab.attach(state_dir)
    states = lab.status()
    print(f"{'MACHINE':<8} {'ADDRESS':<14} {'NSPAWN PID':<11} STATE")
    for name, entry in record.machines.items():
        print(f"{name:<8} {entry.address:<14} {entry.nspawn_pid:<11} {states[name]}")
    return 0 if all(s == "running" for s in states.values()) else 1

