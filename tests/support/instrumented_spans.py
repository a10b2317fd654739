"""Spans recorded from mlspan's own instrumentation, for benchmarks that need the real
thing rather than spans made to look like it.

``record_pipeline`` runs the example churn pipeline (``examples/churn_pipeline.py``:
training, then scoring every incoming batch) under ``instrument()`` with an in-memory
exporter and returns what the OTLP exporter would have sent: read/write, fit, transform,
predict_proba and component spans, with feature-summary events as the defaults produce
them. ``replay`` turns that recording into requests of any size: each copy of the
recording gets new trace and span ids and new artifact ids (the same artifact keeps the
same new id within a copy), so every copy is new lineage with the recording's shape.
"""

from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan import semconv

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ARTIFACT_KEYS = frozenset(
    (
        semconv.IO_INPUTS,
        semconv.IO_OUTPUTS,
        semconv.DATASET_DIGEST,
        semconv.DATASET_TARGET_DIGEST,
        semconv.PREDICTION_DIGEST,
        semconv.MODEL_VERSION,
    )
)


def record_pipeline() -> trace_service_pb2.ExportTraceServiceRequest:
    """Train and score the example pipeline with mlspan's instrumentation on; the spans
    as one OTLP request (takes a few seconds: it really fits the model)."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from mlspan.instrumentation import instrument, uninstrument

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sys.path.insert(0, str(EXAMPLES))
    instrument(tracer_provider=provider)
    try:
        import churn_pipeline

        with tempfile.TemporaryDirectory() as folder:
            churn_pipeline.train(Path(folder))
            churn_pipeline.infer(Path(folder))
    finally:
        uninstrument()
        sys.path.remove(str(EXAMPLES))
    request: trace_service_pb2.ExportTraceServiceRequest = encode_spans(
        exporter.get_finished_spans()
    )
    return request


def _new_id(rng: random.Random, size: int) -> bytes:
    return rng.getrandbits(size * 8).to_bytes(size, "big") or b"\x01" * size


def _copy(spans: list[trace_pb2.Span], rng: random.Random) -> list[trace_pb2.Span]:
    """One copy of ``spans`` with fresh ids (parent links and shared artifacts kept)."""
    ids: dict[bytes, bytes] = {}
    artifacts: dict[str, str] = {}

    def renamed(artifact: str) -> str:
        if artifact not in artifacts:
            kind, _, _ = artifact.rpartition(":")
            artifacts[artifact] = f"{kind}:{rng.getrandbits(128):032x}"
        return artifacts[artifact]

    copies = []
    for span in spans:
        clone = trace_pb2.Span()
        clone.CopyFrom(span)
        clone.trace_id = ids.setdefault(span.trace_id, _new_id(rng, 16))
        clone.span_id = ids.setdefault(span.span_id, _new_id(rng, 8))
        if span.parent_span_id:
            clone.parent_span_id = ids.setdefault(span.parent_span_id, _new_id(rng, 8))
        for attribute in clone.attributes:
            if attribute.key in ARTIFACT_KEYS:
                value = attribute.value
                if value.HasField("string_value"):
                    value.string_value = renamed(value.string_value)
                for item in value.array_value.values:
                    item.string_value = renamed(item.string_value)
        copies.append(clone)
    return copies


def replay(
    recorded: trace_service_pb2.ExportTraceServiceRequest, count: int, seed: int
) -> trace_service_pb2.ExportTraceServiceRequest:
    """A request of ``count`` spans: copies of the recorded spans in order (the last
    copy cut short), each with fresh trace, span and artifact ids, under the first
    recorded resource."""
    rng = random.Random(seed)
    spans = [
        span
        for resource in recorded.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    out: list[trace_pb2.Span] = []
    while len(out) < count:
        out += _copy(spans[: count - len(out)], rng)
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.CopyFrom(recorded.resource_spans[0].resource)
    resource_spans.scope_spans.add().spans.extend(out)
    return request
