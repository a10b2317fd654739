"""Build real OTLP ``ExportTraceServiceRequest`` bytes for lineage tests.

Spans carry the attributes the instrumentation would set; ``Pipeline`` hands out
distinct span ids and a clock, so scenarios read like the pipelines they model.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan.collector.pdata import FastSchema, TraceBatch
from mlspan.semconv import (
    CODE_COMMIT,
    COMPONENT_NAME,
    DATASET_SOURCE,
    IO_INPUTS,
    IO_OUTPUTS,
    OPERATION_NAME,
)
from tests.support.spans import AttributeValue, key_values

SCHEMA: Final = FastSchema.build()
DAY_NS: Final = 86_400 * 10**9
BASE_NS: Final = 1_750_000_000 * 10**9


@dataclass
class Pipeline:
    """A source of spans with fresh ids and a clock in nanoseconds."""

    service: str = "pipeline"
    trace_id: bytes = b"\x01" * 16
    now_ns: int = BASE_NS
    first_id: int = 1
    """First span id handed out; give pipelines that share a store disjoint ranges."""

    def __post_init__(self) -> None:
        self._ids = itertools.count(self.first_id)

    def span(
        self,
        component: str,
        inputs: Sequence[str] = (),
        outputs: Sequence[str] = (),
        *,
        parent: trace_pb2.Span | None = None,
        extra: Mapping[str, AttributeValue] | None = None,
        duration_ns: int = 10**9,
        error: bool = False,
    ) -> trace_pb2.Span:
        """A component span consuming ``inputs`` and producing ``outputs``, one second long."""
        span_id = next(self._ids).to_bytes(8, "big")
        attributes: dict[str, AttributeValue] = {
            OPERATION_NAME: "component",
            COMPONENT_NAME: component,
            IO_INPUTS: list(inputs),
            IO_OUTPUTS: list(outputs),
            CODE_COMMIT: "3f2a9c1e",
        }
        attributes.update(extra or {})
        span = trace_pb2.Span(
            trace_id=self.trace_id,
            span_id=span_id,
            parent_span_id=parent.span_id if parent is not None else b"",
            name=f"component {component}",
            start_time_unix_nano=self.now_ns,
            end_time_unix_nano=self.now_ns + duration_ns,
            attributes=key_values(attributes),
            status=trace_pb2.Status(code=2 if error else 1),
        )
        self.now_ns += duration_ns + 10**6
        return span


def request_bytes(service: str, spans: Sequence[trace_pb2.Span]) -> bytes:
    """Serialized ``ExportTraceServiceRequest`` of ``spans`` from ``service``."""
    request = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                resource={"attributes": key_values({"service.name": service})},
                scope_spans=[trace_pb2.ScopeSpans(spans=list(spans))],
            )
        ]
    )
    return request.SerializeToString()


def batch(service: str, spans: Sequence[trace_pb2.Span]) -> TraceBatch:
    """A ``TraceBatch`` parsed from real OTLP bytes."""
    return TraceBatch.from_bytes(SCHEMA, request_bytes(service, spans))


def sourced(path: str) -> dict[str, AttributeValue]:
    """Extra attributes naming the file a span read or wrote."""
    return {DATASET_SOURCE: path}
