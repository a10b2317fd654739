"""The batch decoders against the one-at-a-time ones they must agree with exactly.

``decode_summaries`` and ``check_kll_many`` take shortcuts (inline type checks,
vectorised passes over all sketches and numbers of a batch); whatever they accept or
refuse must be what ``decode_summary`` and ``check_kll_doubles`` accept or refuse, with
the same summary or layout and the same reason. Checked on real events and sketches, and
on thousands of corrupted ones mixed into batches with valid ones (a corrupt neighbour
must neither be let through nor get a valid one refused).
"""

from __future__ import annotations

import math
import random
import struct

import numpy as np
import pytest
from datasketches import kll_doubles_sketch
from opentelemetry.exporter.otlp.proto.common._internal import _encode_attributes
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan.collector.drift.summary_batch import decode_summaries, event_attributes
from mlspan.collector.drift.summary_check import BadSummary, decode_summary
from mlspan.collector.pdata import FastSchema
from mlspan.semconv import attributes as attr
from mlspan.summaries.kll_build import kll_from_sorted
from mlspan.summaries.kll_format import SketchFormatError, check_kll_doubles, check_kll_many
from tests.collector.drift.corpus import kll_sketches, summary_events
from tests.collector.drift.mutations import mutate_bytes, mutate_event

SKETCHES = [blob for _label, blob in kll_sketches(seed=3) if len(blob) < 50_000]
EVENTS = summary_events(seed=5, rows=3_000)
SCHEMA = FastSchema.build()
"""One reduced schema for the module, as the collector builds one per process: parsed
views must not outlive the descriptor pool of their schema."""


def _one_sketch(blob: bytes) -> tuple[int, float, float] | str:
    try:
        layout = check_kll_doubles(blob)
    except SketchFormatError as exc:
        return f"refused: {exc}"
    return layout.n, layout.min_value, layout.max_value


def _many_sketches(blobs: list[bytes]) -> list[tuple[int, float, float] | str]:
    checks = check_kll_many(blobs)
    return [
        f"refused: {checks.errors[i]}"
        if i in checks.errors
        else (checks.n[i], checks.min_value[i], checks.max_value[i])
        for i in range(len(blobs))
    ]


def _same(a: object, b: object) -> bool:
    """Equal, NaN equal to NaN (an empty sketch's extremes)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b, strict=True))
    return a == b


def test_real_sketches_are_read_alike_alone_and_in_a_batch() -> None:
    empty = bytes(kll_doubles_sketch(200).serialize())
    single = kll_doubles_sketch(200)
    single.update(1.5)
    blobs = [*SKETCHES, empty, bytes(single.serialize())]
    assert all(isinstance(_one_sketch(b), tuple) for b in blobs)
    for got, blob in zip(_many_sketches(blobs), blobs, strict=True):
        assert _same(got, _one_sketch(blob))


def test_corrupt_sketches_in_batches_are_refused_exactly_where_alone() -> None:
    rng = random.Random(11)
    refused = accepted = 0
    for _ in range(300):
        blobs = [
            rng.choice(SKETCHES) if rng.random() < 0.5 else mutate_bytes(rng.choice(SKETCHES), rng)
            for _ in range(rng.randint(1, 24))
        ]
        for got, blob in zip(_many_sketches(blobs), blobs, strict=True):
            want = _one_sketch(blob)
            assert _same(got, want), (got, want)
            refused += isinstance(want, str)
            accepted += isinstance(want, tuple)
    assert refused > 500 and accepted > 500


def _good(values: np.ndarray, k: int = 8) -> bytes:
    return kll_from_sorted(np.sort(values), k)


@pytest.mark.parametrize("neighbour_first", [True, False])
def test_a_corrupt_level_next_to_a_valid_sketch_is_refused(neighbour_first: bool) -> None:
    """Descents are allowed at level starts and inside unsorted level zeros; those of
    one sketch must not excuse a descent in its neighbour."""
    sketch = kll_doubles_sketch(8)
    sketch.update(np.random.default_rng(3).permutation(np.arange(200.0)))
    neighbour = bytes(sketch.serialize())  # unsorted level zero
    good = bytearray(_good(np.arange(1000.0)))
    last = len(good) - 8
    good[last - 8 : last], good[last:] = good[last:], good[last - 8 : last]
    bad = bytes(good)
    blobs = [neighbour, bad] if neighbour_first else [bad, neighbour]
    got = _many_sketches(blobs)
    assert got == [_one_sketch(b) for b in blobs]
    assert "not sorted" in str(got[blobs.index(bad)])


def test_deep_or_huge_sketches_take_the_single_reader() -> None:
    blob = bytearray(_good(np.arange(1000.0)))
    struct.pack_into("<Q", blob, 8, 1 << 63)  # n past the batch pass's int64 range
    assert _many_sketches([bytes(blob)]) == [_one_sketch(bytes(blob))]


def _one_event(row: dict[str, object]) -> object:
    try:
        return decode_summary(row)
    except BadSummary as exc:
        return f"refused: {exc.reason}"


def _many_events(rows: list[dict[str, object]]) -> list[object]:
    return [
        f"refused: {got.reason}" if isinstance(got, BadSummary) else got
        for got in decode_summaries(rows)
    ]


def test_real_events_decode_alike_alone_and_in_a_batch() -> None:
    assert len(EVENTS) > 20
    assert any(row[attr.FEATURE_KIND] == "numerical" for row in EVENTS)
    want = [_one_event(row) for row in EVENTS]
    assert not any(isinstance(w, str) for w in want)
    assert _many_events(EVENTS) == want


def test_corrupt_events_in_batches_are_refused_exactly_where_alone() -> None:
    rng = random.Random(23)
    refused = accepted = 0
    for _ in range(150):
        rows = [
            dict(rng.choice(EVENTS))
            if rng.random() < 0.4
            else mutate_event(rng.choice(EVENTS), rng)
            for _ in range(rng.randint(1, 30))
        ]
        want = [_one_event(row) for row in rows]
        assert _many_events(rows) == want
        refused += sum(isinstance(w, str) for w in want)
        accepted += sum(not isinstance(w, str) for w in want)
    assert refused > 500 and accepted > 500


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (attr.SUMMARY_MEAN, math.nan),
        (attr.SUMMARY_M2, -1.0),
        (attr.SUMMARY_M3, math.nan),
        (attr.SUMMARY_M4, 1e300),
        (attr.SUMMARY_MIN, -1e200),
        (attr.SUMMARY_MAX, 1e200),
        (attr.SUMMARY_COUNT, 1 << 60),
        (attr.SUMMARY_NULLS, True),
        (attr.SUMMARY_MEAN, 1),  # an int: decode_summary takes it, as a float
        (attr.SUMMARY_SKETCH_TYPE, "kll_doubles:7"),
        (attr.SUMMARY_SKETCH, "not base64!"),
    ],
)
def test_each_number_check_of_the_batch_path_matches(key: str, value: object) -> None:
    numerical = [row for row in EVENTS if row[attr.FEATURE_KIND] == "numerical"]
    rows = [dict(row) for row in numerical[:3]]
    rows[1][key] = value
    assert _many_events(rows) == [_one_event(row) for row in rows]


def _parsed_maps(rows: list[dict[str, object]]) -> list[object]:
    """The rows as the collector meets them: event attributes of a span in an OTLP
    request, parsed by the receiver's reduced schema (maps of ``AnyValue``)."""
    span = trace_pb2.Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="predict")
    for row in rows:
        span.events.add(name="mlspan.feature.summary", attributes=_encode_attributes(row))
    request = trace_service_pb2.ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.append(span)
    view = SCHEMA.parse(request.SerializeToString())
    return [event.attributes for event in view.resource_spans[0].scope_spans[0].spans[0].events]


def test_parsed_event_maps_decode_as_their_plain_attributes() -> None:
    """The collector hands ``decode_summaries`` the parsed maps, read key by key; the
    answer must be ``decode_summary``'s of the whole event as a dict, for valid events,
    corrupted ones and values of other OTLP types (arrays, key-value lists, bytes)."""
    rng = random.Random(31)
    numerical = next(row for row in EVENTS if row[attr.FEATURE_KIND] == "numerical")
    odd = [
        {**numerical, attr.SUMMARY_MEAN: [1.0, 2.0]},
        {**numerical, attr.SUMMARY_COUNT: {"a": 1}},
        {**numerical, attr.SUMMARY_SKETCH: b"\x05\x01"},
        {**numerical, attr.FEATURE_KIND: None},
    ]
    accepted = 0
    for _ in range(40):
        rows = [
            dict(event) if rng.random() < 0.4 else mutate_event(event, rng)
            for event in rng.choices(EVENTS, k=rng.randint(1, 20))
        ] + odd
        maps = _parsed_maps(rows)
        want = [_one_event(event_attributes(m)) for m in maps]
        got = [
            f"refused: {g.reason}" if isinstance(g, BadSummary) else g
            for g in decode_summaries(maps)
        ]
        assert got == want
        accepted += sum(not isinstance(w, str) for w in want)
    assert accepted > 100
