"""Structure-aware protobuf mutators: valid wire framing, hostile content.

Each takes a random source and a request (left unchanged) and returns the bytes of a
mutated copy, changed through the protobuf message API: extreme scalars, ids of the
wrong length, missing resources, huge attribute and span counts, deeply nested
``AnyValue``s, duplicate keys, unknown fields, and strings whose bytes are not UTF-8
(patched into the encoding, since the message API refuses to build them).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Final

from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from tests.fuzz.seeds import Request, spans_of

ProtoMutator = Callable[[random.Random, Request], bytes]

EXTREME_U64: Final = (0, 1, 2**31, 2**32 - 1, 2**62, 2**63 - 1, 2**63, 2**64 - 1)
EXTREME_I32: Final = (-(2**31), -1, 0, 7, 2**31 - 1)
MARKER: Final = "\x01FUZZ-MARKER\x01"
"""A string patched into invalid UTF-8 after encoding (same length keeps framing valid)."""
BAD_UTF8: Final = (b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82")


def _copy(request: Request) -> Request:
    out = Request()
    out.CopyFrom(request)
    return out


def _span(rng: random.Random, request: Request) -> trace_pb2.Span:
    spans = spans_of(request)
    if not spans:
        return request.resource_spans.add().scope_spans.add().spans.add()
    return rng.choice(spans)


def extreme_scalars(rng: random.Random, request: Request) -> bytes:
    """Times, kinds, flags and dropped counts at their limits."""
    out = _copy(request)
    span = _span(rng, out)
    span.start_time_unix_nano = rng.choice(EXTREME_U64)
    span.end_time_unix_nano = rng.choice(EXTREME_U64)
    span.kind = rng.choice(EXTREME_I32)  # type: ignore[assignment]
    span.flags = rng.choice((0, 2**32 - 1, 0x300))
    span.dropped_attributes_count = rng.choice((0, 2**32 - 1))
    span.status.code = rng.choice(EXTREME_I32)  # type: ignore[assignment]
    for event in span.events:
        event.time_unix_nano = rng.choice(EXTREME_U64)
    return out.SerializeToString()


def wrong_ids(rng: random.Random, request: Request) -> bytes:
    """Trace, span and parent ids of the wrong length (empty to 100 bytes)."""
    out = _copy(request)
    for span in spans_of(out):
        if rng.random() < 0.5:
            span.trace_id = rng.randbytes(rng.choice((0, 1, 8, 15, 17, 100)))
        if rng.random() < 0.5:
            span.span_id = rng.randbytes(rng.choice((0, 1, 7, 9, 16, 100)))
        if rng.random() < 0.3:
            span.parent_span_id = span.span_id if rng.random() < 0.5 else rng.randbytes(3)
    return out.SerializeToString()


def missing_parts(rng: random.Random, request: Request) -> bytes:
    """No resource, empty scopes, empty spans, empty names."""
    out = _copy(request)
    choice = rng.randrange(4)
    for resource in out.resource_spans:
        if choice == 0:
            resource.ClearField("resource")
        elif choice == 1:
            resource.scope_spans.add()
            resource.scope_spans.add().spans.add()
        elif choice == 2:
            for span in spans_of(out):
                span.name = ""
                span.ClearField("trace_id")
        else:
            del resource.scope_spans[:]
    if rng.random() < 0.3:
        out.resource_spans.add()
    return out.SerializeToString()


def huge_counts(rng: random.Random, request: Request) -> bytes:
    """Thousands of attributes, events, links or (empty) spans."""
    out = _copy(request)
    span = _span(rng, out)
    count = rng.choice((1_000, 5_000, 20_000))
    what = rng.randrange(4)
    if what == 0:
        for i in range(count):
            span.attributes.add(key=f"k{i}", value=common_pb2.AnyValue(int_value=i))
    elif what == 1:
        for i in range(count // 10):
            span.events.add(name=f"e{i}", time_unix_nano=i)
    elif what == 2:
        for _ in range(count // 10):
            span.links.add(trace_id=span.trace_id, span_id=rng.randbytes(8))
    else:
        scope = out.resource_spans[0].scope_spans[0]
        for i in range(count // 4):
            scope.spans.add(trace_id=span.trace_id, span_id=i.to_bytes(8, "big"), name="s")
    return out.SerializeToString()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _nested(depth: int, kvlist: bool) -> bytes:
    """An ``AnyValue`` nested ``depth`` levels, encoded by hand (the message API refuses
    to build past its recursion limit)."""
    value = _field(1, b"leaf")  # AnyValue.string_value
    for _ in range(depth):
        if kvlist:  # AnyValue.kvlist_value -> KeyValueList.values -> KeyValue{key, value}
            value = _field(6, _field(1, _field(1, b"k") + _field(2, value)))
        else:  # AnyValue.array_value -> ArrayValue.values
            value = _field(5, _field(1, value))
    return value


def deep_values(rng: random.Random, request: Request) -> bytes:
    """A copy of a span, in a resource of its own, with an attribute nested 20-200
    levels (past protobuf's recursion limit of 100 sometimes)."""
    spans = spans_of(request)
    span = rng.choice(spans) if spans else trace_pb2.Span()
    key = rng.choice([kv.key for kv in span.attributes] or ["deep"]).encode()
    deep = _nested(rng.randint(20, 200), rng.random() < 0.5)
    span_bytes = span.SerializeToString() + _field(9, _field(1, key) + _field(2, deep))
    resource = request.resource_spans[0].resource if request.resource_spans else None
    resource_bytes = _field(1, resource.SerializeToString()) if resource is not None else b""
    return request.SerializeToString() + _field(
        1, resource_bytes + _field(2, _field(2, span_bytes))
    )


def duplicate_keys(rng: random.Random, request: Request) -> bytes:
    """Every attribute of a span repeated with values of other types."""
    out = _copy(request)
    span = _span(rng, out)
    for kv in list(span.attributes):
        span.attributes.add(key=kv.key, value=common_pb2.AnyValue(int_value=rng.randrange(-9, 9)))
        span.attributes.add(key=kv.key, value=common_pb2.AnyValue(bool_value=True))
    return out.SerializeToString()


def _place_marker(rng: random.Random, out: Request, span: trace_pb2.Span) -> None:
    """Put ``MARKER`` in one of the string fields of a request."""
    scope = out.resource_spans[0].scope_spans[0] if out.resource_spans else None
    where = rng.randrange(10)
    if where == 0:
        span.name = MARKER
    elif where == 1:
        span.attributes.add(key=MARKER, value=common_pb2.AnyValue(string_value="v"))
    elif where == 2 and span.attributes:
        rng.choice(span.attributes).value.string_value = MARKER
    elif where == 3 and span.events:
        rng.choice(span.events).name = MARKER
    elif where == 4 and span.events:
        event = rng.choice(span.events)
        event.attributes.add(key="k", value=common_pb2.AnyValue(string_value=MARKER))
    elif where == 5 and scope is not None:
        scope.scope.name = MARKER
    elif where == 6 and scope is not None:
        scope.scope.version = MARKER
    elif where == 7:
        span.status.message = MARKER
    elif where == 8 and out.resource_spans:
        out.resource_spans[0].schema_url = MARKER
    else:
        out.resource_spans[0].resource.attributes.add(
            key="service.name", value=common_pb2.AnyValue(string_value=MARKER)
        )


def invalid_utf8(rng: random.Random, request: Request) -> bytes:
    """A string that is not UTF-8: span name, attribute key or value, event name or
    attribute, scope name or version, status message, schema URL or resource attribute."""
    out = _copy(request)
    _place_marker(rng, out, _span(rng, out))
    data = out.SerializeToString()
    marker = MARKER.encode()
    bad = rng.choice(BAD_UTF8)
    return data.replace(marker, (bad * len(marker))[: len(marker)], 1)


def unknown_fields(rng: random.Random, request: Request) -> bytes:
    """Unknown fields appended at the top level and inside the first resource's bytes."""
    extra = bytes([(rng.randint(16, 2000) << 3 | 2) & 0x7F, 3]) + b"abc"
    extra += bytes([(rng.randint(16, 120) << 3) & 0x7F | 0x80, 1, 0x96, 0x01])
    return request.SerializeToString() + extra


PROTO_MUTATORS: Final[dict[str, ProtoMutator]] = {
    "extreme_scalars": extreme_scalars,
    "wrong_ids": wrong_ids,
    "missing_parts": missing_parts,
    "huge_counts": huge_counts,
    "deep_values": deep_values,
    "duplicate_keys": duplicate_keys,
    "invalid_utf8": invalid_utf8,
    "unknown_fields": unknown_fields,
}
