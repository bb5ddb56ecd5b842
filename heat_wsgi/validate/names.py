"""Rules on names and strings: safe to write anywhere, unique, and naming things that exist."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from heat_wsgi.files import DEPLOYMENT_DIRS
from heat_wsgi.model import SUPPORTED_HEAT_VERSIONS, ConfOption, Paths
from heat_wsgi.quoting import NAME_PATTERN, ini_unsafe_reason, unsafe_reason
from heat_wsgi.validate.context import RuleContext, item_path, valid_address

__all__ = ["rule_safe_strings", "rule_names"]

_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
#: uwsgi also expands '@(' (a file's contents) and '{{' (a loop variable) in ini values.
PATH_UNSAFE = re.compile(r"[\s%$\"'\\;]|@\(|\{\{")
_INI_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def rule_safe_strings(ctx: RuleContext) -> None:
    """No value may hold a newline or another control character."""
    for path, value in _unprintable(ctx.topology):
        reason = unsafe_reason(value)
        if reason:
            ctx.error(path, f"cannot be written safely: {reason}", value)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _unprintable(obj: object) -> Iterator[tuple[str, str]]:
    """``(path, value)`` of each string in ``obj`` that is not printable, in field order.

    Paths are relative to ``obj`` ("" for ``obj`` itself) and are only built
    for the strings found: a large topology has 10**5 fine ones.
    """
    if isinstance(obj, str):
        if not obj.isprintable():
            yield "", obj
        return
    if not dataclasses.is_dataclass(obj):
        return
    names = _FIELD_NAMES.get(type(obj))
    if names is None:
        names = _FIELD_NAMES[type(obj)] = tuple(
            f.name for f in dataclasses.fields(obj) if f.name not in ("sources", "base_config"))
    for name in names:
        value = getattr(obj, name)
        if value is None or isinstance(value, (int, bool)):
            continue
        if isinstance(value, str):
            if not value.isprintable():
                yield name, value
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                if isinstance(item, ConfOption):
                    for part in (item.section, item.key, item.value):
                        if not part.isprintable():
                            yield f"{name}.{item.section}.{item.key}", part
                else:
                    for sub, found in _unprintable(item):
                        key = getattr(item, "name", None) or getattr(item, "host", None) \
                            or getattr(item, "service", None)
                        where = item_path(name, key, i)
                        yield (f"{where}.{sub}" if sub else where), found
        else:
            for sub, found in _unprintable(value):
                yield (f"{name}.{sub}" if sub else name), found


def rule_names(ctx: RuleContext) -> None:
    """Names are safe, unique and refer to hosts that exist."""
    t = ctx.topology
    if not NAME_PATTERN.fullmatch(t.name):
        ctx.error("name", "must be letters, digits, '_', '.' or '-' (at most 63)", t.name)
    if t.heat_version < 1:
        ctx.error("heat_version", "must be a Heat major version such as 27", t.heat_version)
    elif t.heat_version not in SUPPORTED_HEAT_VERSIONS:
        ctx.warning("heat_version", f"is not a release heat_wsgi supports (Heat "
                    f"{SUPPORTED_HEAT_VERSIONS[0]} to {SUPPORTED_HEAT_VERSIONS[-1]}): the "
                    "rendered files assume the nearest one", t.heat_version)
    seen: dict[str, int] = {}
    for i, host in enumerate(t.hosts):
        path = f"hosts[{host.name}]"
        if host.name in seen:
            ctx.error(f"hosts[#{i}].name", f"must be unique: hosts[#{seen[host.name]}] has the same name", host.name)
        else:
            seen[host.name] = i
        if not NAME_PATTERN.fullmatch(host.name):
            ctx.error(f"{path}.name", "must be letters, digits, '_', '.' or '-' (at most 63)", host.name)
        elif host.name in DEPLOYMENT_DIRS:
            ctx.error(f"{path}.name", "is reserved: the rendered tree keeps deployment-wide "
                      f"files in {host.name}/", host.name)
        if not valid_address(host.address, wildcard_ok=False):
            ctx.error(f"{path}.address", "must be an IP address or host name other hosts can reach", host.address)
        # Each becomes one word of a unit, a chown or a group list: "www-data root" is two.
        for field_name in ("user", "group", "web_group"):
            value = getattr(host, field_name)
            if not _USER.fullmatch(value):
                ctx.error(f"{path}.{field_name}", "must be a system user or group name "
                          "(a letter or '_', then letters, digits, '_', '.' or '-'; at most 32)", value)
        if host.user == "nobody":
            # systemd-analyze verify: "Special user nobody configured, this is not safe!"
            ctx.warning(f"{path}.user", "is the special user nobody, which systemd warns "
                        "about: other services running as nobody could reach Heat's files "
                        "and processes; name a user of Heat's own", host.user)
        if host.user == "root" and any(i.mode == "mod_wsgi" for i in
                                       ctx.index.instances_by_host.get(host.name, ())):
            # apache2 -t: "WSGI process blocked from running as root."
            ctx.error(f"{path}.user", "must not be root on a host with a mod_wsgi instance: "
                      "mod_wsgi refuses to run its daemon processes as root", host.user)
        _check_paths(ctx, f"{path}.paths", host.paths)
        for option in host.heat_conf:
            _check_option(ctx, f"{path}.heat_conf", option)
    for option in t.heat_conf:
        _check_option(ctx, "heat_conf", option)
    if t.message_bus is not None:
        for option in t.message_bus.options:
            _check_option(ctx, "message_bus.options", option)
        _check_ini_value(ctx, "message_bus.transport_url", t.message_bus.transport_url)
    if t.database is not None:
        _check_ini_value(ctx, "database.url", t.database.url)

    hosts = ctx.index.hosts
    names: dict[str, int] = {}
    for i, inst in enumerate(t.api_instances):
        path = f"api_instances[{inst.name}]"
        if inst.name in names:
            ctx.error(f"api_instances[#{i}].name",
                      f"must be unique: api_instances[#{names[inst.name]}] has the same name", inst.name)
        else:
            names[inst.name] = i
        if not NAME_PATTERN.fullmatch(inst.name):
            ctx.error(f"{path}.name", "must be letters, digits, '_', '.' or '-' (at most 63)", inst.name)
        if inst.host not in hosts:
            ctx.error(f"{path}.host", "must name a host defined under hosts", inst.host)
    groups: dict[str, int] = {}
    for i, group in enumerate(t.engines):
        if group.host in groups:
            ctx.error(f"engines[#{i}].host", "must be unique: one engine group per host "
                      "(num_engine_workers is per host)", group.host)
        else:
            groups[group.host] = i
        if group.host not in hosts:
            ctx.error(f"engines[{group.host}].host", "must name a host defined under hosts", group.host)
    for path, ref in (("proxy.host", t.proxy.host if t.proxy else None),
                      ("database.host", t.database.host if t.database else None),
                      ("message_bus.host", t.message_bus.host if t.message_bus else None)):
        if ref is not None and ref not in hosts:
            ctx.error(path, "must name a host defined under hosts", ref)


def _check_paths(ctx: RuleContext, path: str, paths: Paths) -> None:
    for f in dataclasses.fields(paths):
        value = getattr(paths, f.name)
        if value is None:
            continue
        if not value.startswith("/"):
            ctx.error(f"{path}.{f.name}", "must be an absolute path", value)
        elif PATH_UNSAFE.search(value):
            ctx.error(f"{path}.{f.name}", "must not contain whitespace, quotes, '%', '$', '\\', "
                      "';', '@(' or '{{' (uwsgi and systemd would split or expand it)", value)


def _check_option(ctx: RuleContext, path: str, option: ConfOption) -> None:
    where = f"{path}.{option.section}.{option.key}"
    if not _INI_NAME.fullmatch(option.section):
        ctx.error(where, "section must be letters, digits, '_', '.' or '-'", option.section)
    if not _INI_NAME.fullmatch(option.key):
        ctx.error(where, "key must be letters, digits, '_', '.' or '-'", option.key)
    _check_ini_value(ctx, where, option.value)


def _check_ini_value(ctx: RuleContext, path: str, value: str) -> None:
    reason = ini_unsafe_reason(value)
    if reason:
        ctx.error(path, f"cannot be written to heat.conf: {reason}", value)
