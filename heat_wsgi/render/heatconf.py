"""heat.conf for each host and for each API instance, derived from the base heat.conf.

Each host with Heat processes gets ``<config_dir>/heat.conf``: its engines
(and ``heat-manage``) read it, and its ``[DEFAULT] host`` is the host's name.
Each API instance gets its own full copy, ``<config_dir>/heat-<instance>.conf``
(the scaling guide's "multiple copies of the heat.conf file"): the host's
file with ``[DEFAULT] host = <host>-<instance>`` and, for Heat <= 24, the
instance's own ``[heat_api]``/``[heat_api_cfn]`` bind_host/bind_port. Which
values those are is :mod:`heat_wsgi.derive.heatconf`'s to say; this module
quotes them and lays them into the base text.
"""

from __future__ import annotations

from dataclasses import dataclass

from heat_wsgi.derive.heatconf import (
    HOST_KEY, LEGACY_KEYS, bind_edits, bind_group, bind_groups, host_edits, instance_host_value,
)
from heat_wsgi.derive.index import Index
from heat_wsgi.derive.ini import Key
from heat_wsgi.derive.layout import heat_conf_path, instance_heat_conf_path
from heat_wsgi.model import ApiInstance, Host, Topology
from heat_wsgi.quoting import ini_key, ini_value
from heat_wsgi.render.common import header, without_header
from heat_wsgi.render.inifile import IniTemplate, edit_shape, ini_template

__all__ = ["HostHeatConf", "render_heat_conf", "render_instance_heat_conf"]

def _quote_edits(edits: dict[Key, str | None]) -> dict[Key, str | None]:
    return {(ini_key(s), ini_key(k)): (None if v is None else ini_value(v))
            for (s, k), v in edits.items()}


def _legacy_comments(edits: dict[Key, str | None], version: int) -> tuple[tuple[Key, str], ...]:
    """The note above each legacy option the rendered file comments out."""
    return tuple((key, f"heat_wsgi: Heat {version} does not read [{key[0]}] {key[1]}; "
                       f"[{LEGACY_KEYS[key][0]}] {LEGACY_KEYS[key][1]} carries its value")
                 for key, value in edits.items() if value is None and key in LEGACY_KEYS)


@dataclass(frozen=True, slots=True)
class _Variant:
    """The instance copies of a host's heat.conf that set the same options."""

    template: IniTemplate     # host values filled in; a slot per option of ``own``
    own: tuple[Key, ...]      # options each instance sets itself, in file order


@dataclass(frozen=True, slots=True)
class HostHeatConf:
    """Everything a host's heat.conf and its instances' copies share, worked out once.

    An instance's copy differs from its host's file only in ``[DEFAULT] host``
    and, on Heat <= 24, its bind options. So the host's edits are quoted once
    here, the base text is laid out once per set of options
    (:func:`~heat_wsgi.render.inifile.ini_template`), and each file only
    quotes and pastes its own few values.
    """

    topology: Topology
    host: Host
    raw: dict[Key, str | None]        #: :func:`host_edits`, unquoted
    quoted: dict[Key, str | None]     #: the same, quoted for the file
    template: IniTemplate             #: the host's own file
    variants: dict[str | None, _Variant]  #: per bind group (``None``: no bind options)

    @classmethod
    def build(cls, topology: Topology, host: Host, index: Index,
              base: dict[Key, str] | None = None,
              host_level: dict[Key, str | None] | None = None) -> HostHeatConf:
        raw = host_edits(topology, host, index, base) if host_level is None else host_level
        quoted = _quote_edits(raw)
        comments = _legacy_comments(raw, topology.heat_version)
        shape = edit_shape(raw)
        text = without_header("#", topology.base_config)
        variants: dict[str | None, _Variant] = {}
        for group in bind_groups(topology):
            # The options an instance sets itself: [DEFAULT] host (in the
            # host's edits already, so it keeps its place) and its bind
            # options, which keep theirs when the host sets them too and
            # come last otherwise -- as in instance_edits.
            own: dict[Key, bool] = {HOST_KEY: True}
            if group is not None:
                own.update({(group, "bind_host"): True, (group, "bind_port"): True})
            order = dict(shape)
            order.update(own)
            # The host's values go in now; each instance fills only its own.
            template = ini_template(text, tuple(order.items()), comments)
            variants[group] = _Variant(template.partial(quoted, own),
                                       tuple(key for key in order if key in own))
        return cls(topology, host, raw, quoted,
                   ini_template(text, shape, comments), variants)

    def host_text(self) -> str:
        """The host's own heat.conf."""
        top = header("#", self.topology, f"heat.conf for host {self.host.name!r} and its "
                     f"heat-engines ({heat_conf_path(self.host)})")
        return "\n".join(top) + "\n" + self.template.fill(self.quoted)

    def instance_text(self, instance: ApiInstance) -> str:
        """``instance``'s own copy of the host's heat.conf."""
        host = self.host
        group = bind_group(self.topology, instance.service)
        variant = self.variants[group]
        own: dict[Key, str] = {HOST_KEY: instance_host_value(self.raw.get(HOST_KEY) or host.name,
                                                             instance)}
        if group is not None:
            own.update(bind_edits(instance, host))
        # Quoted in file order, so the first bad value is the one reported.
        values = {key: ini_value(own[key]) for key in variant.own}
        top = header("#", self.topology, f"heat.conf for {instance.info.program} instance "
                     f"{instance.name!r} on host {host.name!r} "
                     f"({instance_heat_conf_path(instance, host)})")
        return "\n".join(top) + "\n" + variant.template.fill(values)


def render_heat_conf(topology: Topology, host: Host, index: Index,
                     base: dict[Key, str] | None = None) -> str:
    """``host``'s heat.conf (its engines'): the base text with heat_wsgi's options set."""
    return HostHeatConf.build(topology, host, index, base).host_text()


def render_instance_heat_conf(topology: Topology, instance: ApiInstance, host: Host,
                              index: Index, base: dict[Key, str] | None = None,
                              host_level: dict[Key, str | None] | None = None) -> str:
    """``instance``'s own full copy of its host's heat.conf."""
    return HostHeatConf.build(topology, host, index, base, host_level).instance_text(instance)
