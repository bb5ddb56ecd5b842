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
_TEXT = [("Content-Type", "text/plain; charset=UTF-8")]


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
        self._ok_body = b"OK" if settings.has_plugin else b""

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != HEALTHCHECK_PATH:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD")
        if method not in ("GET", "HEAD") or not _wants_plain_text(environ):
            return self.app(environ, start_response)
        path = self.settings.disable_by_file_path
        healthy = not (path and os.path.exists(path))
        if method == "HEAD":
            status = "204 No Content" if healthy else "503 Service Unavailable"
            start_response(status, _TEXT + [("Content-Length", "0")])
            return [b""]
        body = self._ok_body if healthy else b"DISABLED BY FILE"
        status = "200 OK" if healthy else "503 Service Unavailable"
        start_response(status, _TEXT + [("Content-Length", str(len(body)))])
        return [body]


def _wants_plain_text(environ: Environ) -> bool:
    accept = environ.get("HTTP_ACCEPT", "")
    if not accept:
        return True
    # oslo prefers text/plain whenever the client accepts it; anything
    # more particular goes to oslo's own negotiation.
    first = accept.split(",", 1)[0].split(";", 1)[0].strip()
    return first in ("*/*", "text/plain", "text/*")


def wrap(app: WSGIApp) -> WSGIApp:
    """Put the fast path in front of a paste urlmap whose ``/healthcheck``
    is oslo's Healthcheck app; return ``app`` unchanged otherwise."""
    for (_domain, url), inner in getattr(app, "applications", ()):
        if url == HEALTHCHECK_PATH:
            settings = settings_from_oslo(inner)
            if settings is not None:
                return FastHealthcheck(app, settings)
    return app
