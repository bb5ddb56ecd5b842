"""Raw Query-protocol request -> flat parameters -> nested parameter tree.

AWS Query requests carry ``Action=...&Version=...`` plus flattened
parameters such as ``MetricData.member.1.Dimensions.member.2.Name`` either
in the query string (GET) or in a form-encoded body (POST). This module
only reads and splits them; what each action accepts lives in ``requests``.
"""

from __future__ import annotations

import re
import urllib.parse
import zlib
from collections.abc import Mapping
from typing import Any, Union

from heat_wsgi.cw.errors import CloudWatchError

# AWS limits a POST body to 1 MB (PutMetricData's documented request size).
MAX_BODY_BYTES = 1024 * 1024
# A query string longer than this is refused before it is parsed. GETs are for
# small requests; anything big should be POSTed.
MAX_QUERY_BYTES = 32 * 1024
# botocore gzips PutMetricData bodies over 10 KB (the operation's
# requestcompression trait), as AWS allows. The inflated body may be larger
# than the wire limit, but not unboundedly: this guards against gzip bombs.
MAX_INFLATED_BYTES = 8 * 1024 * 1024
# How much of an oversized body is read and thrown away before answering 413,
# so the client sees the error document instead of a reset connection.
DRAIN_LIMIT_BYTES = 16 * 1024 * 1024

FORM_TYPE = "application/x-www-form-urlencoded"

# Signature Version 2 parameters, sent by boto and pre-signed URLs. They are
# for the auth middleware in front (ec2authtoken), never for an action.
AUTH_PARAMS = frozenset({"AWSAccessKeyId", "Signature", "SignatureMethod",
                         "SignatureVersion", "Timestamp", "Expires", "SecurityToken"})

Tree = dict[str, Union[str, "Tree"]]

_SEGMENT = re.compile(r"[A-Za-z0-9_]+")


def read_params(environ: Mapping[str, Any]) -> dict[str, str]:
    """All parameters of one request: the query string, plus the form body
    of a POST. A name given twice is refused, since AWS would have to guess."""
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    if method not in ("GET", "POST"):
        raise CloudWatchError("InvalidAction",
                              f"HTTP method: must be GET or POST (got {method!r})")
    query = str(environ.get("QUERY_STRING", ""))
    if len(query) > MAX_QUERY_BYTES:
        raise CloudWatchError("RequestEntityTooLarge",
                              f"query string: must be at most {MAX_QUERY_BYTES} bytes "
                              f"(got {len(query)}); POST large requests")
    pairs = _parse_pairs(query, "query string")
    if method == "POST":
        pairs += _parse_pairs(_read_form_body(environ), "request body")
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise CloudWatchError("InvalidQueryParameter",
                                  f"{name}: must be given once (got it twice)")
        params[name] = value
    return params


def _read_form_body(environ: Mapping[str, Any]) -> str:
    ctype = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
    length_text = str(environ.get("CONTENT_LENGTH") or "").strip()
    stream = environ.get("wsgi.input")
    try:
        length = int(length_text) if length_text else None
    except ValueError:
        raise CloudWatchError("MalformedQueryString",
                              f"Content-Length: must be an integer (got {length_text!r})") from None
    if length is not None and length > MAX_BODY_BYTES:
        _drain(stream, length)
        raise CloudWatchError("RequestEntityTooLarge",
                              f"request body: must be at most {MAX_BODY_BYTES} bytes "
                              f"(got {length})")
    chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
    if stream is None or length == 0:
        raw = b""
    elif length is None and not (chunked or environ.get("wsgi.input_terminated")):
        # No length and no chunking: HTTP says there is no body, and some
        # servers would block reading one.
        raw = b""
    elif length is None:
        # Chunked upload: read one byte past the limit to tell "exactly the
        # limit" from "too big".
        raw = stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise CloudWatchError("RequestEntityTooLarge",
                                  f"request body: must be at most {MAX_BODY_BYTES} bytes "
                                  f"(got more)")
    else:
        raw = stream.read(length)
    raw = _decode_content(raw, str(environ.get("HTTP_CONTENT_ENCODING", "")))
    if raw and ctype != FORM_TYPE:
        raise CloudWatchError(
            "InvalidQueryParameter",
            f"Content-Type: this endpoint speaks the AWS Query protocol, a POST body "
            f"must be {FORM_TYPE} (got {ctype or 'none'!r})")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CloudWatchError("MalformedQueryString",
                              f"request body: must be UTF-8 ({exc.reason} at byte {exc.start})") from None


def _decode_content(raw: bytes, encoding_header: str) -> bytes:
    encodings = [e.strip().lower() for e in encoding_header.split(",") if e.strip()]
    for encoding in reversed(encodings):  # applied in order, so undone in reverse
        if encoding == "identity":
            continue
        if encoding != "gzip":
            raise CloudWatchError("InvalidQueryParameter",
                                  f"Content-Encoding: must be gzip or identity (got {encoding!r})")
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, MAX_INFLATED_BYTES + 1)
        except zlib.error as exc:
            raise CloudWatchError("MalformedQueryString",
                                  f"request body: must be valid gzip ({exc})") from None
        if len(raw) > MAX_INFLATED_BYTES or inflater.unconsumed_tail:
            raise CloudWatchError("RequestEntityTooLarge",
                                  f"request body: must inflate to at most {MAX_INFLATED_BYTES} "
                                  f"bytes (got more)")
    return raw


def _drain(stream: Any, length: int) -> None:
    if stream is None:
        return
    left = min(length, DRAIN_LIMIT_BYTES)
    while left > 0:
        chunk = stream.read(min(left, 65536))
        if not chunk:
            return
        left -= len(chunk)


def _parse_pairs(text: str, where: str) -> list[tuple[str, str]]:
    try:
        return urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                                      encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise CloudWatchError("MalformedQueryString",
                              f"{where}: must be UTF-8 form encoding ({exc})") from None


def build_tree(params: Mapping[str, str]) -> Tree:
    """``{"A.member.1.B": "x"}`` -> ``{"A": {"member": {"1": {"B": "x"}}}}``.

    A name that is both a value and a prefix of another name
    (``X=1&X.Y=2``) is refused: no shape can hold both.
    """
    tree: Tree = {}
    for name in sorted(params):
        parts = name.split(".")
        if not all(_SEGMENT.fullmatch(part) for part in parts):
            raise CloudWatchError("InvalidQueryParameter",
                                  f"{name}: is not a parameter name (dot-separated words)")
        node = tree
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if isinstance(child, str):
                prefix = ".".join(parts[:depth + 1])
                raise CloudWatchError("InvalidQueryParameter",
                                      f"{name}: {prefix} is also given a value of its own")
            node = child
        last = parts[-1]
        if last in node:
            raise CloudWatchError("InvalidQueryParameter",
                                  f"{name}: is also the prefix of other parameters")
        node[last] = params[name]
    return tree
