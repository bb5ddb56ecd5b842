"""A private RabbitMQ node (plus its own epmd) under a state directory."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from heat_wsgi.errors import ServiceError
from heat_wsgi.runtime import process
from heat_wsgi.runtime.process import Proc
from heat_wsgi.runtime.service import Service

# Debian's /usr/sbin/rabbitmq-server su's to the rabbitmq user and writes to
# /var/log; the script it wraps runs as whoever calls it and honours RABBITMQ_*.
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
EPMD = "epmd"
# RabbitMQ takes about 10 s to listen on this machine kind; leave headroom for
# a loaded CI box.
START_TIMEOUT = 90.0


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def free_dist_port(first: int = 25672, count: int = 100) -> int:
    """The first port from ``first`` that nothing holds on any address.

    RabbitMQ's prelaunch check tries the distribution port on the wildcard
    address, so a node elsewhere on 127.0.0.x with the same dist port makes
    it refuse to start (``dist_port_already_used``). Nothing but CLI tools
    connects to that port, so any free one does.
    """
    for port in range(first, first + count):
        if not process.port_in_use("0.0.0.0", port):
            return port
    raise ServiceError("rabbitmq", f"no free distribution port in {first}..{first + count - 1}")


def start_rabbitmq(state_dir: Path, *, address: str = "127.0.0.1", port: int = 5672,
                   dist_port: int | None = None, epmd_port: int = 4369, name: str = "rabbitmq",
                   user: str = "guest", password: str = "guest",
                   timeout: float = START_TIMEOUT) -> Service:
    """Start epmd and a RabbitMQ node bound to ``address``; return once AMQP listens.

    epmd is started by us in the foreground, before the node, so that it is a
    process we own and can stop by pid; left to itself the node would launch
    ``epmd -daemon``, which detaches and outlives it. ``ERL_EPMD_PORT`` is set
    per instance so that several nodes (tests, ``heat-wsgi up``) coexist.
    ``dist_port`` None picks a free one from ``port + 20000`` (see
    :func:`free_dist_port`).

    Files live under ``<state_dir>/<name>/``; logs under
    ``<state_dir>/logs/<name>.log`` (stdout) and ``<state_dir>/<name>/log``.

    :returns: a :class:`Service` whose ``transport_url`` is
        ``rabbit://guest:guest@address:port/`` and whose procs are epmd then
        the rabbitmq-server wrapper.
    :raises ServiceError: a port is taken, a binary is missing, or the node
        does not listen in time (the message quotes its log).
    """
    if not os.access(RABBITMQ_SERVER, os.X_OK):
        raise ServiceError(name, f"cannot run {RABBITMQ_SERVER}: not found "
                                 "(install the rabbitmq-server package)")
    epmd = shutil.which(EPMD) or "/usr/lib/erlang/bin/epmd"
    process.require_free_ports(name, [(address, port)])
    if dist_port is None:
        dist_port = free_dist_port(port + 20000)
    else:
        # Checked on the wildcard address, as RabbitMQ itself does.
        process.require_free_ports(name, [("0.0.0.0", dist_port)])
    state_dir = state_dir.absolute()
    base = state_dir / name
    home = base / "home"
    for sub in (home, base / "mnesia", base / "log"):
        sub.mkdir(parents=True, exist_ok=True)
    # guest may only log in over loopback by default, which is all we bind.
    _write(base / "rabbitmq.conf",
           f"listeners.tcp.1 = {address}:{port}\n"
           "loopback_users.guest = true\n"
           "log.console = true\n"
           "log.console.level = info\n")
    _write(base / "advanced.config", "[].\n")
    _write(base / "enabled_plugins", "[].\n")
    _write(base / "rabbitmq-env.conf", "")
    octets = ",".join(address.split("."))
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_NODENAME": f"{name}-{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": address,
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "ERL_EPMD_ADDRESS": address,
        "ERL_EPMD_PORT": str(epmd_port),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": f"-kernel inet_dist_use_interface {{{octets}}}",
    }
    procs: list[Proc] = []
    try:
        # epmd always binds 127.0.0.1 as well as ERL_EPMD_ADDRESS.
        if any(process.port_in_use(a, epmd_port) for a in {address, "127.0.0.1"}):
            # An epmd on this port is shareable (it is a name registry), but
            # it is not ours to stop; say so rather than adopt it silently.
            raise ServiceError(name, f"cannot start: epmd port {address}:{epmd_port} is "
                                     "already in use; pick another epmd_port")
        epmd_proc = process.spawn(f"{name}-epmd", [epmd, "-port", str(epmd_port)],
                                  state_dir=state_dir, env=env, cwd=base)
        procs.append(epmd_proc)
        process.wait_for_tcp(address, epmd_port, 15.0, service=f"{name}-epmd",
                             pid=epmd_proc.pid, log=epmd_proc.log)
        # cwd: where beam drops erl_crash.dump when it dies.
        beam = process.spawn(name, [RABBITMQ_SERVER], state_dir=state_dir, env=env, cwd=base)
        procs.append(beam)
        process.wait_for_tcp(address, port, timeout, service=name, pid=beam.pid, log=beam.log)
    except BaseException:
        for proc in reversed(procs):
            process.stop_proc(proc)
        raise
    return Service(name=name, kind="rabbitmq", procs=tuple(procs), address=f"{address}:{port}",
                   url=f"rabbit://{user}:{password}@{address}:{port}/",
                   health=f"tcp://{address}:{port}", log=procs[-1].log)
