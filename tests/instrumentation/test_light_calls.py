"""Light calls (the user's own small predict-like calls): exactly the attributes of the
contract, nothing nested recorded, and cached per-model facts that follow refits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mlspan.instrumentation.model_version import model_version_of
from mlspan.semconv import (
    CALL_ROLE,
    DATASET_ROLE,
    DATASET_ROWS,
    MODEL_CLASS,
    MODEL_FRAMEWORK,
    MODEL_NAME,
    MODEL_VERSION,
    OPERATION_NAME,
    SUMMARY_CALLS,
)
from tests.instrumentation.instrumented import instrumented, operation, provider_with

LIGHT_KEYS = {
    MODEL_CLASS,
    MODEL_NAME,
    MODEL_FRAMEWORK,
    OPERATION_NAME,
    DATASET_ROLE,
    CALL_ROLE,
    MODEL_VERSION,
    DATASET_ROWS,
}


def data() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 4))
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    return x, (x[:, 0] > 0).astype(int), frame


@pytest.mark.parametrize("kind", ["ndarray", "DataFrame"])
def test_a_light_span_in_a_trace_carries_exactly_the_contract_attributes(kind: str) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    x, y, frame = data()
    inputs = x if kind == "ndarray" else frame
    exporter = InMemorySpanExporter()
    provider = provider_with(exporter)
    with instrumented(provider=provider):
        model = LogisticRegression().fit(inputs, y)
        exporter.clear()
        with provider.get_tracer("app").start_as_current_span("request") as request:
            for i in range(3):
                row = inputs[i : i + 1] if kind == "ndarray" else frame.iloc[i : i + 1]
                model.predict(row)
    light = [s for s in exporter.get_finished_spans() if s.name == "predict LogisticRegression"]
    assert len(light) == 3  # decision_function inside predict makes no span
    for span in light:
        attributes = dict(span.attributes or {})
        assert set(attributes) == LIGHT_KEYS
        assert attributes == {
            MODEL_CLASS: "sklearn.linear_model.LogisticRegression",
            MODEL_NAME: "LogisticRegression",
            MODEL_FRAMEWORK: "scikit-learn",
            OPERATION_NAME: "predict",
            DATASET_ROLE: "inference",
            CALL_ROLE: "user",
            MODEL_VERSION: model_version_of(model),
            DATASET_ROWS: 1,
        }
        assert span.parent is not None
        assert span.parent.span_id == request.get_span_context().span_id
        assert not span.events


def test_a_model_fitted_without_instrumentation_gets_its_version_once() -> None:
    x, y, _ = data()
    model = LogisticRegression().fit(x, y)  # not instrumented: no stored version
    with instrumented(online_root_span_seconds=0) as exporter:
        for i in range(3):
            model.predict(x[i : i + 1])
    light = [s for s in exporter.get_finished_spans() if s.name == "predict LogisticRegression"]
    versions = {dict(s.attributes or {}).get(MODEL_VERSION) for s in light}
    assert len(light) == 3 and versions == {model_version_of(model)}
    assert str(versions.pop()).startswith("model:xxh3_128:")


def test_a_refit_changes_the_version_of_light_spans_and_of_their_summaries() -> None:
    x, y, _ = data()
    options = {"online_root_span_seconds": 0, "online_flush_rows": 1000}
    with instrumented(**options) as exporter:
        model = LogisticRegression().fit(x, y)
        first = model_version_of(model)
        model.predict(x[:1])
        model.set_params(C=0.5).fit(x, y)
        second = model_version_of(model)
        model.predict(x[:1])
        model.predict(x[1:2])
    assert first != second
    spans = exporter.get_finished_spans()
    light = [s for s in spans if s.name == "predict LogisticRegression"]
    assert [dict(s.attributes or {})[MODEL_VERSION] for s in light] == [first, second, second]
    summaries = {
        dict(s.attributes or {})[MODEL_VERSION]: dict(s.attributes or {})[SUMMARY_CALLS]
        for s in spans
        if operation(s) == "summary"
    }
    assert summaries == {first: 1, second: 2}


def test_the_model_name_option_names_light_spans_and_their_summary() -> None:
    x, y, _ = data()
    with instrumented(online_root_span_seconds=0, model_name="churn") as exporter:
        model = LogisticRegression().fit(x, y)
        model.predict_proba(x[:1])
    spans = exporter.get_finished_spans()
    (light,) = [s for s in spans if s.name == "predict_proba LogisticRegression"]
    (summary,) = [s for s in spans if operation(s) == "summary"]
    assert dict(light.attributes or {})[MODEL_NAME] == "churn"
    assert dict(summary.attributes or {})[MODEL_NAME] == "churn"
    assert summary.name == "summary churn"


def test_nothing_nested_in_a_light_pipeline_call_is_recorded() -> None:
    x, y, _ = data()
    with instrumented(online_root_span_seconds=0) as exporter:
        pipeline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
        pipeline.fit(x, y)
        exporter.clear()
        pipeline.predict(x[:1])
    names = [s.name for s in exporter.get_finished_spans() if operation(s) != "summary"]
    assert names == ["predict Pipeline"]


def test_a_failing_light_call_raises_unchanged_and_marks_its_span() -> None:
    x, y, _ = data()
    with instrumented(online_root_span_seconds=0) as exporter:
        model = LogisticRegression().fit(x, y)
        exporter.clear()
        with pytest.raises(ValueError, match="features"):
            model.predict(np.zeros((1, 3)))
        model.predict(x[:1])  # the next call is recorded as usual
    light = [s for s in exporter.get_finished_spans() if s.name == "predict LogisticRegression"]
    assert len(light) == 2
    assert light[0].status.status_code.name == "ERROR"
    assert [e.name for e in light[0].events] == ["exception"]
    assert light[1].status.status_code.name == "UNSET"
