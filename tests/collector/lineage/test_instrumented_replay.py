"""Spans recorded from the instrumentation and replayed with fresh ids (what
``bench/collector_ingest.py --spans instrumented`` sends) are new lineage of the same
shape in every copy."""

from __future__ import annotations

from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan.collector.lineage import LineageQueries, extract
from mlspan.collector.pdata import FastSchema, TraceBatch
from mlspan.collector.store import SqliteStore
from mlspan.semconv import IO_OUTPUTS
from tests.support.instrumented_spans import record_pipeline, replay


def test_replayed_copies_are_new_lineage_of_the_recorded_shape(store: SqliteStore) -> None:
    recorded = record_pipeline()
    size = sum(len(s.spans) for r in recorded.resource_spans for s in r.scope_spans)
    request = replay(recorded, 2 * size + 5, seed=1)
    spans = list(request.resource_spans[0].scope_spans[0].spans)
    assert len(spans) == 2 * size + 5
    assert len({s.span_id for s in spans}) == len(spans)
    first, second = spans[:size], spans[size : 2 * size]
    assert [s.name for s in first] == [s.name for s in second]

    def outputs(copy: list[trace_pb2.Span]) -> list[str]:
        return [
            v.string_value
            for s in copy
            for a in s.attributes
            if a.key == IO_OUTPUTS
            for v in a.value.array_value.values
        ]

    assert outputs(first) and not set(outputs(first)) & set(outputs(second))
    store.write(extract(TraceBatch.from_bytes(FastSchema.build(), request.SerializeToString())))
    queries = LineageQueries(store)
    final_output = outputs(first)[-1]
    first_trace = queries.trace(final_output)
    second_trace = queries.trace(outputs(second)[-1])
    assert len(first_trace["runs"]) == len(second_trace["runs"]) > 3
    assert not {r["run_id"] for r in first_trace["runs"]} & {
        r["run_id"] for r in second_trace["runs"]
    }
