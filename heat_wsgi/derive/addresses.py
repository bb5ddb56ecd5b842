"""Addresses and URLs: loopback and wildcard tests, hosts named in a URL, rewriting them."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable

from heat_wsgi.redact import mask_secrets

__all__ = ["is_loopback", "is_wildcard", "split_hostport", "format_host", "url_hosts",
           "rewrite_url_loopback", "rewrite_hostlist_loopback", "hostlist_hosts",
           "mask_password", "password_needs_encoding"]


#: Names that resolve to loopback (glibc's /etc/hosts defaults, RFC 6761's ``.localhost``).
_LOOPBACK_NAMES = frozenset(("localhost", "localhost.localdomain", "localhost6",
                             "localhost6.localdomain6", "ip6-localhost", "ip6-loopback"))


def _inet_aton(text: str) -> int | None:
    """The IPv4 address glibc's ``inet_aton`` reads from ``text`` (``127.1``, ``0x7f000001``,
    ``0177.0.0.1``), as getaddrinfo and so PyMySQL and py-amqp accept it; None if not one."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        try:
            if part[:2].lower() == "0x":
                numbers.append(int(part[2:] or "0", 16) if part[2:].isascii() else -1)
            elif part.startswith("0") and len(part) > 1:
                numbers.append(int(part, 8))
            elif part.isascii() and part.isdigit():
                numbers.append(int(part))
            else:
                return None
        except ValueError:
            return None
    if any(n < 0 for n in numbers) or any(n > 255 for n in numbers[:-1]):
        return None
    if numbers[-1] >= 1 << (8 * (5 - len(numbers))):
        return None
    value = 0
    for n in numbers[:-1]:
        value = value << 8 | n
    return value << (8 * (5 - len(numbers))) | numbers[-1]


@functools.lru_cache(maxsize=4096)
def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address, IPv6 maybe bracketed) is loopback.

    Every spelling the database and AMQP clients reach loopback with: they
    connect through ``getaddrinfo``, which takes any 127.0.0.0/8 address in
    inet_aton's forms (``127.1``, ``2130706433``, ``0x7f.1``, ``0177.0.0.1``),
    ``::1`` however written (``[::1]``, ``0:0:0:0:0:0:0:1``, ``::1%lo``), the
    IPv4-mapped ``::ffff:127.0.0.1``, and ``localhost`` in any case, with or
    without the final dot (``tests/test_hardening.py`` asks getaddrinfo).
    """
    name = host.strip()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    name = name.strip("[]").lower()
    plain = name[:-1] if name.endswith(".") else name
    if plain in _LOOPBACK_NAMES or plain.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.partition("%")[0] if ":" in name else name)
    except ValueError:
        number = _inet_aton(name) if name.isascii() else None
        return number is not None and number >> 24 == 127
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


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


def _userinfo_end(url: str, start: int) -> int:
    """Where the ``user:password@`` of the URL's netloc ends (``start`` when it has none).

    As SQLAlchemy reads it: the user name holds no ``:`` or ``/``, the
    password runs to the first ``@`` and may hold ``/``, ``#`` or ``?``.
    """
    at = url.find("@", start)
    if at < 0 or "/" in url[start:at].partition(":")[0]:
        return start
    return at + 1


def _netloc_span(url: str) -> tuple[int, int] | None:
    scheme_end = url.find("://")
    if scheme_end < 0:
        return None
    start = scheme_end + 3
    end = len(url)
    for stop in "/?#":
        pos = url.find(stop, _userinfo_end(url, start))
        if 0 <= pos < end:
            end = pos
    return start, end


def password_needs_encoding(url: str) -> bool:
    """Whether the URL's ``user:password@`` holds ``/``, ``#`` or ``?`` unencoded.

    SQLAlchemy reads such a password, but ``urllib.parse`` (oslo.messaging,
    kombu) ends the host part at that character: the URL names another host.
    """
    scheme_end = url.find("://")
    if scheme_end < 0:
        return False
    start = scheme_end + 3
    return any(c in url[start:_userinfo_end(url, start)] for c in "/#?")


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
    """Hide the password of each ``user:password@`` in a URL, for messages (:func:`heat_wsgi.redact.mask_secrets`)."""
    return mask_secrets(value)


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
