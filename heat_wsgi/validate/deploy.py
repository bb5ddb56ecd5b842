"""Rules for deploying to real machines: HAProxy's admin socket, log and check timing, accounts."""

from __future__ import annotations

import dataclasses
import re
from pathlib import PurePosixPath

from heat_wsgi.derive.accounts import broker_accounts, database_account
from heat_wsgi.derive.addresses import is_loopback, split_hostport
from heat_wsgi.derive.layout import (engine_unit_path, heat_conf_path, machine_file_paths,
                                     stats_address)
from heat_wsgi.model import ProxyConfig
from heat_wsgi.validate.context import RuleContext, duration_seconds, valid_address
from heat_wsgi.validate.names import PATH_UNSAFE

__all__ = ["check_down_seconds", "rule_admin_socket", "rule_stats", "rule_paths", "rule_file_paths", "rule_log", "rule_check_timing",
           "rule_accounts", "SYSLOG_FACILITIES"]

SYSLOG_FACILITIES = frozenset({
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "auth2", "ftp", "ntp", "audit", "alert", "cron2",
    *(f"local{n}" for n in range(8))})
_SAFE_PATH = re.compile(r"/[A-Za-z0-9_./@+-]*")
_GROUP = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")


def _seconds(text: str | None) -> float | None:
    return None if text is None else duration_seconds(text)


def check_down_seconds(proxy: ProxyConfig) -> float | None:
    """The longest time HAProxy takes to mark down a server whose machine stopped answering.

    A powered-off machine sends no RST, so every probe runs into its timeout:
    with ``timeout check`` set, a probe's connect waits min(inter, timeout
    connect). The last good probe may have just passed, so the worst case is
    one ``inter``, then ``fall`` probes, ``fastinter`` apart. None when a
    duration does not parse or the servers are not checked.
    """
    hc = proxy.health_check
    if not hc.server_check:
        return None
    inter = _seconds(hc.inter)
    fast = _seconds(hc.fastinter) if hc.fastinter is not None else inter
    connect = _seconds(proxy.timeouts.connect)
    check = _seconds(proxy.timeouts.check)
    if inter is None or fast is None or connect is None or check is None:
        return None
    probe = min(inter, connect) if check > 0 else inter
    return inter + hc.fall * probe + (hc.fall - 1) * fast


def rule_admin_socket(ctx: RuleContext) -> None:
    """The admin socket: an absolute path, never world-accessible, a group with 0660."""
    proxy = ctx.topology.proxy
    if proxy is None or proxy.admin_socket is None:
        return
    sock = proxy.admin_socket
    if sock.path is not None and not (sock.path.startswith("/")
                                      and not PATH_UNSAFE.search(sock.path)):
        ctx.error("proxy.admin_socket.path", "must be an absolute path without whitespace, "
                  "quotes, '%', '$', '\\' or ';'", sock.path)
    if sock.mode == "0660" and sock.group is None:
        ctx.error("proxy.admin_socket.group", "must name a group when mode is '0660' (who "
                  "else may drain and stop servers?)", None)
    if sock.group is not None:
        if not _GROUP.fullmatch(sock.group):
            ctx.error("proxy.admin_socket.group", "must be a system group name", sock.group)
        elif sock.mode == "0600":
            ctx.warning("proxy.admin_socket.group", "is ignored with mode '0600'; use mode "
                        "'0660' to let the group in", sock.group)


_STATS_USER = re.compile(r"[A-Za-z0-9_.@+-]{1,64}")


def rule_stats(ctx: RuleContext) -> None:
    """The stats page stays on loopback, or asks for credentials read from a private file."""
    proxy = ctx.topology.proxy
    if proxy is None or proxy.stats is None:
        return
    stats = proxy.stats
    host = ctx.index.hosts.get(proxy.host)
    if stats.credentials_file is not None and not stats.credentials_file.strip():
        ctx.error("proxy.stats.credentials_file", "must be a path", stats.credentials_file)
    if stats.credentials is not None:
        user, colon, password = stats.credentials.partition(":")
        # Never the value itself: it is a password.
        if not colon or not _STATS_USER.fullmatch(user) or not password:
            ctx.error("proxy.stats.credentials_file", "must hold one line 'user:password' "
                      "(user of letters, digits and '_.@+-')", None)
        elif not password.isprintable() or "'" in password or password != password.strip():
            ctx.error("proxy.stats.credentials_file", "must hold a password of printable "
                      "characters without a single quote or outer whitespace", None)
    elif stats.credentials_file is not None:
        ctx.error("proxy.stats.credentials_file", "was not read: load the topology with "
                  "heat_wsgi.load_topology, or call "
                  "heat_wsgi.secretfile.read_stats_credentials", stats.credentials_file)
    if host is None:
        return
    address = stats_address(stats, host)
    if stats.credentials is None and stats.credentials_file is None \
            and not is_loopback(address):
        ctx.error("proxy.stats.credentials_file", f"is required: the stats page binds "
                  f"{address or '(every address)'}, which is not loopback, so it needs a "
                  "'user:password' file that others cannot read (or leave proxy.stats.address "
                  "unset to keep the page on the proxy host's loopback)", None)


def rule_log(ctx: RuleContext) -> None:
    """HAProxy's log target and facility."""
    proxy = ctx.topology.proxy
    if proxy is None or proxy.log is None:
        return
    log = proxy.log
    if log.target.startswith("/"):
        if not _SAFE_PATH.fullmatch(log.target):
            ctx.error("proxy.log.target", "must be an absolute path of letters, digits and "
                      "'_./@+-'", log.target)
    elif log.target not in ("stdout", "stderr"):
        host, port = split_hostport(log.target)
        if not port or not port[1:].isdigit() or not 1 <= int(port[1:]) <= 65535 \
                or not valid_address(host, wildcard_ok=False):
            ctx.error("proxy.log.target", "must be a unix socket path such as /dev/log, "
                      "'stdout', 'stderr' or host:port of a syslog server", log.target)
    if log.facility not in SYSLOG_FACILITIES:
        ctx.error("proxy.log.facility", "must be a syslog facility such as local0", log.facility)


def rule_check_timing(ctx: RuleContext) -> None:
    """Check intervals parse; the timing keeps the promise of down_within."""
    proxy = ctx.topology.proxy
    if proxy is None:
        return
    hc = proxy.health_check
    for name in ("fastinter", "downinter", "down_within"):
        value = getattr(hc, name)
        if value is not None and _seconds(value) is None:
            ctx.error(f"proxy.health_check.{name}", "must be an HAProxy duration such as 500ms",
                      value)
    limit = _seconds(hc.down_within)
    if limit is None:
        return
    worst = check_down_seconds(proxy)
    if worst is None:
        if not hc.server_check:
            ctx.error("proxy.health_check.down_within", "cannot be kept: server_check is "
                      "false, so no server is ever marked down", hc.down_within)
        return
    if worst > limit:
        ctx.error("proxy.health_check.down_within",
                  f"is not kept: a machine that stops answering is marked down after up to "
                  f"{worst:g}s (inter {hc.inter} + fall {hc.fall} probes of min(inter, "
                  f"timeout connect {proxy.timeouts.connect}) + {hc.fall - 1} x fastinter "
                  f"{hc.fastinter or hc.inter}); lower inter, fastinter, fall or timeouts.connect",
                  hc.down_within)


def rule_accounts(ctx: RuleContext) -> None:
    """What heat_wsgi creates on the database and broker hosts must be creatable."""
    t = ctx.topology
    db = t.database
    if db is not None and db.host is not None and db.url.split(":", 1)[0].split("+")[0] \
            in ("mysql", "mariadb") and database_account(db.url) is None:
        ctx.error("database.url", "must name a user and a database (mysql+pymysql://USER:"
                  "PASSWORD@HOST/NAME) for heat_wsgi to create them on the database host", None)
    bus = t.message_bus
    if bus is None or bus.host is None:
        return
    server = ctx.index.hosts.get(bus.host)
    remote = [h for h in ctx.index.heat_hosts if h != bus.host]
    for account in broker_accounts(bus.transport_url):
        if account.user == "guest" and remote and server is not None \
                and not is_loopback(server.address):
            ctx.error("message_bus.transport_url", "uses RabbitMQ's guest account, which may "
                      f"only connect from loopback, but host {remote[0]} is remote: name a "
                      "user of your own (heat_wsgi creates it on the broker host)", "guest")


#: Apache reads these in a <Directory> path as a wildcard pattern.
_GLOB = re.compile(r"[*?\[\]]")


def rule_paths(ctx: RuleContext) -> None:
    """Paths without '..' (the writer refuses them); no wildcard in wsgi_dir (a <Directory> pattern)."""
    for host in ctx.topology.hosts:
        for f in dataclasses.fields(host.paths):
            value = getattr(host.paths, f.name)
            if isinstance(value, str) and ".." in value.split("/"):
                ctx.error(f"hosts[{host.name}].paths.{f.name}", "must not contain a '..' "
                          "component", value)
        if _GLOB.search(host.paths.wsgi_dir):
            ctx.error(f"hosts[{host.name}].paths.wsgi_dir", "must not contain '*', '?', '[' or "
                      "']': Apache reads <Directory> paths as wildcard patterns",
                      host.paths.wsgi_dir)


def rule_file_paths(ctx: RuleContext) -> None:
    """No two rendered files of a host go to one path; the problem names both fields."""
    t = ctx.topology
    for host in ctx.index.hosts.values():
        where = f"hosts[{host.name}].paths"
        # (path, field, what); the fixed paths of the machine files come first, so
        # that a collision is reported on the field the user can change.
        files = machine_file_paths(t, host, ctx.index)
        if t.proxy is not None and t.proxy.host == host.name:
            files.append((host.paths.haproxy_config, f"{where}.haproxy_config", "haproxy.cfg"))
        instances = [i for i in t.api_instances if i.host == host.name]
        engines = [g for g in t.engines if g.host == host.name]
        if instances or engines:
            files.append((heat_conf_path(host), f"{where}.config_dir", "the host's heat.conf"))
        for inst in instances:
            layout = ctx.derived.layout(inst)
            name = f"api_instances[{inst.name}]"
            files.append((layout.heat_conf, f"{where}.config_dir", f"{name}'s heat.conf"))
            if inst.uses_uwsgi:
                files.append((layout.uwsgi_ini, f"{where}.config_dir", f"{name}'s uwsgi ini"))
                files.append((layout.unit_file, f"{where}.systemd_dir", f"{name}'s unit"))
            if inst.uses_apache:
                files.append((layout.apache_site, f"{where}.apache_site_dir",
                              f"{name}'s Apache site"))
            if inst.mode == "mod_wsgi":
                files.append((layout.wsgi_script, f"{where}.wsgi_dir", f"{name}'s .wsgi script"))
        for group in engines:
            for number in range(1, min(group.processes, 10_000) + 1):
                files.append((engine_unit_path(host, number), f"{where}.systemd_dir",
                              f"heat-engine unit {number}"))
        seen: dict[PurePosixPath, tuple[str, str]] = {}
        for path, field, what in files:
            key = PurePosixPath(path)
            if key in seen:
                other_field, other_what = seen[key]
                ctx.error(field, f"puts {what} at {key}, where {other_field} already puts "
                          f"{other_what}: two files cannot share a path", path)
            else:
                seen[key] = (field, what)
