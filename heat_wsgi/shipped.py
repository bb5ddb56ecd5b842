"""The sample files heat_wsgi ships, generated from ``etc/heat/samples.topology.yaml``.

* ``httpd/files/<name>.conf``: every Apache site of the sample topology
  (mod_wsgi, mod_proxy -> uwsgi, mod_proxy_uwsgi -> unix socket);
* ``httpd/files/<name>.wsgi``: the scripts the mod_wsgi sites load;
* ``etc/heat/<program>-uwsgi.ini``: the uwsgi ini of each mod_proxy
  instance, which listens on an http-socket and a unix socket, so one file
  serves either Apache mode.

Regenerate them from a checkout with ``python -m heat_wsgi.shipped``.
:func:`shipped_files` is pure; only :func:`main` writes.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path, PurePosixPath

from heat_wsgi.loader import load_topology
from heat_wsgi.model import Topology
from heat_wsgi.render import render_all

__all__ = ["SAMPLES_TOPOLOGY", "shipped_files", "main"]

SAMPLES_TOPOLOGY = PurePosixPath("etc/heat/samples.topology.yaml")


def shipped_files(topology: Topology) -> dict[PurePosixPath, str]:
    """Repository-relative path -> text of every shipped sample file."""
    instances = {inst.name: inst for inst in topology.api_instances}
    result: dict[PurePosixPath, str] = {}
    # Each host is one alternative on the same machine, so each is rendered
    # (and validated) as a deployment of its own: together they would clash.
    items = [item for host in topology.hosts for item in render_all(dataclasses.replace(
        topology, hosts=(host,),
        api_instances=tuple(i for i in topology.api_instances if i.host == host.name))).values()]
    for item in items:
        name = PurePosixPath(item.path).name
        if item.kind in ("apache", "wsgi script"):
            target = PurePosixPath("httpd/files") / name
        elif item.kind == "uwsgi":
            inst = instances[PurePosixPath(item.path).stem]
            if inst.mode != "mod_proxy":
                continue
            target = PurePosixPath("etc/heat") / f"{inst.info.program}-uwsgi.ini"
        else:
            continue
        if target in result:
            raise ValueError(f"two sample files map to {target}")
        result[target] = item.text
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
