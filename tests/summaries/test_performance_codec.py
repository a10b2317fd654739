"""Performance summaries survive the span round trip; bad attributes are refused safely."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlspan.semconv import attributes as attr
from mlspan.summaries import performance_metrics as pm
from mlspan.summaries.performance_build import classification_summary, regression_summary
from mlspan.summaries.performance_codec import (
    PerformanceDecodeError,
    decode_performance,
    performance_attributes,
)
from tests.collector.drift.test_kll_format import CRASHERS


def classifier_attributes() -> dict[str, object]:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 3000)
    proba = rng.dirichlet([1.0, 1.0, 1.0], y.size)
    summary = classification_summary(
        y, proba.argmax(axis=1), proba, classes=[0, 1, 2], delays=rng.exponential(60, y.size)
    )
    return dict(performance_attributes(summary))


def test_classifier_round_trip_keeps_every_metric() -> None:
    attributes = classifier_attributes()
    decoded = decode_performance(attributes)
    assert performance_attributes(decoded) == attributes
    assert pm.metrics(decoded)["accuracy"] == pytest.approx(decoded.matrix().trace() / 3000)


def test_regressor_round_trip() -> None:
    summary = regression_summary([1.0, 2.0, 4.0], [1.5, 2.0, 3.0], delays=[5.0, 1.0, 9.0])
    decoded = decode_performance(performance_attributes(summary))
    assert decoded == summary


def broken(key: str, edit: object) -> dict[str, object]:
    attributes = classifier_attributes()
    attributes[key] = edit(attributes[key]) if callable(edit) else edit
    return attributes


def _bump_confusion(text: str) -> str:
    rows = json.loads(text)
    rows[0][0] += 1
    return json.dumps(rows)


def _crash_scores(text: str) -> str:
    scores = json.loads(text)
    scores["0"][0] = base64.b64encode(bytes.fromhex(CRASHERS[0])).decode()
    return json.dumps(scores)


def _short_scores(text: str) -> str:
    scores = json.loads(text)
    scores["1"][1] = scores["1"][0]
    return json.dumps(scores)


@pytest.mark.parametrize(
    ("key", "edit"),
    [
        (attr.PERFORMANCE_TASK, "ranker"),
        (attr.PERFORMANCE_COUNT, -1),
        (attr.PERFORMANCE_COUNT, True),
        (attr.PERFORMANCE_LABELS, ["2", "1", "0"]),
        (attr.PERFORMANCE_CONFUSION, _bump_confusion),
        (attr.PERFORMANCE_CONFUSION, "[[1e999]]"),
        (attr.PERFORMANCE_CONFUSION, "[" * 100_000),
        (attr.PERFORMANCE_SCORES, _crash_scores),
        (attr.PERFORMANCE_SCORES, _short_scores),
        (attr.PERFORMANCE_SCORES, "not json"),
        (attr.PERFORMANCE_PROBABILITY, lambda t: t.replace('"rows":3000', '"rows":2999')),
        (attr.PERFORMANCE_DELAY, base64.b64encode(b"\x05\x01\x0f\x00" * 5).decode()),
        (attr.PERFORMANCE_DELAY, "%%%"),
    ],
)
def test_bad_attributes_are_refused(key: str, edit: object) -> None:
    with pytest.raises(PerformanceDecodeError):
        decode_performance(broken(key, edit))


@pytest.mark.parametrize("crasher", CRASHERS)
def test_crashing_sketch_bytes_never_reach_datasketches(crasher: str) -> None:
    attributes = classifier_attributes()
    attributes[attr.PERFORMANCE_DELAY] = base64.b64encode(bytes.fromhex(crasher)).decode()
    with pytest.raises(PerformanceDecodeError):
        decode_performance(attributes)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mutated_attributes_decode_or_are_refused_and_decoded_ones_are_usable(
    data: st.DataObject,
) -> None:
    attributes = dict(BASE)
    key = data.draw(st.sampled_from(sorted(k for k, v in attributes.items() if isinstance(v, str))))
    text = str(attributes[key])
    raw = bytearray(base64.b64decode(text)) if key == attr.PERFORMANCE_DELAY else None
    if raw is not None:
        index = data.draw(st.integers(0, len(raw) - 1))
        raw[index] = data.draw(st.integers(0, 255))
        attributes[key] = base64.b64encode(bytes(raw)).decode()
    else:
        index = data.draw(st.integers(0, len(text) - 1))
        attributes[key] = text[:index] + data.draw(st.characters(codec="ascii")) + text[index + 1 :]
    try:
        decoded = decode_performance(attributes)
    except PerformanceDecodeError:
        return
    pm.metrics(decoded.merge(decoded))  # the checked sketches are safe for the library


BASE = classifier_attributes()
