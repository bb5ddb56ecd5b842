"""What messages may show of a value: passwords masked, control characters escaped."""

from __future__ import annotations

import re

__all__ = ["mask_secrets", "escape_text", "is_secret_name", "shown_value"]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_SECRET_NAME = re.compile(r"(pass|secret|token|credential|private|_key$|^key$)", re.IGNORECASE)


def _mask_userinfo(userinfo: str) -> str:
    user, colon, _ = userinfo.partition(":")
    return f"{user}:***" if colon else user


def _mask_url_body(body: str) -> str:
    """``user:pw@h1,user:pw@h2/...`` with every password masked.

    A password may hold ``/``, ``#``, ``?``, ``@`` or ``,`` (SQLAlchemy reads
    it up to the ``@``), so everything up to the last ``@`` is treated as
    credentials, except the hosts of a ``rabbit://h1,h2`` list.
    """
    at = body.rfind("@")
    if at < 0:
        return body
    segments = body[:at].split("@")
    out = [_mask_userinfo(segments[0])]
    for segment in segments[1:]:
        host, comma, userinfo = segment.partition(",")
        if comma:
            out.append(f"{host},{_mask_userinfo(userinfo)}")
        # else: the segment is the rest of a password holding "@": not shown
    return "@".join(out) + body[at:]


def mask_secrets(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` in it replaced by ``***``.

    The one masking function: problems, errors and the CLI all go through it.
    Each URL runs to the next one or to the end of ``text``, so a password
    holding a space or a quote is masked too.
    """
    if "://" not in text:
        return text
    starts = [m.start() for m in _SCHEME.finditer(text)]
    if not starts:
        return text
    pieces = [text[:starts[0]]]
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(text)
        head = text.index("://", start) + 3
        pieces.append(text[start:head] + _mask_url_body(text[head:end]))
    return "".join(pieces)


def escape_text(text: str) -> str:
    """``text`` with every unprintable character (ESC, newline, a lone surrogate) as a Python escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def is_secret_name(path: str) -> bool:
    """Whether the field or option ``path`` (``heat_conf.x.password``) names a secret."""
    last = re.split(r"[.\]]", path.rstrip("]"))[-1]
    return bool(_SECRET_NAME.search(last))


def shown_value(path: str, value: object) -> str:
    """How a message shows ``value`` of field ``path``: ``***`` for a secret, URL passwords masked, escaped."""
    if isinstance(value, str):
        return "'***'" if value and is_secret_name(path) else repr(mask_secrets(value))
    return mask_secrets(repr(value))
