"""Lookups over a topology, built once so that no rule or renderer is quadratic."""

from __future__ import annotations

from dataclasses import dataclass

from heat_wsgi.model import ApiInstance, EngineGroup, Host, Topology

__all__ = ["Index", "build_index"]


@dataclass(frozen=True, slots=True)
class Index:
    """Hosts by name, and what runs on each host."""

    hosts: dict[str, Host]
    instances_by_host: dict[str, list[ApiInstance]]
    engines_by_host: dict[str, list[EngineGroup]]
    service_count: dict[tuple[str, str], int]     # (host, service) -> instances
    heat_hosts: tuple[str, ...]                   # hosts with APIs or engines, in order


def build_index(topology: Topology) -> Index:
    """The :class:`Index` of ``topology`` (the first host of a repeated name wins)."""
    hosts = topology.host_map()
    by_host: dict[str, list[ApiInstance]] = {}
    counts: dict[tuple[str, str], int] = {}
    for instance in topology.api_instances:
        by_host.setdefault(instance.host, []).append(instance)
        key = (instance.host, instance.service)
        counts[key] = counts.get(key, 0) + 1
    engines: dict[str, list[EngineGroup]] = {}
    for group in topology.engines:
        engines.setdefault(group.host, []).append(group)
    heat_hosts = tuple(name for name in hosts if name in by_host or name in engines)
    return Index(hosts, by_host, engines, counts, heat_hosts)
