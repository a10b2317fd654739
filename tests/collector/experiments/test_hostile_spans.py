"""Hostile spans through the real experiments processor next to valid spans.

Outcome and prediction spans with timestamps past 2^63, negative or non-finite windows,
NaN/Infinity in their summaries, row counts out of range, megabytes of arm names, NUL
characters and mlspan attributes of the wrong type, from another service and from the
experiment's own: the valid spans must count exactly as they do alone, the hostile ones
are refused and counted, and the stored state reads back after a restart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan import semconv
from mlspan.collector.experiments.config import ExperimentConfig
from mlspan.collector.experiments.processor import ExperimentsProcessor
from mlspan.collector.pdata import FastSchema, TraceBatch
from mlspan.summaries.performance_build import classification_summary
from tests.collector.experiments.test_processor import (
    V3,
    V4,
    by_version,
    labelled,
    outcome_spans,
    predict_span,
    processor_for,
)
from tests.collector.performance.spans import performance_span
from tests.support.spans import AttributeValue, any_value

FAR = 2**64 - 1
INT64_MAX = 2**63 - 1
HUGE = "x" * 1_000_000


def batch(by_service: dict[str, list[trace_pb2.Span]]) -> TraceBatch:
    request = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                resource=resource_pb2.Resource(
                    attributes=[{"key": "service.name", "value": {"string_value": service}}]
                ),
                scope_spans=[trace_pb2.ScopeSpans(spans=spans)],
            )
            for service, spans in by_service.items()
        ]
    )
    return TraceBatch.from_bytes(FastSchema.build(), request.SerializeToString())


def with_attribute(span: trace_pb2.Span, key: str, value: AttributeValue) -> trace_pb2.Span:
    """``span`` with ``key`` set to ``value`` (replacing what it had)."""
    changed = trace_pb2.Span()
    changed.CopyFrom(span)
    kept = [kv for kv in changed.attributes if kv.key != key]
    del changed.attributes[:]
    changed.attributes.extend(kept)
    changed.attributes.add(key=key).value.CopyFrom(any_value(value))
    return changed


def refused_spans() -> list[trace_pb2.Span]:
    """Spans no experiment may count: each must be refused (and counted as refused)."""
    truth, pred = labelled(9, 50, 0.5)
    outcome = performance_span(classification_summary(truth, pred), "churn", V3, 0.0)
    return [
        with_attribute(outcome, semconv.PERFORMANCE_WINDOW_START, INT64_MAX),
        with_attribute(outcome, semconv.PERFORMANCE_WINDOW_START, -5),
        with_attribute(outcome, semconv.PERFORMANCE_WINDOW_END, float("nan")),
        with_attribute(outcome, semconv.PERFORMANCE_WINDOW_END, float("inf")),
        with_attribute(outcome, semconv.PERFORMANCE_WINDOW_END, "soon"),
        with_attribute(outcome, semconv.PERFORMANCE_COUNT, -1),
        with_attribute(outcome, semconv.PERFORMANCE_COUNT, INT64_MAX),
        with_attribute(outcome, semconv.PERFORMANCE_CONFUSION, "[[NaN,0],[Infinity,1]]"),
        with_attribute(outcome, semconv.PERFORMANCE_CONFUSION, "[[1e309,0],[0,-1]]"),
        with_attribute(outcome, semconv.PERFORMANCE_CONFUSION, "[" * 100_000),
        with_attribute(outcome, semconv.PERFORMANCE_TASK, 7),
        with_attribute(outcome, semconv.MODEL_VERSION, 3),
        predict_span(V3, -1),  # type: ignore[list-item]
        predict_span(V3, INT64_MAX),  # type: ignore[list-item]
        predict_span(V4, 5, **{semconv.DATASET_ROWS: "many"}),  # type: ignore[list-item]
    ]


def odd_spans() -> list[trace_pb2.Span]:
    """Spans that are valid but extreme (a time past 2^63, megabyte and NUL names, a
    wrongly typed experiment name): sent from another service only."""
    truth, pred = labelled(9, 50, 0.5)
    outcome = performance_span(classification_summary(truth, pred), "churn", V3, 0.0)
    far = trace_pb2.Span()
    far.CopyFrom(predict_span(V4, 5))  # type: ignore[arg-type]
    far.start_time_unix_nano = far.end_time_unix_nano = FAR
    return [
        far,
        with_attribute(outcome, semconv.PERFORMANCE_LABELS, [HUGE, "\x00"]),
        with_attribute(outcome, semconv.EXPERIMENT_ARM, HUGE),
        predict_span(V3, 5, **{semconv.EXPERIMENT_ARM: "\x00" + HUGE}),  # type: ignore[list-item]
        predict_span(V4, 5, **{semconv.EXPERIMENT_NAME: 12}),  # type: ignore[list-item]
    ]


def feed(processor: ExperimentsProcessor, hostile: bool) -> None:
    truth3, pred3 = labelled(1, 3000, 0.80)
    truth4, pred4 = labelled(2, 3000, 0.86)
    for step in range(3):
        part = slice(step * 1000, (step + 1) * 1000)
        spans = outcome_spans(V3, truth3[part], pred3[part], 2)
        spans += outcome_spans(V4, truth4[part], pred4[part], 2)
        spans += [predict_span(V3, 1000), predict_span(V4, 1000)]
        by_service = {"svc": spans}
        if hostile:
            refused = refused_spans()
            by_service = {"evil": refused + odd_spans(), "svc": refused + spans + refused}
        processor.consume(batch(by_service))  # type: ignore[arg-type]


def summary(processor: ExperimentsProcessor) -> list[tuple[str, int, int, float | None]]:
    (result,) = processor.results()
    return [(arm.name, arm.outcomes, arm.assigned, arm.value) for arm in result.arms]


def test_hostile_spans_leave_the_valid_counts_exactly_as_they_are_alone(tmp_path: Path) -> None:
    experiment: ExperimentConfig = by_version(service="svc")
    alone = processor_for(tmp_path / "alone", experiment)
    feed(alone, hostile=False)
    expected = summary(alone)
    assert [(name, outcomes) for name, outcomes, _, _ in expected] == [("v3", 3000), ("v4", 3000)]
    alone.shutdown()

    mixed = processor_for(tmp_path / "mixed", experiment)
    feed(mixed, hostile=True)
    assert summary(mixed) == expected
    assert mixed.refused_spans >= 3 * 3 * len(refused_spans())
    for arm_value in (value for *_, value in summary(mixed)):
        assert arm_value is not None and np.isfinite(arm_value)
    mixed.shutdown()
    restarted = processor_for(tmp_path / "mixed", experiment)
    assert summary(restarted) == expected
    restarted.shutdown()
