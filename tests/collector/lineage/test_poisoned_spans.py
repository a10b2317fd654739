"""One poisoned span never takes its neighbours with it: each poison class, table-driven.

Every case sends a batch of a good span and a poisoned one through the real lineage
processor into a real SQLite store. The good span's run and edges must be stored, the
poisoned span's run is stored with the clamped value (and servable as strict JSON), the
repair is counted by reason, and nothing is counted as lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan.collector.lineage import LineageConfig, LineageProcessor
from mlspan.collector.lineage.sanitize import (
    CLAMP_END,
    CLAMP_OVERSIZED,
    CLAMP_PARAMS,
    CLAMP_START,
    CLAMP_WRONG_TYPE,
    MAX_TEXT,
)
from mlspan.collector.lineage.views import run_view
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.store import INPUT, OUTPUT, RunRecord, SqliteStore
from mlspan.semconv import (
    DATASET_DIGEST,
    IO_INPUTS,
    IO_OUTPUTS,
    MODEL_PARAMS,
    MODEL_VERSION,
    OPERATION_NAME,
)
from tests.collector.lineage.otlp import BASE_NS, Pipeline, batch
from tests.support.spans import AttributeValue

TOO_BIG_NS = 2**63
MAX_U64 = 2**64 - 1
FIT: dict[str, AttributeValue] = {OPERATION_NAME: "fit", MODEL_VERSION: "model:x:v1"}


def _set(span: trace_pb2.Span, key: str, value: common_pb2.AnyValue) -> None:
    """Replace (or add) one attribute with a raw ``AnyValue``."""
    for attribute in span.attributes:
        if attribute.key == key:
            attribute.value.CopyFrom(value)
            return
    span.attributes.add(key=key, value=value)


def _times(start: int, end: int) -> Callable[[trace_pb2.Span], None]:
    def poison(span: trace_pb2.Span) -> None:
        span.start_time_unix_nano = start
        span.end_time_unix_nano = end

    return poison


def _attribute(key: str, value: common_pb2.AnyValue) -> Callable[[trace_pb2.Span], None]:
    return lambda span: _set(span, key, value)


def _text(value: str) -> common_pb2.AnyValue:
    return common_pb2.AnyValue(string_value=value)


def _ints(*values: int) -> common_pb2.AnyValue:
    array = common_pb2.ArrayValue(values=[common_pb2.AnyValue(int_value=v) for v in values])
    return common_pb2.AnyValue(array_value=array)


def _strings(*values: str) -> common_pb2.AnyValue:
    array = common_pb2.ArrayValue(values=[common_pb2.AnyValue(string_value=v) for v in values])
    return common_pb2.AnyValue(array_value=array)


def _long_name(span: trace_pb2.Span) -> None:
    span.name = "n" * 100_000


@dataclass
class Case:
    """A poison, the repair reason it must count, and a check of the stored run."""

    poison: Callable[[trace_pb2.Span], None]
    reasons: tuple[str, ...]
    check: Callable[[RunRecord, dict[str, list[str]]], Any]
    extra: dict[str, AttributeValue] = field(default_factory=dict)


def _clamped_to_end(run: RunRecord, _: object) -> None:
    assert run.start_ns == run.end_ns == BASE_NS + 10**9 + 5


def _near_now(run: RunRecord, _: object) -> None:
    assert 0 < run.start_ns == run.end_ns < TOO_BIG_NS
    assert abs(run.start_ns / 1e9 - time.time()) < 600


def _params(expected: Any) -> Callable[[RunRecord, object], None]:
    def check(run: RunRecord, _: object) -> None:
        assert (json.loads(run.params) if run.params else "") == expected

    return check


CASES: dict[str, Case] = {
    "start at 2^63": Case(_times(TOO_BIG_NS, BASE_NS + 10**9 + 5), (CLAMP_START,), _clamped_to_end),
    "start and end at 2^64-1": Case(_times(MAX_U64, MAX_U64), (CLAMP_START, CLAMP_END), _near_now),
    "start 0": Case(_times(0, BASE_NS + 10**9 + 5), (CLAMP_START,), _clamped_to_end),
    "end before start": Case(
        _times(BASE_NS + 10**9 + 5, BASE_NS),
        (CLAMP_END,),
        lambda run, _: run.end_ns == run.start_ns == BASE_NS + 10**9 + 5 or pytest.fail(),
    ),
    "params with NaN": Case(
        _attribute(MODEL_PARAMS, _text('{"C": NaN, "tol": Infinity, "l": [-Infinity]}')),
        (CLAMP_PARAMS,),
        _params({"C": "NaN", "tol": "Infinity", "l": ["-Infinity"]}),
        FIT,
    ),
    "params overflowing to infinity": Case(
        _attribute(MODEL_PARAMS, _text('{"C": 1e999, "n": 3}')),
        (),  # kept as sent; the API reads it as "Infinity"
        lambda run, _: run_view(run)["params"] == {"C": "Infinity", "n": 3} or pytest.fail(),
        FIT,
    ),
    "params nested 50,000 levels": Case(
        _attribute(MODEL_PARAMS, _text("[" * 50_000 + "]" * 50_000)),
        (CLAMP_PARAMS,),
        _params(""),
        FIT,
    ),
    "params nested 100 levels": Case(
        _attribute(MODEL_PARAMS, _text('{"a":' * 100 + "1" + "}" * 100)),
        (CLAMP_PARAMS,),
        _params(""),
        FIT,
    ),
    "params of 100 KB": Case(
        _attribute(MODEL_PARAMS, _text(json.dumps({"x": "y" * 100_000}))),
        (CLAMP_PARAMS,),
        _params(""),
        FIT,
    ),
    "model version as an int": Case(
        _attribute(MODEL_VERSION, common_pb2.AnyValue(int_value=7)),
        (CLAMP_WRONG_TYPE,),
        lambda run, _: run.model_version == "" or pytest.fail(),
        FIT,
    ),
    "inputs as a list of ints": Case(
        _attribute(IO_INPUTS, _ints(1, 2, 3)),
        (CLAMP_WRONG_TYPE,),
        lambda run, io: io[INPUT] == [] or pytest.fail(str(io)),
    ),
    "inputs as an int": Case(
        _attribute(IO_INPUTS, common_pb2.AnyValue(int_value=1)),
        (CLAMP_WRONG_TYPE,),
        lambda run, io: io[INPUT] == [] or pytest.fail(str(io)),
    ),
    "dataset digest as a list": Case(
        _attribute(DATASET_DIGEST, _strings("data:a", "data:b")),
        (CLAMP_WRONG_TYPE,),
        lambda run, io: io[INPUT] == ["data:p:in"] or pytest.fail(str(io)),
    ),
    "name of 100 KB": Case(
        _long_name, (CLAMP_OVERSIZED,), lambda run, _: len(run.name) == MAX_TEXT or pytest.fail()
    ),
    "artifact id of 10 KB": Case(
        _attribute(IO_OUTPUTS, _strings("data:p:out", "data:" + "z" * 10_000)),
        (CLAMP_OVERSIZED,),
        lambda run, io: io[OUTPUT] == ["data:p:out"] or pytest.fail(str(io)),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_poisoned_span_is_clamped_and_its_neighbour_kept(name: str, store: SqliteStore) -> None:
    case = CASES[name]
    pipeline = Pipeline()
    good = pipeline.span("good", ["data:g:in"], ["data:g:out"])
    bad = pipeline.span("poisoned", ["data:p:in"], ["data:p:out"], extra=case.extra)
    bad.start_time_unix_nano, bad.end_time_unix_nano = BASE_NS + 10**9 + 5, BASE_NS + 2 * 10**9
    case.poison(bad)
    stats = IngestStats()
    processor = LineageProcessor(LineageConfig(), store, stats)
    processor.start()
    try:
        processor.consume(batch("svc", [good, bad]))
        assert processor.flush(10)
    finally:
        processor.shutdown()
    good_id, bad_id = good.span_id.hex(), bad.span_id.hex()
    runs = store.runs([good_id, bad_id])
    assert set(runs) == {good_id, bad_id}
    assert store.run_io([good_id], INPUT) == {good_id: ["data:g:in"]}
    assert store.run_io([good_id], OUTPUT) == {good_id: ["data:g:out"]}
    io = {d: store.run_io([bad_id], d).get(bad_id, []) for d in (INPUT, OUTPUT)}
    case.check(runs[bad_id], io)
    json.dumps(run_view(runs[bad_id]), allow_nan=False)  # servable as strict JSON
    clamped = processor.counters.clamped
    for reason in case.reasons:
        assert clamped[reason] >= 1, clamped
    assert stats.snapshot().spans_dropped == {}
