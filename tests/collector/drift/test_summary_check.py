"""The checked summary decoder on real instrumentation events and on corrupt ones."""

from __future__ import annotations

import base64
import json
import math
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlspan.collector.drift.summary_check import BadSummary, decode_summary
from mlspan.semconv import attributes as attr
from mlspan.summaries import CategoricalSummary, FeatureSummary, NumericalSummary
from tests.collector.drift.batches import categorical, numerical
from tests.collector.drift.corpus import summary_events
from tests.collector.drift.mutations import mutate_event

EVENTS = summary_events(seed=5)


def test_every_real_event_decodes_as_the_shared_decoder_does() -> None:
    kinds = {type(FeatureSummary.from_attributes(e).stats) for e in EVENTS}
    assert kinds == {NumericalSummary, CategoricalSummary}
    categorical_stats = [
        s.stats for s in map(decode_summary, EVENTS) if isinstance(s.stats, CategoricalSummary)
    ]
    assert any(s.sketch_bytes for s in categorical_stats)  # spilled into a sketch
    assert any(not s.exact and not s.sketch_bytes for s in categorical_stats)  # shrunk
    numerical_k = {
        s.stats.k for s in map(decode_summary, EVENTS) if isinstance(s.stats, NumericalSummary)
    }
    assert len(numerical_k) > 1  # the span budget shrank some sketches
    for event in EVENTS:
        assert decode_summary(event) == FeatureSummary.from_attributes(event)


def test_merged_summaries_decode_after_the_store_round_trip() -> None:
    rng = np.random.default_rng(0)
    merged = numerical("a", rng.normal(1e9, 1.0, 3_000)).merge(
        numerical("a", rng.normal(1e9, 2.0, 50_000), nulls=7)
    )
    spilled = categorical("c", rng.choice([f"v{i}" for i in range(1500)], 20_000))
    both = spilled.merge(categorical("c", rng.choice(["a", "b"], 500)))
    for summary in (merged, spilled, both, numerical("e", [])):
        stored = json.loads(json.dumps(summary.to_attributes()))
        assert decode_summary(stored) == summary


def _good() -> dict[str, object]:
    return dict(numerical("x", np.arange(100.0)).to_attributes())


def _good_categorical() -> dict[str, object]:
    return dict(categorical("c", ["a"] * 30 + ["b"] * 10).to_attributes())


def _with(base: dict[str, object], **changes: object) -> dict[str, object]:
    out = dict(base)
    for key, value in changes.items():
        name = getattr(attr, key)
        if value is _DROP:
            out.pop(name, None)
        else:
            out[name] = value
    return out


_DROP = object()

CRASH_SKETCH = base64.b64encode(bytes.fromhex("05010f00c80008003b583bad38c275f34aed056a")).decode()

BAD_NUMERICAL = {
    "corrupt 20-byte sketch": {"SUMMARY_SKETCH": CRASH_SKETCH},
    "no sketch": {"SUMMARY_SKETCH": _DROP},
    "sketch not base64": {"SUMMARY_SKETCH": "!!!"},
    "sketch of bytes type": {"SUMMARY_SKETCH": b"\x05\x01"},
    "no kind": {"FEATURE_KIND": _DROP},
    "unknown kind": {"FEATURE_KIND": "ordinal"},
    "kind as int": {"FEATURE_KIND": 1},
    "unknown origin": {"FEATURE_ORIGIN": "elsewhere"},
    "name as list": {"FEATURE_NAME": ["x"]},
    "huge name": {"FEATURE_NAME": "x" * 100_000},
    "count as float": {"SUMMARY_COUNT": 100.0},
    "count as bool": {"SUMMARY_COUNT": True},
    "negative count": {"SUMMARY_COUNT": -1},
    "absurd count": {"SUMMARY_COUNT": 1 << 62},
    "nulls above count": {"SUMMARY_NULLS": 101},
    "count disagrees with sketch": {"SUMMARY_COUNT": 101},
    "nan above nulls": {"SUMMARY_NAN": 1},
    "inf too many": {"SUMMARY_INF": 1},
    "nan mean": {"SUMMARY_MEAN": math.nan},
    "inf m2": {"SUMMARY_M2": math.inf},
    "negative m2": {"SUMMARY_M2": -1.0},
    "m2 impossible": {"SUMMARY_M2": 1e9},
    "m3 impossible": {"SUMMARY_M3": -1e12},
    "m4 impossible": {"SUMMARY_M4": 1e16},
    "mean outside": {"SUMMARY_MEAN": 1e3},
    "mean as text": {"SUMMARY_MEAN": "49.5"},
    "min differs from sketch": {"SUMMARY_MIN": -1.0},
    "min missing": {"SUMMARY_MIN": _DROP},
    "max infinite": {"SUMMARY_MAX": math.inf},
    "sketch type missing": {"SUMMARY_SKETCH_TYPE": _DROP},
    "sketch type of other kind": {"SUMMARY_SKETCH_TYPE": "frequent_strings:200"},
    "k too small": {"SUMMARY_SKETCH_TYPE": "kll_doubles:4"},
    "k huge": {"SUMMARY_SKETCH_TYPE": "kll_doubles:" + "9" * 5000},
    "k signed": {"SUMMARY_SKETCH_TYPE": "kll_doubles:+200"},
}


@pytest.mark.parametrize("case", sorted(BAD_NUMERICAL))
def test_bad_numerical_summaries_are_refused(case: str) -> None:
    with pytest.raises(BadSummary):
        decode_summary(_with(_good(), **BAD_NUMERICAL[case]))


BAD_CATEGORICAL = {
    "categories not JSON": {"SUMMARY_CATEGORIES": "{"},
    "categories a list": {"SUMMARY_CATEGORIES": "[1]"},
    "categories missing": {"SUMMARY_CATEGORIES": _DROP},
    "categories nested deep": {"SUMMARY_CATEGORIES": "[" * 100_000 + "]" * 100_000},
    "count infinite": {"SUMMARY_CATEGORIES": '{"a": 1e400, "b": 10}'},
    "count NaN": {"SUMMARY_CATEGORIES": '{"a": NaN, "b": 10}'},
    "count float": {"SUMMARY_CATEGORIES": '{"a": 30.0, "b": 10}'},
    "count text": {"SUMMARY_CATEGORIES": '{"a": "30", "b": 10}'},
    "count negative": {"SUMMARY_CATEGORIES": '{"a": 50, "b": -10}'},
    "count huge": {"SUMMARY_CATEGORIES": '{"a": ' + "9" * 5000 + "}"},
    "exact sum wrong": {"SUMMARY_CATEGORIES": '{"a": 31, "b": 10}'},
    "exact as text": {"SUMMARY_CATEGORIES_EXACT": "false"},
    "cap zero": {"SUMMARY_SKETCH_TYPE": "frequent_strings:0"},
    "cap absurd": {"SUMMARY_SKETCH_TYPE": "frequent_strings:99999999"},
    "more categories than cap": {"SUMMARY_SKETCH_TYPE": "frequent_strings:1"},
    "exact with a sketch": {
        "SUMMARY_SKETCH": base64.b64encode(b"\x01\x01\x0a\x04\x03\x05\0\0").decode()
    },
    "corrupt sketch": {
        "SUMMARY_CATEGORIES_EXACT": False,
        "SUMMARY_SKETCH": base64.b64encode(b"\x04\x01\x0a\x04\x03\0\0\0" + b"\xff" * 24).decode(),
    },
}


@pytest.mark.parametrize("case", sorted(BAD_CATEGORICAL))
def test_bad_categorical_summaries_are_refused(case: str) -> None:
    with pytest.raises(BadSummary):
        decode_summary(_with(_good_categorical(), **BAD_CATEGORICAL[case]))


def test_a_shrunk_categorical_summary_may_count_fewer_than_its_rows() -> None:
    shrunk = _with(
        _good_categorical(), SUMMARY_CATEGORIES='{"a": 30}', SUMMARY_CATEGORIES_EXACT=False
    )
    stats = decode_summary(shrunk).stats
    assert isinstance(stats, CategoricalSummary) and not stats.exact


def test_values_beyond_the_magnitude_bound_are_refused() -> None:
    decode_summary(dict(numerical("x", [1e60, -1e60, 3.0]).to_attributes()))
    constant = dict(numerical("x", np.full(10, -1e146)).to_attributes())  # moments all 0
    with pytest.raises(BadSummary, match="beyond"):
        decode_summary(constant)
    # Past ~1e77 the sum of 4th powers exceeds float64 and travels as inf: accepted.
    overflowed = dict(numerical("x", [1e80, 3.0]).to_attributes())
    assert overflowed[attr.SUMMARY_M4] == math.inf
    assert decode_summary(overflowed).stats.moments.m4 == math.inf  # type: ignore[union-attr]
    # ... but not where the extremes make it impossible.
    small = dict(numerical("x", [1.0, 3.0]).to_attributes()) | {attr.SUMMARY_M4: math.inf}
    with pytest.raises(BadSummary, match="impossible"):
        decode_summary(small)


def test_a_constant_column_decodes_despite_the_rounding_of_its_mean() -> None:
    for value in (0.1, 1e-300, 123456.789, -7.3e40):
        summary = numerical("x", np.full(10_001, value))
        assert decode_summary(dict(summary.to_attributes())) == summary


_ATTRIBUTE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(sorted(set(_good()) | set(_good_categorical()))), _ATTRIBUTE_VALUES
    ),
    st.booleans(),
)
def test_any_attribute_values_raise_only_bad_summary(
    changes: dict[str, object], categorical_base: bool
) -> None:
    event = _good_categorical() if categorical_base else _good()
    event.update(changes)
    try:
        decode_summary(event)
    except BadSummary as exc:
        assert exc.reason


def test_mutations_of_real_events_raise_only_bad_summary() -> None:
    rng = random.Random(9)
    outcomes = {"accepted": 0, "refused": 0}
    for _ in range(3_000):
        try:
            decode_summary(mutate_event(rng.choice(EVENTS), rng))
            outcomes["accepted"] += 1
        except BadSummary:
            outcomes["refused"] += 1
    assert outcomes["refused"] > outcomes["accepted"] > 0
