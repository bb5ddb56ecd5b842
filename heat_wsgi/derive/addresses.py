"""Addresses and URLs: loopback and wildcard tests, hosts named in a URL, rewriting them."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable

__all__ = ["is_loopback", "is_wildcard", "split_hostport", "format_host", "url_hosts",
           "rewrite_url_loopback", "rewrite_hostlist_loopback", "hostlist_hosts",
           "mask_password"]


@functools.lru_cache(maxsize=4096)
def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address, IPv6 maybe bracketed) is loopback."""
    name = host.strip().strip("[]").lower()
    if name in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_wildcard(address: str) -> bool:
    return address in ("0.0.0.0", "::", "[::]", "*", "")


def split_hostport(hostport: str) -> tuple[str, str]:
    """``host[:port]`` -> (host, ':port' or '')."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end >= 0:
            return hostport[:end + 1], hostport[end + 1:]
        return hostport, ""
    if hostport.count(":") == 1:
        host, port = hostport.split(":")
        return host, ":" + port
    return hostport, ""


def format_host(address: str) -> str:
    """``address`` as it stands before ``:port``: an IPv6 address in brackets."""
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def _netloc_span(url: str) -> tuple[int, int] | None:
    scheme_end = url.find("://")
    if scheme_end < 0:
        return None
    start = scheme_end + 3
    end = len(url)
    for stop in "/?#":
        pos = url.find(stop, start)
        if 0 <= pos < end:
            end = pos
    return start, end


def _map_netloc(url: str, change: Callable[[str, str, str], str]) -> str:
    """``url`` with each ``userinfo@host:port`` of its netloc (``rabbit://a,b/``
    has several) replaced by ``change(userinfo, at, hostport)``."""
    span = _netloc_span(url)
    if span is None:
        return url
    pieces = [change(*piece.rpartition("@")) for piece in url[span[0]:span[1]].split(",")]
    return url[:span[0]] + ",".join(pieces) + url[span[1]:]


def url_hosts(url: str) -> list[str]:
    """Every host named in ``url`` (several for ``rabbit://a,b/``)."""
    span = _netloc_span(url)
    if span is None:
        return []
    hosts = []
    for piece in url[span[0]:span[1]].split(","):
        host, _ = split_hostport(piece.rpartition("@")[2])
        if host:
            hosts.append(host)
    return hosts


def rewrite_url_loopback(url: str, address: str) -> str:
    """``url`` with each loopback host replaced by ``address``."""
    def change(userinfo: str, at: str, hostport: str) -> str:
        host, port = split_hostport(hostport)
        if is_loopback(host):
            host = format_host(address)
        return f"{userinfo}{at}{host}{port}"
    return _map_netloc(url, change)


def mask_password(value: str) -> str:
    """Hide the password of each ``user:password@`` in a URL, for messages."""
    def change(userinfo: str, at: str, hostport: str) -> str:
        if at and ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        return f"{userinfo}{at}{hostport}"
    return _map_netloc(value, change)


def rewrite_hostlist_loopback(value: str, address: str) -> str:
    """``rabbit_host`` / ``rabbit_hosts`` style ``host[:port],...`` rewritten."""
    pieces = []
    for piece in value.split(","):
        host, port = split_hostport(piece.strip())
        pieces.append((format_host(address) if is_loopback(host) else host) + port)
    return ",".join(pieces)


def hostlist_hosts(value: str) -> list[str]:
    """The hosts of a ``host[:port],...`` list."""
    return [split_hostport(piece.strip())[0] for piece in value.split(",") if piece.strip()]
