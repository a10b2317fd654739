"""Seed requests for fuzzing: real spans of mlspan's instrumentation, cut into requests.

``record_pipeline`` (``tests/support/instrumented_spans.py``) trains and scores the
example churn pipeline with scikit-learn under ``instrument()`` and an in-memory
exporter, so the spans carry what the instrumentation really sends: digests, lineage
arrays, model parameters as JSON, and feature-summary events with base64 KLL sketches
(numerical features) and JSON category tables (categorical ones). ``Seeds`` cuts them
into small requests (one trace's spans at a time, 1-6 spans), each available as
protobuf and as OTLP/JSON, and makes fresh valid requests for the canary checks.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan import semconv
from mlspan.semconv.events import FEATURE_SUMMARY
from mlspan.semconv.values import CallRole
from tests.support.instrumented_spans import record_pipeline, replay

Request = trace_service_pb2.ExportTraceServiceRequest
_ID_KEYS = ("traceId", "spanId", "parentSpanId")
MAX_SPANS_PER_SEED = 6


def to_otlp_json(request: Request) -> bytes:
    """``request`` in OTLP/JSON: camelCase names, hex ids, integer enums."""
    document = json_format.MessageToDict(request, use_integers_for_enums=True)
    for resource in document.get("resourceSpans", []):
        for scope in resource.get("scopeSpans", []):
            for span in scope.get("spans", []):
                _hex_ids(span)
                for link in span.get("links", []):
                    _hex_ids(link)
    return json.dumps(document, separators=(",", ":")).encode()


def _hex_ids(message: dict[str, Any]) -> None:
    for key in _ID_KEYS:
        if key in message:
            message[key] = base64.b64decode(message[key]).hex()


def spans_of(request: Request) -> list[trace_pb2.Span]:
    """Every span of ``request``, in order."""
    return [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]


def has_summary(span: trace_pb2.Span) -> bool:
    """Whether ``span`` carries a feature-summary event."""
    return any(event.name == FEATURE_SUMMARY for event in span.events)


@dataclass(frozen=True)
class Seed:
    """One valid request in both encodings."""

    request: Request
    protobuf: bytes
    json: bytes

    @classmethod
    def of(cls, request: Request) -> Seed:
        """A seed of ``request``."""
        return cls(request, request.SerializeToString(), to_otlp_json(request))


class Seeds:
    """Requests cut from one recording of the real pipeline."""

    def __init__(self, recorded: Request) -> None:
        self.recorded = recorded
        self.seeds = self._cut(recorded)
        self.with_summaries = [s for s in self.seeds if any(map(has_summary, spans_of(s.request)))]

    @classmethod
    def record(cls) -> Seeds:
        """Fit and score the example pipeline (a few seconds) and cut its spans."""
        return cls(record_pipeline())

    @staticmethod
    def _cut(recorded: Request) -> list[Seed]:
        resource = recorded.resource_spans[0]
        by_trace: dict[bytes, list[trace_pb2.Span]] = {}
        for span in spans_of(recorded):
            by_trace.setdefault(span.trace_id, []).append(span)
        seeds: list[Seed] = []
        for spans in by_trace.values():
            for start in range(0, len(spans), MAX_SPANS_PER_SEED):
                request = Request()
                out = request.resource_spans.add()
                out.resource.CopyFrom(resource.resource)
                scope = out.scope_spans.add()
                scope.scope.CopyFrom(resource.scope_spans[0].scope)
                scope.spans.extend(spans[start : start + MAX_SPANS_PER_SEED])
                seeds.append(Seed.of(request))
        return seeds

    def pick(self, rng: random.Random, summaries: bool = False) -> Seed:
        """A random seed; one carrying feature summaries when ``summaries``."""
        return rng.choice(self.with_summaries if summaries else self.seeds)

    def fresh(self, count: int, seed: int) -> Request:
        """A valid request of ``count`` spans with new trace, span and artifact ids."""
        return replay(self.recorded, count, seed)


def run_ids(request: Request) -> list[str]:
    """The ids the lineage API knows the request's runs by (spans that are runs)."""
    keys = {semconv.OPERATION_NAME, semconv.COMPONENT_NAME}
    return [
        span.span_id.hex()
        for span in spans_of(request)
        if any(kv.key in keys for kv in span.attributes)
        and not any(
            kv.key == semconv.CALL_ROLE and kv.value.string_value == CallRole.CANDIDATE.value
            for kv in span.attributes
        )
    ]
