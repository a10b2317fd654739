"""Stored drift state is decoded as carefully as requests: a damaged row is skipped."""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlspan.collector.drift.codec import (
    ResultDecodeError,
    drift_from_json,
    drift_to_json,
    validation_from_json,
)
from mlspan.collector.drift.results import DatasetDrift, FeatureDrift, MetricResult, ModelKey
from mlspan.collector.drift.store import ResultStore
from mlspan.semconv import attributes as attr
from tests.collector.drift.batches import numerical
from tests.collector.drift.test_kll_format import CRASHERS

KEY = ModelKey("svc", "churn", "v1")


def _drift() -> DatasetDrift:
    metric = MetricResult("ks", 0.2, 0.1, 0.01, True)
    feature = FeatureDrift("age", "numerical", "input", (metric,), True, "moved", 10, 20)
    return DatasetDrift(KEY, 1.0, 2.0, (feature,), 1.0, True, "drifted")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_JSON, st.sampled_from(sorted(drift_to_json(_drift()))))
def test_result_readers_raise_only_their_error(value: Any, key: str) -> None:
    for document in (value, {**drift_to_json(_drift()), key: value}):
        for reader in (drift_from_json, validation_from_json):
            with contextlib.suppress(ResultDecodeError):
                reader(document)


def test_a_damaged_stored_row_is_skipped_and_the_rest_restored(tmp_path: Path) -> None:
    path = tmp_path / "drift.sqlite"
    store = ResultStore(path, history=10)
    store.save_result(_drift(), [])
    good = numerical("age", np.arange(100.0))
    store.save_baselines([(KEY, good)], {KEY: set()})
    store.close()
    broken = dict(numerical("income", np.arange(100.0)).to_attributes())
    broken[attr.SUMMARY_SKETCH] = base64.b64encode(bytes.fromhex(CRASHERS[1])).decode()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO drift_result (service, model, version, window_end, drift, validation)"
            " VALUES ('svc', 'churn', 'v1', 3.0, ?, '[]')",
            (json.dumps({"features": [{"feature": 1}]}),),
        )
        db.execute(
            "INSERT INTO drift_result (service, model, version, window_end, drift, validation)"
            " VALUES ('svc', 'churn', 'v1', 4.0, ?, '{\"not\": \"a list\"}')",
            (json.dumps(drift_to_json(_drift())),),
        )
        db.execute(
            "INSERT INTO drift_baseline VALUES ('svc', 'churn', 'v1', 'income', 'input', ?)",
            (json.dumps(broken),),
        )
    store = ResultStore(path, history=10)
    try:
        assert [drift for drift, _checks in store.results()] == [_drift()]
        assert store.baselines() == [(KEY, good)]
    finally:
        store.close()
