"""``heat-wsgi restart``'s steps, decided without doing any of them.

A rolling restart takes one unit at a time: an API instance under uwsgi
(reloaded by SIGHUP to its master, which re-executes itself and keeps the
listening socket), the Apache of a host serving mod_wsgi instances (a
graceful restart), then each heat-engine (stopped and started again; the
others consume the RPC queue meanwhile). An API unit is drained at HAProxy
first and waits until HAProxy holds no session to it, and it is put back
once it answers its health check again. :mod:`heat_wsgi.cluster` carries
the steps out and prints each as it completes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from heat_wsgi.derive import Derived
from heat_wsgi.derive.layout import instance_address
from heat_wsgi.errors import RestartError
from heat_wsgi.local.localize import LocalPlan
from heat_wsgi.local.plan import PlannedService, plan_services
from heat_wsgi.model import ApiInstance
from heat_wsgi.services import SERVICES

__all__ = ["Action", "RestartStep", "RestartUnit", "restart_units", "restart_steps",
           "HEALTH_PATH"]

HEALTH_PATH = "/healthcheck"

#: ``drain``/``ready``: ``set server B/S state ...`` on the admin socket;
#: ``wait-idle``: until HAProxy holds no session to the server (``scur`` 0);
#: ``reload``: SIGHUP to uwsgi's master; ``graceful``: SIGUSR1 to Apache's
#: parent; ``restart``: stop by pid, start as ``up`` does (ready when it serves);
#: ``wait-healthy``: the instance's own health URL answers 200;
#: ``wait-up``: HAProxy's checks see the server UP again.
Action = Literal["drain", "wait-idle", "reload", "graceful", "restart", "wait-healthy",
                 "ready", "wait-up"]
How = Literal["reload", "graceful", "restart"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartUnit:
    """One service ``restart`` takes out and back at a time.

    :ivar service: its name in the state dir's record (``uwsgi-api-node-2``)
    :ivar how: ``reload``, ``graceful`` or ``restart``
    :ivar servers: the ``(backend, server)`` pairs it is in HAProxy
    :ivar health: URLs that answer 200 once it serves
    """

    service: str
    how: How
    servers: tuple[tuple[str, str], ...] = ()
    health: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartStep:
    """One step: what to do, to which service, and where (a server or a URL)."""

    action: Action
    service: str
    backend: str = ""
    server: str = ""
    url: str = ""

    def describe(self) -> str:
        """How the step is shown in ``restart``'s progress."""
        target = f"{self.backend}/{self.server}" if self.server else (self.url or self.service)
        return f"{self.action:<12} {target}"


def _health(instance: ApiInstance, address: str) -> str:
    return f"http://{address}:{instance.effective_port}{HEALTH_PATH}"


def restart_units(plan: LocalPlan, names: Sequence[str] = ()) -> list[RestartUnit]:
    """The units to restart, in order: ``names`` as given, or (none given) a rolling restart.

    A rolling restart is every API unit in topology order, then every
    heat-engine. A name may be any service ``up`` runs; MariaDB, RabbitMQ,
    Keystone and HAProxy are restarted (nothing drains them).

    :raises RestartError: a name is not a service of the plan.
    """
    topology = plan.topology
    derived = Derived(topology)
    hosts = derived.index.hosts
    proxy = topology.proxy
    proxied = {l.service for l in proxy.listeners} if proxy is not None else set()
    planned: dict[str, PlannedService] = {s.name: s for s in plan_services(plan)}
    units: dict[str, RestartUnit] = {}
    apache: dict[str, list[ApiInstance]] = {}
    for instance in topology.api_instances:
        servers = ((SERVICES[instance.service].proxy_section, instance.name),) \
            if instance.service in proxied else ()
        address = instance_address(instance, hosts[instance.host])
        if instance.mode == "mod_wsgi":
            apache.setdefault(instance.host, []).append(instance)
            continue
        # mod_proxy's uwsgi sits behind Apache: reloading the uwsgi is enough.
        units[f"uwsgi-{instance.name}"] = RestartUnit(
            service=f"uwsgi-{instance.name}", how="reload", servers=servers,
            health=(_health(instance, address),))
    for host, instances in apache.items():
        units[f"apache-{host}"] = RestartUnit(
            service=f"apache-{host}", how="graceful",
            servers=tuple((SERVICES[i.service].proxy_section, i.name) for i in instances
                          if i.service in proxied),
            health=planned[f"apache-{host}"].probes)
    engines = [s.name for s in planned.values() if s.kind == "heat-engine"]
    if not names:
        return list(units.values()) + [RestartUnit(service=e, how="restart") for e in engines]
    result = []
    for name in names:
        if name in units:
            result.append(units[name])
        elif name in planned:
            result.append(RestartUnit(service=name, how="restart"))
        else:
            raise RestartError(f"restart: no service {name!r} in this run "
                               f"(have: {', '.join(sorted(planned))})")
    return result


def restart_steps(unit: RestartUnit) -> list[RestartStep]:
    """The steps of one unit: drain, wait idle, reload or restart, wait healthy, put back."""
    name = unit.service
    steps = [RestartStep(action="drain", service=name, backend=b, server=s)
             for b, s in unit.servers]
    steps += [RestartStep(action="wait-idle", service=name, backend=b, server=s)
              for b, s in unit.servers]
    steps.append(RestartStep(action=unit.how, service=name))
    steps += [RestartStep(action="wait-healthy", service=name, url=u) for u in unit.health]
    steps += [RestartStep(action="ready", service=name, backend=b, server=s)
              for b, s in unit.servers]
    steps += [RestartStep(action="wait-up", service=name, backend=b, server=s)
              for b, s in unit.servers]
    return steps
