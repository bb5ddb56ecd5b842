"""systemd units: one per uwsgi instance, ``processes`` per engine group."""

from __future__ import annotations

from heat_wsgi.model import ApiInstance, EngineGroup, Host, Topology
from heat_wsgi.quoting import systemd_exec_arg as arg
from heat_wsgi.quoting import systemd_value as v
from heat_wsgi.derive.layout import InstanceLayout, heat_conf_path
from heat_wsgi.render.common import header

__all__ = ["render_uwsgi_unit", "render_engine_unit"]


def _runtime_dir(host: Host) -> list[str]:
    run_dir = host.paths.run_dir.rstrip("/")
    if run_dir.startswith("/run/") and run_dir.count("/") == 2:
        return [f"RuntimeDirectory={v(run_dir[len('/run/'):])}",
                "RuntimeDirectoryPreserve=yes"]
    return []


def _unit(topology: Topology, description: str, host: Host, command: list[str],
          what: str, stop_timeout: int, extra_groups: tuple[str, ...] = (),
          stop_command: list[str] | None = None) -> str:
    lines = header("#", topology, what)
    lines += [
        "[Unit]",
        f"Description={v(description)}",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"User={v(host.user)}",
        f"Group={v(host.group)}",
        *[f"SupplementaryGroups={v(group)}" for group in extra_groups],
        *_runtime_dir(host),
        "ExecStart=" + " ".join(arg(part) for part in command),
        # $MAINPID is systemd's to expand: written as is, after the quoted words.
        *(["ExecStop=" + " ".join(arg(part) for part in stop_command) + " $MAINPID"]
          if stop_command else []),
        "KillSignal=SIGTERM",
        f"TimeoutStopSec={stop_timeout}",
        "Restart=on-failure",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def render_uwsgi_unit(topology: Topology, instance: ApiInstance, host: Host,
                      layout: InstanceLayout) -> str:
    command = [f"{host.paths.bin_dir}/uwsgi", "--ini", layout.uwsgi_ini]
    # worker-reload-mercy is 80 s: give the graceful stop that long and more.
    # A non-root uwsgi may only give its socket to a group it belongs to.
    groups = (host.web_group,) if layout.socket is not None else ()
    # The stop re-sends a worker the SIGHUP uwsgi 2.0.31 can miss (heat_wsgi.uwsgi_stop).
    stop = [f"{host.paths.bin_dir}/python3", "-m", "heat_wsgi.uwsgi_stop"]
    return _unit(topology, f"Heat {instance.info.program} instance {instance.name} (uwsgi)",
                 host, command, f"systemd unit for instance {instance.name!r}", 90, groups,
                 stop_command=stop)


def render_engine_unit(topology: Topology, group: EngineGroup, host: Host, number: int) -> str:
    # heat_wsgi's launcher of Heat's own heat-engine: a stock engine's stop
    # loses the RPC calls its listener reads while closing (heat_wsgi.engine
    # says how), and a rolling restart stops every engine once. The venv (or
    # the system Python) has heat_wsgi, as it does for the uwsgi modules.
    command = [f"{host.paths.bin_dir}/python3", "-m", "heat_wsgi.engine",
               "--config-file", heat_conf_path(host)]
    return _unit(topology, f"Heat engine {number} of {group.processes} on {host.name}",
                 host, command, f"systemd unit for heat-engine {number} on {host.name!r}", 90)
