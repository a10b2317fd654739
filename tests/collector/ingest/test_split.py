"""Splitting OTLP requests to a byte budget: every part fits, every span arrives once, in
order, with its own resource and scope; a span too large for any part is counted."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2

from mlspan.collector.exporters.split import Split, WireFormatError, split_request
from tests.support.spans import key_values, ml_request

Located = tuple[bytes, bytes, str, bytes]
"""A span as a backend sees it: resource, scope, scope schema URL, span."""


def _request(shape: list[list[list[int]]]) -> trace_service_pb2.ExportTraceServiceRequest:
    """Resources of scopes of spans, each span carrying a blob of the given size."""
    request = trace_service_pb2.ExportTraceServiceRequest()
    number = 0
    for r, scopes in enumerate(shape):
        resource = request.resource_spans.add(schema_url=f"https://schemas/{r}")
        resource.resource.attributes.extend(key_values({"service.name": f"svc-{r}"}))
        for s, spans in enumerate(scopes):
            scope = resource.scope_spans.add(schema_url=f"https://scope-schemas/{s}")
            scope.scope.name = f"scope-{r}-{s}"
            scope.scope.version = "1.0"
            for size in spans:
                number += 1
                span = scope.spans.add(
                    trace_id=bytes(15) + b"\x01",
                    span_id=number.to_bytes(8, "big"),
                    name=f"fit {number}",
                )
                span.attributes.append(
                    common_pb2.KeyValue(
                        key="blob", value=common_pb2.AnyValue(string_value="x" * size)
                    )
                )
    return request


def _located(request: trace_service_pb2.ExportTraceServiceRequest) -> list[Located]:
    return [
        (
            resource.resource.SerializeToString() + resource.schema_url.encode(),
            scope.scope.SerializeToString(),
            scope.schema_url,
            span.SerializeToString(),
        )
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]


def _check(request: trace_service_pb2.ExportTraceServiceRequest, budget: int) -> Split:
    """Split and check every promise; returns the split."""
    split = split_request(request.SerializeToString(), budget)
    arrived: list[Located] = []
    for part in split.parts:
        assert len(part.raw) <= budget
        parsed = trace_service_pb2.ExportTraceServiceRequest.FromString(part.raw)
        located = _located(parsed)
        assert len(located) == part.span_count > 0
        arrived += located
    sent = _located(request)
    too_large = [item for item in sent if item not in arrived]
    assert arrived == [item for item in sent if item in arrived]  # order kept, no repeats
    assert len(too_large) == split.dropped_spans
    return split


def test_a_request_that_fits_is_one_part() -> None:
    request = ml_request(20)
    split = _check(request, request.ByteSize())
    assert len(split.parts) == 1
    assert split.dropped_spans == 0


def test_parts_repeat_the_resource_and_scope_of_their_spans() -> None:
    request = _request([[[3000] * 5, [2500] * 4], [[4000] * 3]])
    split = _check(request, 8000)
    assert len(split.parts) > 3
    assert split.dropped_spans == 0


def test_a_span_too_large_for_any_part_is_counted_and_its_neighbours_kept() -> None:
    request = _request([[[100, 50_000, 200, 300]]])
    split = _check(request, 10_000)
    assert split.dropped_spans == 1
    assert 50_000 < split.largest_dropped < 50_100
    assert sum(part.span_count for part in split.parts) == 3


def test_realistic_ml_spans_with_summaries() -> None:
    request = ml_request(300, events_every=1)
    split = _check(request, 256 * 1024)
    assert split.dropped_spans == 0
    largest = max(span.ByteSize() for span in request.resource_spans[0].scope_spans[0].spans)
    # Packed tight: a part ends only when the next span would not have fitted.
    assert all(len(p.raw) > 256 * 1024 - largest - 300 for p in split.parts[:-1])


@pytest.mark.parametrize("raw", [b"\x0a\xff", b"\x0a\x05\x12\x10abc", b"\x0b\x00", b"\xff" * 11])
def test_malformed_bytes_are_an_error(raw: bytes) -> None:
    with pytest.raises(WireFormatError):
        split_request(raw, 1024)


def test_fields_of_the_request_other_than_its_spans_travel_in_every_part() -> None:
    request = _request([[[2000] * 4]])
    raw = request.SerializeToString() + b"\x12\x03abc"  # field 2 of the request: unknown
    split = split_request(raw, 5000)
    assert len(split.parts) == 2
    assert all(part.raw.startswith(b"\x12\x03abc") for part in split.parts)
    assert all(len(part.raw) <= 5000 for part in split.parts)


@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(
        st.lists(st.lists(st.integers(0, 3000), max_size=8), min_size=1, max_size=3),
        min_size=1,
        max_size=3,
    ),
    budget=st.integers(200, 12_000),
)
def test_any_shape_and_budget(shape: list[list[list[int]]], budget: int) -> None:
    _check(_request(shape), budget)
