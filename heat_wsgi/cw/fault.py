"""Paste filter: whatever fails in the pipeline becomes an AWS error document.

The app answers its own errors in AWS form already (namespaced, with a
RequestId). This filter is for the middleware in front of it:

* ec2authtoken *returns* Heat's AWS exceptions as responses (an
  ``<ErrorResponse>`` without namespace or RequestId) and sometimes raises
  them; keystonemiddleware answers 401 in JSON. Such error responses are
  re-rendered as this API's error documents, keeping their status and code.
* anything else that escapes becomes InternalFailure (500) instead of an
  empty response; the details go to the log only.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from typing import Any

from heat_wsgi.cw.app import StartResponse, error_response, request_id

LOG = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# AWS codes for error statuses that arrive without one.
STATUS_CODES = {401: "InvalidClientTokenId", 403: "AccessDenied", 404: "ResourceNotFound",
                413: "RequestEntityTooLarge", 503: "ServiceUnavailable"}
# Error bodies larger than this are not parsed, only replaced.
MAX_REWRITE_BYTES = 64 * 1024


class FaultWrap:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        rid = request_id(environ)
        held: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            code = int(status.split(" ", 1)[0])
            ours = any(name.lower() == "x-amzn-requestid" for name, _ in headers)
            if code >= 400 and not ours:
                held["status"] = code
                return lambda data: None  # bodies are collected from the iterable
            return start_response(status, headers, exc_info) if exc_info else \
                start_response(status, headers)

        try:
            body = self.app(environ, capture)
            if "status" not in held:
                return body
            raw = _collect(body)
        except Exception as exc:
            return _from_exception(exc, start_response, rid)
        code, message, fault = _parse(raw, held["status"])
        LOG.info("%s: %s %s", rid, code, message)
        return error_response(start_response, code, message, fault, held["status"], rid)


def _collect(body: Iterable[bytes]) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in body:
            if size < MAX_REWRITE_BYTES:
                chunks.append(chunk)
            size += len(chunk)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return b"".join(chunks)[:MAX_REWRITE_BYTES]


def _parse(raw: bytes, status: int) -> tuple[str, str, str]:
    """(code, message, fault type) from an error body, AWS XML or not."""
    fault = "Receiver" if status >= 500 else "Sender"
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        root = None
    if root is not None:
        found = {el.tag.rsplit("}", 1)[-1]: (el.text or "").strip() for el in root.iter()}
        if found.get("Code"):
            return (found["Code"].replace(" ", ""), found.get("Message") or found["Code"],
                    found.get("Type") or fault)
    text = " ".join(raw.decode("utf-8", "replace").split())[:300]
    code = STATUS_CODES.get(status, "InternalFailure" if status >= 500 else "InvalidRequest")
    return code, text or f"HTTP {status}", fault


def _unknown_access_key(exc: Exception) -> bool:
    """Keystone answers 404 for an EC2 access key it does not know, and Heat's
    ec2authtoken only handles 401, so keystoneauth's NotFound escapes it."""
    try:
        from keystoneauth1 import exceptions as ks_exceptions
    except ImportError:
        return False
    return isinstance(exc, ks_exceptions.NotFound)


def _from_exception(exc: Exception, start_response: StartResponse, rid: str) -> Iterable[bytes]:
    if _unknown_access_key(exc):
        LOG.info("%s: InvalidClientTokenId (Keystone does not know the access key)", rid)
        return error_response(start_response, "InvalidClientTokenId",
                              "The security token included in the request is invalid.",
                              "Sender", 403, rid)
    status = getattr(exc, "code", None)
    code = getattr(exc, "title", None)
    if isinstance(status, int) and 400 <= status < 600 and isinstance(code, str):
        # heat.api.aws.exception.HeatAPIException and friends, when raised.
        explanation = str(getattr(exc, "explanation", "") or code)
        detail = getattr(exc, "detail", None)
        message = f"{explanation}: {detail}" if detail else explanation
        fault = str(getattr(exc, "err_type", "Sender"))
        LOG.info("%s: %s %s", rid, code, message)
        return error_response(start_response, code.replace(" ", ""), message, fault, status, rid)
    LOG.exception("%s: CloudWatch pipeline failed", rid)
    return error_response(start_response, "InternalFailure",
                          "The request processing has failed because of an unknown error; "
                          "see the API log for " + rid, "Receiver", 500, rid)


def filter_factory(global_conf: dict[str, str], **local_conf: str) -> Callable[[WSGIApp], FaultWrap]:
    return FaultWrap
