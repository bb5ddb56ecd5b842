"""The accounts a topology's database URL and transport URL name, which a deployment creates."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from heat_wsgi.derive.addresses import split_hostport

__all__ = ["DatabaseAccount", "database_account", "BrokerAccount", "broker_accounts",
           "DATABASE_PORT", "BROKER_PORT"]

DATABASE_PORT = 3306
BROKER_PORT = 5672
_DATABASE_SCHEMES = ("mysql", "mariadb")


@dataclass(frozen=True, slots=True)
class DatabaseAccount:
    """What ``database.url`` asks the server for."""

    user: str
    password: str
    database: str
    port: int


def database_account(url: str) -> DatabaseAccount | None:
    """The account of a MySQL/MariaDB URL; None for any other database or no user."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.split("+", 1)[0] not in _DATABASE_SCHEMES or not parts.username:
        return None
    name = urllib.parse.unquote(parts.path.lstrip("/"))
    if not name:
        return None
    return DatabaseAccount(user=urllib.parse.unquote(parts.username),
                           password=urllib.parse.unquote(parts.password or ""),
                           database=name, port=port or DATABASE_PORT)


@dataclass(frozen=True, slots=True)
class BrokerAccount:
    """One ``user:password@host:port/vhost`` of a transport URL."""

    user: str
    password: str
    vhost: str
    host: str
    port: int


def broker_accounts(url: str) -> list[BrokerAccount]:
    """Every account of a ``rabbit://`` URL (several hosts may be listed), in order."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] not in ("rabbit", "amqp"):
        return []
    netloc, slash, tail = rest.partition("/")
    path = tail.split("?", 1)[0]
    vhost = urllib.parse.unquote(path) if path else "/"
    accounts = []
    for piece in netloc.split(","):
        userinfo, at, hostport = piece.rpartition("@")
        if not at:
            continue
        user, _, password = userinfo.partition(":")
        host, port = split_hostport(hostport)
        try:
            number = int(port[1:]) if port else BROKER_PORT
        except ValueError:
            continue
        accounts.append(BrokerAccount(user=urllib.parse.unquote(user),
                                      password=urllib.parse.unquote(password),
                                      vhost=vhost, host=host, port=number))
    return accounts
