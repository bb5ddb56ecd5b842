"""The sample files heat_wsgi ships, generated from ``etc/heat/samples.topology.yaml``.

* ``httpd/files/<name>.conf``: every Apache site of the sample topology
  (mod_wsgi, mod_proxy -> uwsgi, mod_proxy_uwsgi -> unix socket);
* ``httpd/files/<name>.wsgi``: the scripts the mod_wsgi sites load;
* ``etc/heat/<program>-uwsgi.ini``: the uwsgi ini of each mod_proxy
  instance, which listens on an http-socket and a unix socket, so one file
  serves either Apache mode.

They are samples, copied and then edited: their header says so instead of
a rendered file's "render again", names where each file goes on
Debian/Ubuntu and on Red Hat, and points at ``doc/users-and-directories.rst``
(the values to edit, the users and directories to create). Unlike a
rendered deployment, every instance reads the one shipped
``/etc/heat/heat.conf`` (no per-instance copies that nothing ships), and the
uwsgi ini files carry ``uid``/``gid``: they are started by hand as root, not
by a rendered systemd unit with ``User=``. The mod_wsgi daemons get
``home=`` the state directory, so they do not depend on the account's home.

Regenerate them from a checkout with ``python -m heat_wsgi.shipped``.
:func:`shipped_files` is pure; only :func:`main` writes.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path, PurePosixPath

from heat_wsgi.derive.layout import heat_conf_path, instance_heat_conf_path
from heat_wsgi.loader import load_topology
from heat_wsgi.model import ApiInstance, Host, Topology
from heat_wsgi.quoting import apache_arg, uwsgi_value
from heat_wsgi.render import render_all

__all__ = ["SAMPLES_TOPOLOGY", "SAMPLE_NOTE", "USERS_DOC", "shipped_files", "main"]

SAMPLES_TOPOLOGY = PurePosixPath("etc/heat/samples.topology.yaml")
USERS_DOC = "doc/users-and-directories.rst"
#: What replaces a rendered file's "render again" line in every sample.
SAMPLE_NOTE = (
    "# A sample: copy it where the lines below say and edit only the values that",
    f"# {USERS_DOC} lists (paths, addresses, users; on Red Hat,",
    "# apache for www-data), after creating the users and directories listed there.",
)


def _sample_text(text: str, where: list[str], replacements: list[tuple[str, str]]) -> str:
    """A rendered file as a sample: :data:`SAMPLE_NOTE` for the "render
    again" line, ``where`` after it, and each ``(old, new)`` replaced once."""
    first, second, rest = text.split("\n", 2)
    if not second.startswith("# Change the topology and render again"):
        raise ValueError(f"unexpected header: {second!r}")
    for old, new in replacements:
        if rest.count(old) != 1:
            raise ValueError(f"{old!r} should occur once, occurs {rest.count(old)} times")
        rest = rest.replace(old, new)
    return "\n".join([first, *SAMPLE_NOTE, *where, rest])


def _wsgi_where(instance: ApiInstance, host: Host, name: str) -> list[str]:
    target = f"{host.paths.wsgi_dir.rstrip('/')}/{name}"
    return ["#",
            f"# Debian/Ubuntu and Red Hat: copy to {target}",
            f"#   (root:root, mode 0644); the site {instance.name}.conf points",
            "#   WSGIScriptAlias at it, and its WSGIDaemonProcess runs it as "
            f"{host.user}:{host.group}.",
            "#"]


def _uwsgi_where(host: Host, name: str) -> list[str]:
    target = f"{host.paths.config_dir.rstrip('/')}/{name}"
    return ["#",
            f"# Debian/Ubuntu and Red Hat: copy to {target} (root:{host.group}, mode 0640)",
            f"#   and start it as root: {host.paths.bin_dir}/uwsgi --ini {target}",
            f"#   uwsgi binds its sockets, then runs as uid/gid {host.user}:{host.group}.",
            f"# Red Hat: chown-socket's group is apache instead of {host.web_group}.",
            "#"]


def shipped_files(topology: Topology) -> dict[PurePosixPath, str]:
    """Repository-relative path -> text of every shipped sample file."""
    instances = {inst.name: inst for inst in topology.api_instances}
    result: dict[PurePosixPath, str] = {}
    # Each host is one alternative on the same machine, so each is rendered
    # (and validated) as a deployment of its own: together they would clash.
    items = [item for host in topology.hosts for item in render_all(dataclasses.replace(
        topology, hosts=(host,),
        api_instances=tuple(i for i in topology.api_instances if i.host == host.name))).values()]
    hosts = {host.name: host for host in topology.hosts}
    for item in items:
        name = PurePosixPath(item.path).name
        if item.kind not in ("apache", "wsgi script", "uwsgi"):
            continue
        inst = instances[PurePosixPath(item.path).stem]
        host = hosts[inst.host]
        # The one heat.conf that ships, not the instance's own rendered copy.
        conf = (instance_heat_conf_path(inst, host), heat_conf_path(host))
        if item.kind == "apache":
            target = PurePosixPath("httpd/files") / name
            # mod_wsgi's daemon changes into its user's home, which is
            # whatever the account says; name the directory the docs create.
            home = [(" display-name=", f" home={apache_arg(host.paths.state_dir)} display-name=")]
            text = _sample_text(item.text, [], home if inst.mode == "mod_wsgi" else [])
        elif item.kind == "wsgi script":
            target = PurePosixPath("httpd/files") / name
            text = _sample_text(item.text, _wsgi_where(inst, host, name), [conf])
        else:
            if inst.mode != "mod_proxy":
                continue
            target = PurePosixPath("etc/heat") / f"{inst.info.program}-uwsgi.ini"
            text = _sample_text(item.text, _uwsgi_where(host, target.name), [conf])
            text += f"uid = {uwsgi_value(host.user)}\ngid = {uwsgi_value(host.group)}\n"
        if target in result:
            raise ValueError(f"two sample files map to {target}")
        result[target] = text
    return dict(sorted(result.items()))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path(__file__).resolve().parent.parent
    files = shipped_files(load_topology(root / SAMPLES_TOPOLOGY))
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
