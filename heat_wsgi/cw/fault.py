"""Paste filter: whatever fails in the pipeline becomes an AWS error document.

The app itself already answers its own errors in AWS form. This filter is
for the middleware in front of it: ec2authtoken raises Heat's AWS
exceptions (webob errors with an AWS code in ``title``), and anything else
that escapes becomes InternalFailure instead of an empty response.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from heat_wsgi.cw.app import StartResponse, error_response, request_id

LOG = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class FaultWrap:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            return self.app(environ, start_response)
        except Exception as exc:
            rid = request_id(environ)
            status = getattr(exc, "code", None)
            code = getattr(exc, "title", None)
            if isinstance(status, int) and 400 <= status < 600 and isinstance(code, str):
                # heat.api.aws.exception.HeatAPIException and friends.
                explanation = str(getattr(exc, "explanation", "") or code)
                detail = getattr(exc, "detail", None)
                message = f"{explanation}: {detail}" if detail else explanation
                fault = str(getattr(exc, "err_type", "Sender"))
                LOG.info("%s: %s %s", rid, code, message)
                return error_response(start_response, code.replace(" ", ""), message, fault,
                                      status, rid)
            LOG.exception("%s: CloudWatch pipeline failed", rid)
            return error_response(start_response, "InternalFailure",
                                  "The request processing has failed because of an unknown "
                                  "error; see the API log for " + rid, "Receiver", 500, rid)


def filter_factory(global_conf: dict[str, str], **local_conf: str) -> Callable[[WSGIApp], FaultWrap]:
    return FaultWrap
