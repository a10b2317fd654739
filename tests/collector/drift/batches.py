"""Real OTLP trace batches carrying feature-summary events, for the drift tests."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan.collector.pdata import FastSchema, TraceBatch
from mlspan.semconv import attributes as attr
from mlspan.semconv.events import FEATURE_SUMMARY
from mlspan.semconv.values import FeatureKind, FeatureOrigin
from mlspan.summaries import CategoricalSummary, FeatureSummary, NumericalSummary
from tests.support.spans import AttributeValue, key_values

SCHEMA = FastSchema.build()
_IDS = itertools.count(1)


def numerical(
    name: str, values: npt.ArrayLike, origin: FeatureOrigin = FeatureOrigin.INPUT, nulls: int = 0
) -> FeatureSummary:
    """A numerical feature summary of ``values``."""
    stats = NumericalSummary.from_values(values, nulls=nulls)
    return FeatureSummary(name, FeatureKind.NUMERICAL, origin, "float64", stats)


def categorical(name: str, values: Sequence[str] | npt.NDArray[np.str_]) -> FeatureSummary:
    """A categorical feature summary of ``values``."""
    labels, counts = np.unique(np.asarray(values), return_counts=True)
    stats = CategoricalSummary.from_counts(
        {str(k): int(v) for k, v in zip(labels, counts, strict=True)}
    )
    return FeatureSummary(name, FeatureKind.CATEGORICAL, FeatureOrigin.INPUT, "object", stats)


def summary_span(
    operation: str,
    summaries: Sequence[FeatureSummary],
    *,
    model: str = "churn",
    version: str = "v1",
    role: str | None = None,
    call_role: str | None = None,
    digest: str = "",
    end_time: float | None = None,
    extra_events: Sequence[trace_pb2.Span.Event] = (),
) -> trace_pb2.Span:
    """One span of ``operation`` with a summary event per feature; ``role`` is the
    dataset role, ``call_role`` the call's (``mlspan.call.role``)."""
    end = time.time() if end_time is None else end_time
    span_attributes: dict[str, AttributeValue] = {
        attr.OPERATION_NAME: operation,
        attr.MODEL_NAME: model,
        attr.MODEL_VERSION: version,
    }
    if role is not None:
        span_attributes[attr.DATASET_ROLE] = role
    if call_role is not None:
        span_attributes[attr.CALL_ROLE] = call_role
    if digest:
        span_attributes[attr.DATASET_DIGEST] = digest
    number = next(_IDS)
    events = [
        trace_pb2.Span.Event(
            name=FEATURE_SUMMARY,
            time_unix_nano=int(end * 1e9),
            attributes=key_values(dict(s.to_attributes())),
        )
        for s in summaries
    ]
    return trace_pb2.Span(
        trace_id=number.to_bytes(16, "big"),
        span_id=number.to_bytes(8, "big"),
        name=f"{operation} Model",
        start_time_unix_nano=int((end - 0.01) * 1e9),
        end_time_unix_nano=int(end * 1e9),
        attributes=key_values(span_attributes),
        events=[*events, *extra_events],
    )


def batch(spans: Sequence[trace_pb2.Span], service: str = "svc") -> TraceBatch:
    """Serialize spans into an OTLP request and parse it the way the collector does."""
    request = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                resource={"attributes": key_values({"service.name": service})},
                scope_spans=[trace_pb2.ScopeSpans(spans=list(spans))],
            )
        ]
    )
    return TraceBatch.from_bytes(SCHEMA, request.SerializeToString())
