"""Split an OTLP ``ExportTraceServiceRequest`` into requests of at most a byte budget.

A collector may accept larger requests than the next hop does (mlspan takes 16 MiB; gRPC
servers refuse more than 4 MiB by default, as Jaeger, the OpenTelemetry Collector and
Phoenix do). ``split_request`` cuts a request at span boundaries into parts whose
serialized size is at most ``max_bytes``. Each part repeats the resource and the
instrumentation scope of the spans it carries (every field of ``ResourceSpans`` and
``ScopeSpans`` but their span lists, byte for byte), so a backend sees each span with
the same resource and scope as before; spans keep their order, and resources or scopes
without spans are left out.

It works on the protobuf wire format: spans are sliced out of the request, never parsed
or re-encoded, and sizes are exact. A span that does not fit in a part even alone is
left out and counted (``Split.dropped_spans``): no budget can ever carry it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

_LEN: Final = 2
"""Wire type of length-delimited fields (strings, bytes, messages)."""
_REQUEST_RESOURCES: Final = 1
"""``ExportTraceServiceRequest.resource_spans``."""
_RESOURCE_SCOPES: Final = 2
"""``ResourceSpans.scope_spans``."""
_SCOPE_SPANS: Final = 2
"""``ScopeSpans.spans``."""
_TAGS: Final = {number: bytes([number << 3 | _LEN]) for number in (1, 2)}
"""One-byte tags of the length-delimited fields 1 and 2."""

Chunks = list[memoryview | bytes]


class WireFormatError(ValueError):
    """The bytes are not a well-formed protobuf message."""


@dataclass(frozen=True)
class Part:
    """One request of the split: its bytes and how many spans it carries."""

    raw: bytes
    span_count: int


@dataclass(frozen=True)
class Split:
    """The parts, in order, and the spans too large for any part."""

    parts: list[Part]
    dropped_spans: int = 0
    largest_dropped: int = 0
    """Encoded size in bytes of the largest span left out."""


def split_request(raw: bytes, max_bytes: int) -> Split:
    """``raw`` cut into requests of at most ``max_bytes`` bytes each.

    Raises ``WireFormatError`` when ``raw`` is not a well-formed protobuf message.
    """
    prefix, resources = _fields(memoryview(raw), _REQUEST_RESOURCES)
    packer = _Packer(max_bytes, prefix)
    for resource in resources:
        resource_header, scopes = _fields(resource, _RESOURCE_SCOPES)
        packer.open_resource(resource_header)
        for scope in scopes:
            scope_header, spans = _fields(scope, _SCOPE_SPANS)
            packer.open_scope(scope_header)
            for span in spans:
                packer.add(span)
    return packer.finish()


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    result = shift = 0
    end = len(data)
    while pos < end and shift < 64:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
    raise WireFormatError("truncated or overlong varint")


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _embedded(length: int) -> int:
    """Bytes a field 1 or 2 with a payload of ``length`` bytes takes (tag, length, payload)."""
    return 1 + len(_encode_varint(length)) + length


def _fields(data: memoryview, child: int) -> tuple[list[memoryview], list[memoryview]]:
    """The message's other fields (tag and value, as they are) and the payloads of its
    length-delimited field number ``child``, each in order."""
    header: list[memoryview] = []
    children: list[memoryview] = []
    pos = 0
    end = len(data)
    while pos < end:
        start = pos
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            pos = _varint(data, pos)[1]
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == _LEN:
            length, pos = _varint(data, pos)
            if number == child and pos + length <= end:
                children.append(data[pos : pos + length])
                pos += length
                continue
            pos += length
        else:
            raise WireFormatError(f"unsupported wire type {wire}")
        if pos > end:
            break
        header.append(data[start:pos])
    if pos != end:
        raise WireFormatError("truncated message")
    return header, children


def _size(chunks: Chunks) -> int:
    return sum(len(chunk) for chunk in chunks)


def _embed(number: int, payload: Chunks) -> Chunks:
    return [_TAGS[number], _encode_varint(_size(payload)), *payload]


class _Packer:
    """Fills parts span by span. The size of the part being filled is kept in three
    numbers (everything before its last resource; that resource's payload before its
    last scope; that scope's payload), so checking whether a span fits is arithmetic."""

    def __init__(self, max_bytes: int, prefix: list[memoryview]) -> None:
        self._max = max_bytes
        self._prefix: Chunks = list(prefix)
        self._prefix_size = _size(self._prefix)
        self.parts: list[Part] = []
        self._dropped = 0
        self._largest = 0
        self._resource_header: Chunks = []
        self._scope_header: Chunks = []
        self._resource_header_size = self._scope_header_size = 0
        self._reset()

    def _reset(self) -> None:
        self._resources: list[tuple[Chunks, list[tuple[Chunks, Chunks]]]] = []
        self._count = 0
        self._closed = self._prefix_size
        """Bytes of the part before its open resource."""
        self._resource_closed = 0
        """Payload bytes of the open resource before its open scope."""
        self._scope_size = 0
        """Payload bytes of the open scope."""
        self._resource_open = self._scope_open = False

    def open_resource(self, header: list[memoryview]) -> None:
        """The spans that follow belong to a new resource with this header."""
        if self._resource_open:
            self._closed += _embedded(self._resource_payload())
        self._resource_header = list(header)
        self._resource_header_size = _size(self._resource_header)
        self._resource_open = self._scope_open = False

    def open_scope(self, header: list[memoryview]) -> None:
        """The spans that follow belong to a new scope with this header."""
        if self._scope_open:
            self._resource_closed += _embedded(self._scope_size)
        self._scope_header = list(header)
        self._scope_header_size = _size(self._scope_header)
        self._scope_open = False

    def _resource_payload(self) -> int:
        scope = _embedded(self._scope_size) if self._scope_open else 0
        return self._resource_closed + scope

    def _size_with(self, cost: int) -> int:
        """Bytes of the part with one more span of ``cost`` encoded bytes."""
        scope = (self._scope_size if self._scope_open else self._scope_header_size) + cost
        resource = self._resource_closed if self._resource_open else self._resource_header_size
        return self._closed + _embedded(resource + _embedded(scope))

    def add(self, span: memoryview) -> None:
        """Put a span in the current part, or in a new one, or count it as too large."""
        cost = _embedded(len(span))
        if self._size_with(cost) > self._max:
            if self._count:
                self._flush()
            if self._size_with(cost) > self._max:
                self._dropped += 1
                self._largest = max(self._largest, len(span))
                return
        if not self._resource_open:
            self._resources.append((self._resource_header, []))
            self._resource_closed = self._resource_header_size
            self._resource_open = True
        if not self._scope_open:
            self._resources[-1][1].append((self._scope_header, []))
            self._scope_size = self._scope_header_size
            self._scope_open = True
        self._resources[-1][1][-1][1].append(span)
        self._scope_size += cost
        self._count += 1

    def _flush(self) -> None:
        chunks: Chunks = list(self._prefix)
        for resource_header, scopes in self._resources:
            resource: Chunks = list(resource_header)
            for scope_header, spans in scopes:
                scope: Chunks = list(scope_header)
                for span in spans:
                    scope += _embed(_SCOPE_SPANS, [span])
                resource += _embed(_RESOURCE_SCOPES, scope)
            chunks += _embed(_REQUEST_RESOURCES, resource)
        self.parts.append(Part(b"".join(chunks), self._count))
        self._reset()

    def finish(self) -> Split:
        """Every part, the last one included."""
        if self._count:
            self._flush()
        return Split(self.parts, self._dropped, self._largest)
