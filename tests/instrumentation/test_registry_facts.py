"""What the model registry reads from instrumented calls: score results, library
versions on fits, metrics logged with ``run.log_metric`` and a component's model name."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV

from mlspan.instrumentation.component import component
from mlspan.instrumentation.model_version import model_version_of
from mlspan.semconv import (
    METRIC_NAME,
    METRIC_ROWS,
    METRIC_VALUE,
    MODEL_NAME,
    MODEL_VERSION,
    RUNTIME_LIBRARIES,
)
from mlspan.semconv.events import METRIC_LOGGED
from tests.instrumentation.instrumented import instrumented, provider_with, spans_named


def test_score_spans_carry_the_metric_they_returned() -> None:
    x, y = make_classification(300, n_features=4, random_state=0)
    xr, yr = make_regression(200, n_features=3, random_state=0)
    with instrumented(summaries=False) as exporter:
        model = LogisticRegression().fit(x, y)
        accuracy = model.score(x[:120], y[:120])
        regressor = LinearRegression().fit(xr, yr)
        r2 = regressor.score(xr, yr)
    (classifier_span,) = spans_named(exporter, "score LogisticRegression")
    attributes = dict(classifier_span.attributes or {})
    assert attributes[METRIC_NAME] == "accuracy"
    assert attributes[METRIC_VALUE] == accuracy
    assert attributes[METRIC_ROWS] == 120
    assert attributes[MODEL_VERSION] == model_version_of(model)
    (regressor_span,) = spans_named(exporter, "score LinearRegression")
    assert dict(regressor_span.attributes or {})[METRIC_NAME] == "r2"
    assert dict(regressor_span.attributes or {})[METRIC_VALUE] == r2


def test_a_search_scores_under_its_scoring_name() -> None:
    x, y = make_classification(200, n_features=4, random_state=1)
    with instrumented(summaries=False) as exporter:
        search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, scoring="f1", cv=3)
        search.fit(x, y)
        value = search.score(x, y)
    (span,) = spans_named(exporter, "score GridSearchCV")
    assert dict(span.attributes or {})[METRIC_NAME] == "f1"
    assert dict(span.attributes or {})[METRIC_VALUE] == pytest.approx(value)


def test_user_fits_carry_library_versions_read_once() -> None:
    import sklearn

    x, y = make_classification(100, n_features=4, random_state=2)
    with instrumented(summaries=False) as exporter:
        LogisticRegression().fit(x, y)
        LogisticRegression(C=0.5).fit(x, y)
    spans = spans_named(exporter, "fit LogisticRegression")
    texts = {str(dict(s.attributes or {})[RUNTIME_LIBRARIES]) for s in spans}
    assert len(spans) == 2 and len(texts) == 1
    versions = json.loads(texts.pop())
    assert versions["scikit-learn"] == sklearn.__version__
    assert versions["numpy"] == np.__version__
    assert "python" in versions


def test_log_metric_adds_events_and_model_name_names_the_fits() -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    x, y = make_classification(300, n_features=4, random_state=3)
    exporter = InMemorySpanExporter()
    provider = provider_with(exporter)
    with instrumented(summaries=False, provider=provider):
        with component("train", model_name="churn", tracer_provider=provider) as run:
            model = LogisticRegression().fit(x[:200], y[:200])
            run.add_output(model)
            run.log_metric("f1", f1_score(y[200:], model.predict(x[200:])), rows=100)
            run.log_metric("other", 0.5, model=model_version_of(model))
            run.log_metric("bad", float("nan"))
            run.log_metric("", 1.0)
        outside = LogisticRegression().fit(x, y)
    (train,) = spans_named(exporter, "component train")
    events = [dict(e.attributes or {}) for e in train.events if e.name == METRIC_LOGGED]
    assert [e[METRIC_NAME] for e in events] == ["f1", "other"]
    assert events[0][METRIC_ROWS] == 100
    assert events[1][MODEL_VERSION] == model_version_of(model)
    fits = spans_named(exporter, "fit LogisticRegression")
    names = {
        dict(s.attributes or {})[MODEL_VERSION]: dict(s.attributes or {})[MODEL_NAME] for s in fits
    }
    assert names[model_version_of(model)] == "churn"
    assert names[model_version_of(outside)] == "LogisticRegression"


def test_log_metric_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = provider_with(exporter)
    with caplog.at_level(logging.WARNING), component("step", tracer_provider=provider) as run:
        run.log_metric("x", "not a number")  # type: ignore[arg-type]
        run.log_metric("y", 1.0, rows=-3)
        run.log_metric("z", 1.0, model=object())
    (span,) = exporter.get_finished_spans()
    events = [dict(e.attributes or {}) for e in span.events if e.name == METRIC_LOGGED]
    assert [e[METRIC_NAME] for e in events] == ["y", "z"]
    assert METRIC_ROWS not in events[0]
    assert "needs a number" in caplog.text


def test_estimators_scikit_learn_functions_use_internally_make_no_spans() -> None:
    x, y = make_classification(300, n_features=4, random_state=4)
    with instrumented(summaries=False) as exporter:
        model = LogisticRegression().fit(x, y)
        value = f1_score(y, model.predict(x))
    names = [span.name for span in exporter.get_finished_spans()]
    assert names == ["fit LogisticRegression", "predict LogisticRegression"]
    assert 0.0 < value <= 1.0
