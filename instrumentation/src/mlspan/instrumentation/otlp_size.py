"""Upper bounds of the OTLP protobuf size of spans, cheap enough to compute for every span.

Encoding a 64-feature ``fit`` span (65 summary events) takes milliseconds; summing the
lengths of its strings takes a small fraction of that. The bounds here follow the wire
format of ``opentelemetry.proto.trace.v1`` exactly where it is cheap (string lengths and
their varint prefixes) and round up where exactness would cost (every integer is counted
as a 10-byte varint, every dropped-count field as present, every message length prefix
of a resource or scope group as 5 bytes). A test checks the bound against the real
encoder (``encode_spans(...).ByteSize()``) on varied spans.

``span_bytes`` bounds one span as it sits inside a ``ScopeSpans`` message (its field tag
and length prefix included); ``group_bytes`` bounds the ``ResourceSpans`` and
``ScopeSpans`` wrapping a request adds for each distinct resource and instrumentation
scope. A request's size is at most the sum of both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

_ID_FIELDS: Final = 18 + 10 + 10
"""trace_id (tag, length, 16 bytes), span_id and parent_span_id (tag, length, 8 bytes)."""
_SPAN_FIXED: Final = _ID_FIELDS + 2 + 9 + 9 + 3 * 6 + 6
"""ids, kind (tag + enum), start and end (tag + fixed64), three dropped counts (tag +
uint32 varint), flags (two-byte tag + fixed32)."""
_EVENT_FIXED: Final = 9 + 6
"""time_unix_nano (tag + fixed64) and dropped_attributes_count."""
_LINK_FIXED: Final = 18 + 10 + 6 + 5
"""trace_id, span_id, dropped_attributes_count, flags (tag + fixed32)."""
_STATUS_FIXED: Final = 2
"""code (tag + enum)."""
_GROUP_PREFIX: Final = 1 + 5
"""Tag and a length prefix of at most 5 bytes (messages under 32 GiB)."""
_INT_VALUE: Final = 1 + 10
"""An ``int_value``: tag and a varint of at most 10 bytes (negative int64)."""
_ENTRY_SLACK: Final = 17
"""Bytes of a ``KeyValue`` entry besides its key and its string's bytes (see
``attributes_bytes``)."""
_SHORT_PREFIXES: Final = 0x1F0000
"""Strings shorter than this have three varint prefixes of at most 3 bytes each."""


def varint_bytes(value: int) -> int:
    """Bytes of ``value`` (>= 0) as a protobuf varint."""
    if value < 0x80:
        return 1
    if value < 0x4000:
        return 2
    if value < 0x200000:
        return 3
    if value < 0x10000000:
        return 4
    return (value.bit_length() + 6) // 7


def text_bytes(text: str) -> int:
    """UTF-8 length of ``text``; ``isascii`` is a flag check in CPython, so ASCII is free."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _field(content: int) -> int:
    """A length-delimited field with a one-byte tag around ``content`` bytes."""
    return 1 + varint_bytes(content) + content


def value_bytes(value: object) -> int:
    """Bytes of the ``AnyValue`` message encoding ``value`` (its content, no prefix).

    Mirrors the exporter's type dispatch: bool before int, str and bytes before other
    sequences; a type the exporter cannot encode is skipped by it, so it counts 0 here.
    """
    kind = type(value)
    if kind is str:
        return _field(text_bytes(value))  # type: ignore[arg-type]
    if kind is float:
        return 9
    if kind is bool:
        return 2
    if kind is int:
        return _INT_VALUE
    if value is None:
        return 0
    if isinstance(value, bool):
        return 2
    if isinstance(value, str):
        return _field(text_bytes(value))
    if isinstance(value, int):
        return _INT_VALUE
    if isinstance(value, float):
        return 9
    if isinstance(value, bytes):
        return _field(len(value))
    if isinstance(value, Sequence):
        return _field(sum(_field(value_bytes(item)) for item in value))
    if isinstance(value, Mapping):
        return _field(attributes_bytes(value))
    return 0


def _plain(attributes: Mapping[str, Any]) -> Mapping[str, Any]:
    """The dict behind the SDK's ``BoundedAttributes`` when there is one.

    Iterating ``BoundedAttributes.items()`` goes through ``Mapping``'s Python-level view
    and ``__getitem__`` per item, which costs more than the whole estimate; its backing
    dict is read directly when present (any other mapping is iterated as it is).
    """
    backing = getattr(attributes, "_dict", None)
    return backing if type(backing) is dict else attributes


def attributes_bytes(attributes: Mapping[str, Any] | None) -> int:
    """Bytes of a repeated ``KeyValue`` field holding ``attributes`` (tags included).

    One entry with a key of K <= 100 ASCII bytes and a value whose ``AnyValue`` holds V
    bytes is ``1 + varint(E) + E`` with ``E = (1 + 1 + K) + (1 + varint(V) + V)``: at
    most K + 15 for a float, K + 17 for an int (a negative one is a 10-byte varint),
    K + 8 for a bool, and K + L + 6 + three varint prefixes for a string of L bytes
    (at most K + L + 10 under 2 MiB). So every entry is counted as K + 17 plus its
    string's bytes, or plus its exact array or map size and two prefixes; longer or
    non-ASCII keys are counted exactly. The loops that remain run in C except one
    pass over the values.
    """
    if not attributes:
        return 0
    plain = _plain(attributes)
    total = _ENTRY_SLACK * len(plain) + sum(map(len, plain))
    if total > 100 * len(plain) and max(map(len, plain)) > 100:
        return sum(_entry_bytes(key, value) for key, value in plain.items())
    if not all(map(str.isascii, plain)):
        return sum(_entry_bytes(key, value) for key, value in plain.items())
    for value in plain.values():
        kind = value.__class__
        if kind is str:
            length = len(value) if value.isascii() else text_bytes(value)
            total += length if length < _SHORT_PREFIXES else length + 3 * varint_bytes(length)
        elif kind is not float and kind is not int and kind is not bool:
            inner = value_bytes(value)
            total += inner + 2 * varint_bytes(inner + 120)
    return total


def _entry_bytes(key: str, value: object) -> int:
    """Exact bytes of one ``KeyValue`` entry as a field (tag and length prefix included)."""
    inner = value_bytes(value)
    return _field(_field(text_bytes(key)) + _field(inner))


def event_bytes(name: str, attributes: Mapping[str, Any] | None) -> int:
    """Bytes of one span event (as a field of its span: tag and length prefix included)."""
    return _field(_EVENT_FIXED + _field(text_bytes(name)) + attributes_bytes(attributes))


def _trace_state_bytes(trace_state: Any) -> int:
    if not trace_state:
        return 0
    items = list(trace_state.items())
    length = sum(text_bytes(key) + text_bytes(value) + 2 for key, value in items) - 1
    return _field(length)


def _status_bytes(status: Any) -> int:
    if status is None:
        return 0
    description = getattr(status, "description", None)
    message = _field(text_bytes(description)) if description else 0
    return _field(_STATUS_FIXED + message)


def span_bytes(span: Any) -> int:
    """Bytes of ``span`` (an SDK ``ReadableSpan``) inside a ``ScopeSpans`` message."""
    context = span.get_span_context()
    content = _SPAN_FIXED + _field(text_bytes(span.name or ""))
    content += _trace_state_bytes(getattr(context, "trace_state", None))
    content += attributes_bytes(span.attributes)
    for event in span.events or ():
        content += event_bytes(event.name, event.attributes)
    for link in span.links or ():
        link_content = _LINK_FIXED + attributes_bytes(link.attributes)
        link_content += _trace_state_bytes(getattr(link.context, "trace_state", None))
        content += _field(link_content)
    content += _status_bytes(span.status)
    return _field(content)


def resource_group_bytes(resource: Any) -> int:
    """Bytes a ``ResourceSpans`` wrapper for ``resource`` adds (its scopes not included)."""
    if resource is None:
        return _GROUP_PREFIX + 2
    schema = getattr(resource, "schema_url", "") or ""
    message = _field(attributes_bytes(resource.attributes) + 6)  # + dropped_attributes_count
    return _GROUP_PREFIX + message + (_field(text_bytes(schema)) if schema else 0)


def scope_group_bytes(scope: Any) -> int:
    """Bytes a ``ScopeSpans`` wrapper for instrumentation ``scope`` adds (spans not included)."""
    if scope is None:
        return _GROUP_PREFIX + 2
    name = getattr(scope, "name", "") or ""
    version = getattr(scope, "version", "") or ""
    schema = getattr(scope, "schema_url", "") or ""
    content = _field(text_bytes(name)) + _field(text_bytes(version)) + 6
    content += attributes_bytes(getattr(scope, "attributes", None))
    return _GROUP_PREFIX + _field(content) + (_field(text_bytes(schema)) if schema else 0)


def request_bytes(spans: Iterable[Any]) -> int:
    """An upper bound of the encoded ``ExportTraceServiceRequest`` holding ``spans``."""
    total = 0
    resources: set[int] = set()
    scopes: set[tuple[int, int]] = set()
    for span in spans:
        resource, scope = span.resource, span.instrumentation_scope
        if id(resource) not in resources:
            resources.add(id(resource))
            total += resource_group_bytes(resource)
        if (id(resource), id(scope)) not in scopes:
            scopes.add((id(resource), id(scope)))
            total += scope_group_bytes(scope)
        total += span_bytes(span)
    return total
