"""A response filter that makes Heat's CFN API readable by today's AWS SDKs.

Heat's CFN API writes a value it does not have as the literal text
``None``: ``<LastUpdatedTime>None</LastUpdatedTime>`` for a stack never
updated, ``<DeletionTime>None</DeletionTime>`` for one not deleted,
``<TimeoutInMinutes>None</TimeoutInMinutes>`` for one without a timeout.
CloudFormation leaves such elements out, and botocore fails to parse them
as timestamps, integers or booleans, so boto3's ``list_stacks`` and
``describe_stacks`` break on ordinary stacks. This filter drops exactly
those elements: the typed ones (``*Time``, ``*Timestamp``,
``TimeoutInMinutes``, ``DisableRollback``) whose whole text is ``None``.
Strings such as an output whose value happens to be "None" are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_NONE_TYPED_VALUE = re.compile(
    rb"<(\w*(?:Time|Timestamp)|TimeoutInMinutes|DisableRollback)>None</\1>")


def drop_none_typed_values(body: bytes) -> bytes:
    return _NONE_TYPED_VALUE.sub(b"", body)


class NoneValueFilter:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers, exc_info=exc_info)
            return lambda data: None  # the legacy write() callable; Heat never uses it

        chunks = self.app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        headers = captured["headers"]
        if any(k.lower() == "content-type" and "xml" in v for k, v in headers):
            body = drop_none_typed_values(body)
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
        start_response(captured["status"], headers, captured["exc_info"])
        return [body]


def filter_factory(global_conf: dict[str, Any], **local_conf: Any) -> Callable[[WSGIApp], WSGIApp]:
    """Paste filter factory for ``[filter:cfnnonevalues]``."""
    return NoneValueFilter
