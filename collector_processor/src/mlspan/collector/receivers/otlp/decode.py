"""Turns an OTLP/HTTP request body into OTLP protobuf bytes, within a size limit.

- Content encodings ``gzip`` and ``deflate`` are inflated incrementally and stopped as
  soon as the output passes the limit, so a small compressed body cannot expand into
  gigabytes (a "zip bomb").
- JSON follows the OTLP/JSON rules: trace and span ids are hex strings (protobuf's JSON
  mapping would expect base64), enums may be integers, 64-bit integers may be strings,
  lowerCamelCase and original snake_case field names are both accepted, and unknown
  fields are ignored. The document is converted to protobuf bytes once, so the rest of
  the pipeline only ever sees protobuf.
- Unknown fields are removed by a walk along the schema before protobuf's JSON parser
  runs in strict mode: its lenient mode would also ignore a wrong shape (an object
  given as a string parses as an empty object) or an unknown enum name, so such bodies
  would be accepted with their content silently lost.
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
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
SUPPORTED_TYPES: Final = frozenset({PROTOBUF, JSON})
SUPPORTED_ENCODINGS: Final = frozenset({"", "identity", "gzip", "deflate"})
_ID_BYTES: Final = {"trace_id": 16, "span_id": 8, "parent_span_id": 8}
"""Bytes of the OTLP ids, which OTLP/JSON spells in hex: empty (absent) or exactly this."""
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
        request = trace_service_pb2.ExportTraceServiceRequest()
        _prepare(document, request.DESCRIPTOR)
        json_format.ParseDict(document, request)
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


def _prepare(document: dict[str, Any], descriptor: Descriptor) -> None:
    """Make ``document`` ready for protobuf's strict JSON parser: drop unknown keys
    (OTLP/JSON ignores them), turn hex ids into base64, and refuse what the parser would
    quietly change (an enum given as a fraction, which it truncates). Iterative, so
    nesting as deep as the JSON parser allows cannot exhaust the stack here; values of a
    wrong type are left for the parser, which names them."""
    pending: list[tuple[Any, Descriptor]] = [(document, descriptor)]
    while pending:
        message, message_type = pending.pop()
        if not isinstance(message, dict):
            continue
        for key in list(message):
            field = message_type.fields_by_camelcase_name.get(key)
            if field is None:
                field = message_type.fields_by_name.get(key)
            if field is None:
                del message[key]
                continue
            value = message[key]
            if field.is_repeated and not isinstance(value, list) and value is not None:
                raise DecodeFailure(f"'{key}' must be an array")
            if field.message_type is not None:
                children = value if field.is_repeated and isinstance(value, list) else [value]
                pending.extend((child, field.message_type) for child in children)
            elif field.type == FieldDescriptor.TYPE_BYTES and field.name in _ID_BYTES:
                message[key] = _id_to_base64(key, value, _ID_BYTES[field.name])
            elif field.type == FieldDescriptor.TYPE_ENUM and not _enum_literal(value):
                raise DecodeFailure(f"'{key}' must be an enum name or an integer: {value!r:.40}")


def _enum_literal(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    return not isinstance(value, bool)


def _id_to_base64(key: str, value: Any, size: int) -> str:
    if not isinstance(value, str):
        raise DecodeFailure(f"'{key}' must be a hex string")
    if len(value) not in (0, 2 * size):
        digits = f"{2 * size} hex digits, not {len(value)}"
        raise DecodeFailure(f"'{key}' must be {digits}: {value!r:.40}")
    try:
        raw = bytes.fromhex(value)
        if len(raw) * 2 != len(value):  # fromhex skips whitespace
            raise ValueError(value)
    except ValueError:
        raise DecodeFailure(f"'{key}' is not hex: {value!r:.40}") from None
    return base64.b64encode(raw).decode("ascii")
