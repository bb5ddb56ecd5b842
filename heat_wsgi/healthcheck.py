"""A fast path for ``/healthcheck`` in front of the paste application.

Load balancers poll ``/healthcheck`` every couple of seconds on every
instance. oslo.middleware's Healthcheck app answers it by running its
plugins, negotiating content types and building a webob response, which
costs more than the check itself. For the common configurations (no plugin,
or only ``disable_by_file``) the answer is fully determined by one
``stat()``, so this wrapper answers those requests itself with exactly the
status and body oslo would give, and hands everything else (other plugins,
detailed output, JSON/HTML, source-range filtering) to oslo untouched.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

HEALTHCHECK_PATH = "/healthcheck"
_TEXT = (("Content-Type", "text/plain; charset=UTF-8"),)


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """What the fast path needs to know: is drain-by-file on, and where."""

    disable_by_file_path: str | None
    # oslo answers "OK" when a plugin reported, and an empty body when none is
    # configured; we keep its exact bodies so clients see no difference.
    has_plugin: bool


def settings_from_oslo(healthcheck_app: Any) -> HealthSettings | None:
    """Read the effective settings off a built oslo Healthcheck app (paste
    local conf overrides [healthcheck] in heat.conf, as oslo resolves them).
    Returns None when the configuration needs oslo's full machinery."""
    conf_get = getattr(healthcheck_app, "_conf_get", None)
    if conf_get is None:
        return None
    backends = list(conf_get("backends") or [])
    if set(backends) - {"disable_by_file"}:
        return None
    if conf_get("detailed") or conf_get("allowed_source_ranges") \
            or conf_get("ignore_proxied_requests"):
        return None
    path = conf_get("disable_by_file_path") if backends else None
    return HealthSettings(disable_by_file_path=path or None, has_plugin=bool(backends))


class FastHealthcheck:
    """WSGI wrapper: answers plain ``GET``/``HEAD /healthcheck`` itself."""

    def __init__(self, app: WSGIApp, settings: HealthSettings) -> None:
        self.app = app
        self.settings = settings
        ok_body = b"OK" if settings.has_plugin else b""
        # Polled every couple of seconds by every balancer on every
        # instance: the answers are built once, and each request only
        # copies the header list (a server may append to it).
        self._answers = {
            ("GET", True): ("200 OK", _headers(len(ok_body)), ok_body),
            ("GET", False): ("503 Service Unavailable", _headers(len(_DISABLED)), _DISABLED),
            ("HEAD", True): ("204 No Content", _headers(0), b""),
            ("HEAD", False): ("503 Service Unavailable", _headers(0), b""),
        }

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != HEALTHCHECK_PATH:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD")
        accept = environ.get("HTTP_ACCEPT")
        if method not in _METHODS or not (not accept or accept in _PLAIN
                                          or _wants_plain_text(accept)):
            return self.app(environ, start_response)
        path = self.settings.disable_by_file_path
        # access(F_OK) rather than exists(): no exception raised per poll when
        # the drain file is absent, half the cost.
        status, headers, body = self._answers[method, not (path and os.access(path, os.F_OK))]
        start_response(status, list(headers))
        return [body]


_METHODS = frozenset({"GET", "HEAD"})
_DISABLED = b"DISABLED BY FILE"
# Accept headers that are plain text as they stand (curl's and ab's */*;
# HAProxy sends none), so the common poll skips the parsing below.
_PLAIN = frozenset({"*/*", "text/plain", "text/*"})


def _headers(length: int) -> tuple[tuple[str, str], ...]:
    return (*_TEXT, ("Content-Length", str(length)))


def _wants_plain_text(accept: str) -> bool:
    # oslo prefers text/plain whenever the client accepts it; anything
    # more particular goes to oslo's own negotiation.
    first = accept.split(",", 1)[0].split(";", 1)[0].strip()
    return first in _PLAIN


def wrap(app: WSGIApp) -> WSGIApp:
    """Put the fast path in front of a paste urlmap whose ``/healthcheck``
    is oslo's Healthcheck app; return ``app`` unchanged otherwise."""
    for (_domain, url), inner in getattr(app, "applications", ()):
        if url == HEALTHCHECK_PATH:
            settings = settings_from_oslo(inner)
            if settings is not None:
                return FastHealthcheck(app, settings)
    return app
