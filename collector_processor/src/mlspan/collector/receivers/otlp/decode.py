"""Turns an OTLP/HTTP request body into OTLP protobuf bytes, within a size limit.

- Content encodings ``gzip`` and ``deflate`` are inflated incrementally and stopped as
  soon as the output passes the limit, so a small compressed body cannot expand into
  gigabytes (a "zip bomb").
- JSON follows the OTLP/JSON rules: trace and span ids are hex strings (protobuf's JSON
  mapping would expect base64), enums may be integers, 64-bit integers may be strings,
  lowerCamelCase and original snake_case field names are both accepted, and unknown
  fields are ignored. The document is converted to protobuf bytes once, so the rest of
  the pipeline only ever sees protobuf.
- The body is untrusted: every failure of the JSON parser or of protobuf's JSON mapping
  (invalid UTF-8, wrong shapes or types at any level, nesting past the recursion limit,
  numbers out of range, lone surrogates in keys, which protobuf's C extension reports
  as ``SystemError``) is a ``DecodeFailure``, answered 400, never an internal error.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any, Final

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
SUPPORTED_TYPES: Final = frozenset({PROTOBUF, JSON})
SUPPORTED_ENCODINGS: Final = frozenset({"", "identity", "gzip", "deflate"})
_ID_FIELDS: Final = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")
_ID_HEX_LENGTHS: Final = {"trace": (0, 32), "span": (0, 16)}
"""Hex digits an OTLP/JSON id may have: empty (absent) or exactly 16 or 8 bytes."""
_CHUNK: Final = 64 * 1024


class DecodeFailure(ValueError):
    """The body cannot be decoded (corrupt compression, bad JSON, bad ids)."""


class TooLargeError(ValueError):
    """The decompressed body is over the limit."""


def media_type(content_type: str) -> str:
    """The media type of a Content-Type header, without parameters, lowercased."""
    return content_type.split(";", 1)[0].strip().lower()


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """Inflate ``body`` (gzip, deflate or identity) to at most ``limit`` bytes.

    Raises ``TooLargeError`` past the limit and ``DecodeFailure`` on corrupt input.
    Concatenated gzip members are accepted, as RFC 1952 allows.
    """
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    out = bytearray()
    data = body
    try:
        while True:
            inflater = zlib.decompressobj(wbits)
            pending = data
            while pending:
                out += inflater.decompress(pending, limit + 1 - len(out))
                if len(out) > limit:
                    raise TooLargeError(f"decompressed body over {limit} bytes")
                pending = inflater.unconsumed_tail
                if inflater.eof:
                    break
            if not inflater.eof:
                out += inflater.flush(limit + 1 - len(out))
                if len(out) > limit:
                    raise TooLargeError(f"decompressed body over {limit} bytes")
                if not inflater.eof:
                    raise DecodeFailure(f"truncated {encoding} body")
            data = inflater.unused_data
            if not data or encoding != "gzip":
                break
    except zlib.error as exc:
        raise DecodeFailure(f"corrupt {encoding} body: {exc}") from exc
    return bytes(out)


def json_to_protobuf(body: bytes) -> bytes:
    """An OTLP/JSON ``ExportTraceServiceRequest`` as protobuf bytes; raises
    ``DecodeFailure``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeFailure(f"JSON body is not UTF-8: {exc}") from None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise DecodeFailure(f"invalid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise DecodeFailure("JSON body must be an object")
    try:
        _hex_ids_to_base64(document)
        request = trace_service_pb2.ExportTraceServiceRequest()
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
        return bytes(request.SerializeToString())
    except DecodeFailure:
        raise
    except Exception as exc:  # untrusted input: any failure is the document's
        raise DecodeFailure(f"invalid OTLP/JSON: {_describe(exc)}") from None


def _describe(exc: Exception) -> str:
    if isinstance(exc, (json_format.ParseError, ValueError)):
        return str(exc)
    if isinstance(exc, SystemError):  # upb: a key that is not valid Unicode
        return "a key or value is not valid Unicode"
    return f"{type(exc).__name__}: {exc}"


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    for resource in _items(document, "resourceSpans", "resource_spans"):
        for scope in _items(resource, "scopeSpans", "scope_spans"):
            for span in _items(scope, "spans", "spans"):
                _convert_ids(span)
                for link in _items(span, "links", "links"):
                    _convert_ids(link)


def _items(parent: Any, camel: str, snake: str) -> list[Any]:
    if not isinstance(parent, dict):
        raise DecodeFailure("expected a JSON object")
    value = parent.get(camel, parent.get(snake, []))
    if value is None:
        return []
    if not isinstance(value, list):
        raise DecodeFailure(f"'{camel}' must be an array")
    return value


def _convert_ids(message: Any) -> None:
    if not isinstance(message, dict):
        raise DecodeFailure("expected a JSON object")
    for key in _ID_FIELDS:
        value = message.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise DecodeFailure(f"'{key}' must be a hex string")
        lengths = _ID_HEX_LENGTHS["trace" if key.startswith("trace") else "span"]
        if len(value) not in lengths:
            raise DecodeFailure(
                f"'{key}' must be {lengths[1]} hex digits, not {len(value)}: {value[:40]!r}"
            )
        try:
            raw = bytes.fromhex(value)
            if len(raw) * 2 != len(value):  # fromhex skips whitespace
                raise ValueError(value)
        except ValueError:
            raise DecodeFailure(f"'{key}' is not hex: {value[:40]!r}") from None
        message[key] = base64.b64encode(raw).decode("ascii")
