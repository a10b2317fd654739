"""Realistic ML spans as OTLP requests, for collector tests and benchmarks.

``ml_request`` builds an ``ExportTraceServiceRequest`` whose spans look like what the
instrumentation emits: fit/predict/transform/component spans with model, dataset,
lineage (``mlspan.io.*``) and code attributes, about 20 attributes each, some with
per-feature summary events.
"""

from __future__ import annotations

import dataclasses
import json
import random

import numpy as np
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan import semconv
from mlspan.semconv.values import FeatureKind, FeatureOrigin
from mlspan.summaries import FeatureSummary, NumericalSummary
from mlspan.summaries.kll_build import kll_from_sorted

AttributeValue = str | bool | int | float | list[str] | list[int] | list[float]
_OPERATIONS = ("fit", "predict", "transform", "predict_proba", "component", "read", "write")
_MODELS = ("LogisticRegression", "RandomForestClassifier", "GradientBoostingRegressor")


def any_value(value: AttributeValue) -> common_pb2.AnyValue:
    """A Python value as an OTLP ``AnyValue``."""
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    if isinstance(value, float):
        return common_pb2.AnyValue(double_value=value)
    if isinstance(value, str):
        return common_pb2.AnyValue(string_value=value)
    return common_pb2.AnyValue(
        array_value=common_pb2.ArrayValue(values=[any_value(item) for item in value])
    )


def key_values(attributes: dict[str, AttributeValue]) -> list[common_pb2.KeyValue]:
    """A dict as a list of OTLP ``KeyValue``."""
    return [common_pb2.KeyValue(key=k, value=any_value(v)) for k, v in attributes.items()]


def _digest(rng: random.Random) -> str:
    return f"xxh3_128:{rng.getrandbits(128):032x}"


def ml_attributes(rng: random.Random, operation: str) -> dict[str, AttributeValue]:
    """About 20 attributes of one ML span."""
    model = rng.choice(_MODELS)
    attributes: dict[str, AttributeValue] = {
        semconv.OPERATION_NAME: operation,
        semconv.COMPONENT_NAME: rng.choice(("clean", "features", "train", "score")),
        semconv.MODEL_CLASS: f"sklearn.linear_model.{model}",
        semconv.MODEL_NAME: model.lower(),
        semconv.MODEL_VERSION: f"{rng.getrandbits(64):016x}",
        semconv.MODEL_FRAMEWORK: "sklearn",
        semconv.MODEL_FRAMEWORK_VERSION: "1.5.2",
        semconv.MODEL_PARAMS: json.dumps({"C": 1.0, "max_iter": 100, "penalty": "l2"}),
        semconv.DATASET_DIGEST: _digest(rng),
        semconv.DATASET_ROWS: rng.randint(100, 1_000_000),
        semconv.DATASET_COLUMNS: rng.randint(5, 200),
        semconv.DATASET_ROLE: "inference" if operation.startswith("predict") else "train",
        semconv.DATASET_SOURCE: f"s3://bucket/data/part-{rng.randint(0, 999):04d}.parquet",
        semconv.IO_INPUTS: [_digest(rng), _digest(rng)],
        semconv.IO_OUTPUTS: [_digest(rng)],
        semconv.CODE_COMMIT: f"{rng.getrandbits(160):040x}",
        semconv.CODE_DIRTY: False,
        "code.function.name": "run_step",
        "thread.id": rng.randint(1, 64),
        "process.pid": rng.randint(1000, 60000),
    }
    if operation.startswith("predict"):
        attributes[semconv.PREDICTION_DIGEST] = _digest(rng)
    return attributes


def web_attributes(rng: random.Random) -> dict[str, AttributeValue]:
    """About 15 attributes of an ordinary HTTP server span (no ML facts)."""
    return {
        "http.request.method": rng.choice(("GET", "POST")),
        "url.path": f"/api/v1/items/{rng.randint(1, 10_000)}",
        "url.scheme": "https",
        "http.route": "/api/v1/items/{id}",
        "http.response.status_code": rng.choice((200, 200, 200, 201, 404)),
        "server.address": "api.internal",
        "server.port": 8080,
        "client.address": f"10.0.{rng.randint(0, 255)}.{rng.randint(0, 255)}",
        "network.protocol.version": "1.1",
        "user_agent.original": "python-requests/2.32.3",
        "http.request.body.size": rng.randint(100, 10_000),
        "http.response.body.size": rng.randint(100, 100_000),
        "code.function.name": "handle",
        "thread.id": rng.randint(1, 64),
        "process.pid": rng.randint(1000, 60000),
    }


def summary_event(rng: random.Random, feature: str, time_ns: int) -> trace_pb2.Span.Event:
    """A ``mlspan.feature.summary`` event as the instrumentation writes it: moments and a
    KLL sketch of 1,000 values of a numerical input feature."""
    generator = np.random.default_rng(rng.getrandbits(32))
    values = generator.normal(rng.gauss(0, 1), 1.0, 1000)
    stats = NumericalSummary.from_values(values)
    # The sketch's compaction offset is random; draw it from the seed for repeatable bytes.
    sketch = kll_from_sorted(np.sort(values), stats.k, rng=generator)
    summary = FeatureSummary(
        feature,
        FeatureKind.NUMERICAL,
        FeatureOrigin.INPUT,
        "float64",
        dataclasses.replace(stats, sketch_bytes=sketch),
    )
    return trace_pb2.Span.Event(
        time_unix_nano=time_ns,
        name=semconv.FEATURE_SUMMARY,
        attributes=key_values(summary.to_attributes()),
    )


def ml_spans(
    count: int,
    seed: int = 0,
    events_every: int = 5,
    trace_spans: int = 8,
    ml_share: float = 1.0,
) -> list[trace_pb2.Span]:
    """``count`` spans in traces of ``trace_spans`` spans; every ``events_every``-th ML
    span carries three feature summaries (0: none). A share ``1 - ml_share`` of the spans
    are ordinary HTTP server spans without ML attributes."""
    rng = random.Random(seed)
    spans: list[trace_pb2.Span] = []
    start = 1_700_000_000_000_000_000
    trace_id = b""
    root = b""
    for index in range(count):
        if index % trace_spans == 0:
            trace_id = rng.getrandbits(128).to_bytes(16, "big")
            root = b""
        span_id = rng.getrandbits(64).to_bytes(8, "big") or b"\x01" * 8
        operation = rng.choice(_OPERATIONS)
        begin = start + index * 1_000_000
        ml = ml_share >= 1.0 or rng.random() < ml_share
        span = trace_pb2.Span(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=root,
            name=f"{operation} {rng.choice(_MODELS)}" if ml else "GET /api/v1/items/{id}",
            kind=trace_pb2.Span.SPAN_KIND_INTERNAL if ml else trace_pb2.Span.SPAN_KIND_SERVER,
            start_time_unix_nano=begin,
            end_time_unix_nano=begin + rng.randint(1_000, 50_000_000),
            attributes=key_values(ml_attributes(rng, operation) if ml else web_attributes(rng)),
        )
        if ml and events_every and index % events_every == 0:
            span.events.extend(summary_event(rng, f"f{i}", begin) for i in range(3))
        span.status.code = trace_pb2.Status.STATUS_CODE_OK
        spans.append(span)
        root = root or span_id
    return spans


def ml_request(
    count: int,
    seed: int = 0,
    service: str = "churn-train",
    events_every: int = 5,
    ml_share: float = 1.0,
) -> trace_service_pb2.ExportTraceServiceRequest:
    """One export request with ``count`` spans from ``service`` (ML spans, or a mix with
    ``ml_share`` < 1)."""
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        key_values({"service.name": service, "telemetry.sdk.language": "python"})
    )
    scope = resource_spans.scope_spans.add()
    scope.scope.name = "ml-span-fixture"
    scope.spans.extend(ml_spans(count, seed, events_every, ml_share=ml_share))
    return request


def request_bytes(count: int, seed: int = 0, service: str = "churn-train") -> bytes:
    """``ml_request`` serialized."""
    return bytes(ml_request(count, seed, service).SerializeToString())


def wide_ml_request(
    count: int, features: int = 64, seed: int = 0, service: str = "churn-train"
) -> trace_service_pb2.ExportTraceServiceRequest:
    """``count`` ML spans that each carry ``features`` feature summaries, as a fit on a
    ``features``-column frame does (~170 KB per span at 64 features)."""
    request = ml_request(count, seed, service, events_every=0)
    rng = random.Random(seed)
    for span in request.resource_spans[0].scope_spans[0].spans:
        start = span.start_time_unix_nano
        span.events.extend(summary_event(rng, f"f{i}", start) for i in range(features))
    return request
