"""Rules on heat.conf: the base file readable, legacy options, unique hosts, one AMQP setup."""

from __future__ import annotations

from heat_wsgi.derive.addresses import (
    mask_password, password_needs_encoding, rewrite_hostlist_loopback, rewrite_url_loopback,
)
from heat_wsgi.derive.heatconf import (
    AMQP_HOST_KEYS, AMQP_URL_KEYS, DATABASE_KEY, DB_URL_KEYS, HOST_KEY, LEGACY_KEYS,
    TRANSPORT_KEY, instance_host_value, is_amqp_key,
)
from heat_wsgi.derive.ini import Key, option_lines, parse_ini, syntax_errors
from heat_wsgi.model import Host
from heat_wsgi.validate.context import Problem, RuleContext, Severity

__all__ = ["rule_base_config", "rule_legacy_options", "rule_host_values", "rule_engine_amqp",
           "rule_amqp_url_passwords"]


def rule_base_config(ctx: RuleContext) -> None:
    """The base heat.conf must be readable by oslo.config; key settings exist."""
    t = ctx.topology
    try:
        t.base_config.encode("utf-8")
    except UnicodeEncodeError as exc:
        ctx.error("base_config", f"must be UTF-8 text: character {exc.start} is a lone surrogate "
                  "(a YAML \\u escape?)")
    for err in syntax_errors(t.base_config)[:20]:
        # Never the line itself: a base heat.conf holds passwords.
        source = ctx.base_line(err.lineno)
        ctx.problems.append(Problem(severity="error", path=f"base_config line {err.lineno}",
                                    message=f"oslo.config cannot read this line ({err.where}): "
                                    f"{err.message}", source=source))
    if not ctx.index.heat_hosts:
        return
    base = ctx.base
    if t.database is None and not any(key in base for key in DB_URL_KEYS):
        ctx.warning("database", "is not set and the base heat.conf has no [database] connection")
    if t.message_bus is None and not any(key in base for key in AMQP_URL_KEYS + AMQP_HOST_KEYS):
        ctx.warning("message_bus", "is not set and the base heat.conf has no transport_url")


def rule_legacy_options(ctx: RuleContext) -> None:
    """Options of the base heat.conf that Heat (23 and later) no longer reads.

    ``sql_connection`` left oslo.db for ``[database] connection`` and the
    ``rabbit_*`` broker options left oslo.messaging for ``transport_url``.
    Alone, such a file leaves every host on the library defaults (an error);
    next to the current option it is dead text (a warning). The renderer
    writes the current option from them and comments them out.
    """
    t = ctx.topology
    if not ctx.index.heat_hosts:
        return
    given = {DATABASE_KEY: t.database is not None or DATABASE_KEY in ctx.base,
             TRANSPORT_KEY: t.message_bus is not None or TRANSPORT_KEY in ctx.base}
    where = {DATABASE_KEY: "database.url", TRANSPORT_KEY: "message_bus.transport_url"}
    values = parse_ini(t.base_config)
    for key, lineno in sorted(option_lines(t.base_config).items(), key=lambda kv: kv[1]):
        modern = LEGACY_KEYS.get(key)
        if modern is None:
            continue
        old, new = f"[{key[0]}] {key[1]}", f"[{modern[0]}] {modern[1]}"
        value = values[key]
        shown = "***" if key[1] == "rabbit_password" else mask_password(value)
        if given[modern]:
            source = "the topology's " + where[modern] if (
                modern not in ctx.base) else "the base heat.conf"
            message = (f"{old} is not read by Heat {t.heat_version}; {new} from {source} is used instead "
                       f"(the rendered files keep {old} only as a comment)")
            severity: Severity = "warning"
        else:
            message = (f"{old} is not read by Heat {t.heat_version}, and nothing sets {new}: hosts would "
                       f"use the library default instead; replace it with {new} (or set "
                       f"{where[modern]}); the rendered files carry it over to {new}")
            severity = "error"
        ctx.problems.append(Problem(severity=severity, path=f"base_config.{key[0]}.{key[1]}",
                                    message=message, value=shown,
                                    source=ctx.base_line(lineno)))


def rule_host_values(ctx: RuleContext) -> None:
    """Every heat.conf names a different ``[DEFAULT] host``.

    Engines register in Heat's service table under it, and the scaling guide
    asks for a unique one per API instance: a clash makes two processes one.
    """
    owners: dict[str, str] = {}
    for host in ctx.heat_hosts():
        value = ctx.settings(host).get(HOST_KEY, host.name)
        own = any((o.section, o.key) == HOST_KEY for o in host.heat_conf)
        entries = [(value, ctx.origin(host, HOST_KEY) if own else f"hosts[{host.name}].name",
                    f"host {host.name}")]
        entries += [(instance_host_value(value, inst), f"api_instances[{inst.name}].name",
                     f"instance {inst.name}")
                    for inst in ctx.index.instances_by_host.get(host.name, [])]
        for found, path, who in entries:
            other = owners.get(found)
            if other is None:
                owners[found] = who
            elif other != who:
                ctx.error(path, f"gives {who} the heat.conf [DEFAULT] host of {other}; each "
                          "heat.conf must name a unique host (instances get "
                          "'<host>-<instance>')", found)


def _amqp_view(ctx: RuleContext, host: Host) -> dict[Key, str]:
    t = ctx.topology
    server = ctx.index.hosts.get(t.message_bus.host) if t.message_bus and t.message_bus.host else None
    view: dict[Key, str] = {}
    for key, value in ctx.settings(host).items():
        if not is_amqp_key(key) and key not in AMQP_HOST_KEYS:
            continue
        if server is not None:
            if key in AMQP_URL_KEYS:
                value = rewrite_url_loopback(value, server.address)
            elif key in AMQP_HOST_KEYS:
                value = rewrite_hostlist_loopback(value, server.address)
        view[key] = value
    return view


def rule_engine_amqp(ctx: RuleContext) -> None:
    """Every engine host uses the same AMQP settings (one shared engine queue)."""
    engine_hosts = [ctx.index.hosts[name] for name in ctx.index.engines_by_host
                    if name in ctx.index.hosts]
    if len(engine_hosts) < 2:
        return
    # Hosts without their own heat.conf options all see the same AMQP view.
    plain: dict[Key, str] | None = None
    views: list[tuple[Host, dict[Key, str]]] = []
    for host in engine_hosts:
        if host.heat_conf:
            views.append((host, _amqp_view(ctx, host)))
        else:
            if plain is None:
                plain = _amqp_view(ctx, host)
            views.append((host, plain))
    reference, ref_view = next(((h, v) for h, v in views if not h.heat_conf), views[0])
    for host, view in views:
        if host is reference or view is ref_view or view == ref_view:
            continue
        for key in sorted(set(ref_view) | set(view)):
            mine, theirs = view.get(key), ref_view.get(key)
            if mine == theirs:
                continue
            path = ctx.origin(host, key) if mine is not None else f"hosts[{host.name}].heat_conf"
            shown = "unset" if theirs is None else mask_password(theirs)
            ctx.error(path, f"[{key[0]}] {key[1]} on engine host {host.name} differs from engine "
                      f"host {reference.name} ({shown}); all engines must share one AMQP "
                      "configuration to consume the same queue",
                      None if mine is None else mask_password(mine))


def rule_amqp_url_passwords(ctx: RuleContext) -> None:
    """An AMQP URL's password holds no raw ``/``, ``#`` or ``?``.

    oslo.messaging splits the URL with ``urllib.parse``, which ends the host
    part there: ``rabbit://heat:pa/ss@db/`` names host ``heat``. SQLAlchemy
    reads such a database password as meant, so only AMQP URLs are refused.
    """
    t = ctx.topology
    urls = [("message_bus.transport_url", t.message_bus.transport_url)] if t.message_bus else []
    if t.message_bus is None:
        urls += [(f"base_config.{k[0]}.{k[1]}", ctx.base[k]) for k in AMQP_URL_KEYS if k in ctx.base]
    for path, url in urls:
        if password_needs_encoding(url):
            ctx.error(path, "holds '/', '#' or '?' in its user or password: percent-encode them "
                      "(%2F, %23, %3F), or oslo.messaging reads another host", url)
