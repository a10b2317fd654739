"""scikit-learn spans: contract attributes, lineage ids, model versions, nesting, restore."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
import wrapt
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import StatusCode
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlspan.instrumentation import call_state
from mlspan.instrumentation.digest import digest_data
from mlspan.instrumentation.model_version import model_version_of
from mlspan.instrumentation.sklearn import PUBLIC_MODULES, SklearnInstrumentor
from mlspan.instrumentation.sklearn_methods import METHODS
from mlspan.semconv import (
    CALL_ROLE,
    DATASET_COLUMNS,
    DATASET_DIGEST,
    DATASET_ROLE,
    DATASET_ROWS,
    DATASET_TARGET_DIGEST,
    DIGEST_ALGORITHM,
    IO_INPUTS,
    IO_OUTPUTS,
    MODEL_CLASS,
    MODEL_FRAMEWORK,
    MODEL_NAME,
    MODEL_PARAMS,
    MODEL_VERSION,
    OPERATION_NAME,
    PREDICTION_DIGEST,
)
from tests.instrumentation.instrumented import instrumented, spans_named, summary_events


def frame(rows: int = 200) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(
        {
            "age": rng.normal(40, 10, rows),
            "income": rng.lognormal(3, 1, rows),
            "n": rng.integers(0, 5, rows),
        }
    )
    y = pd.Series((x["age"] > 40).astype(int), name="churn")
    return x, y


def test_fit_and_predict_spans_carry_the_contract_attributes() -> None:
    x, y = frame()
    with instrumented() as exporter:
        model = LogisticRegression(C=0.5).fit(x, y)
        predictions = model.predict(x)
    (fit,) = spans_named(exporter, "fit LogisticRegression")
    (predict,) = spans_named(exporter, "predict LogisticRegression")
    attrs = dict(fit.attributes or {})
    version = model_version_of(model)
    assert version is not None and version.startswith("model:xxh3_128:")
    assert attrs[OPERATION_NAME] == "fit" and attrs[DATASET_ROLE] == "train"
    assert attrs[MODEL_CLASS] == "sklearn.linear_model.LogisticRegression"
    assert attrs[MODEL_NAME] == "LogisticRegression" and attrs[MODEL_FRAMEWORK] == "scikit-learn"
    assert json.loads(str(attrs[MODEL_PARAMS]))["C"] == 0.5
    assert attrs[DATASET_DIGEST] == digest_data(x)
    assert attrs[DATASET_TARGET_DIGEST] == digest_data(y)
    assert attrs[DATASET_ROWS] == 200 and attrs[DATASET_COLUMNS] == 3
    assert attrs[DIGEST_ALGORITHM] == "xxh3_128"
    assert list(attrs[IO_INPUTS]) == [digest_data(x), digest_data(y)]  # type: ignore[arg-type]
    assert list(attrs[IO_OUTPUTS]) == [version] and attrs[MODEL_VERSION] == version  # type: ignore[arg-type]
    names = [event["mlspan.feature.name"] for event in summary_events(fit)]
    assert names == ["age", "income", "n", "churn"]

    pattrs = dict(predict.attributes or {})
    assert pattrs[MODEL_VERSION] == version and pattrs[DATASET_ROLE] == "inference"
    assert list(pattrs[IO_INPUTS]) == [digest_data(x), version]  # type: ignore[arg-type]
    assert pattrs[PREDICTION_DIGEST] == digest_data(predictions)
    assert list(pattrs[IO_OUTPUTS]) == [digest_data(predictions)]  # type: ignore[arg-type]
    origins = [event["mlspan.feature.origin"] for event in summary_events(predict)]
    assert origins == ["input"] * 3 + ["prediction"]


def test_model_version_survives_pickling_and_changes_with_data_and_params() -> None:
    x, y = frame()
    with instrumented() as exporter:
        model = LogisticRegression().fit(x, y)
        restored = pickle.loads(pickle.dumps(model))
        restored.predict_proba(x)
        other_data = LogisticRegression().fit(x.iloc[:-1], y.iloc[:-1])
        other_params = LogisticRegression(C=2.0).fit(x, y)
        same = LogisticRegression().fit(x.copy(), y.copy())
    (proba,) = spans_named(exporter, "predict_proba LogisticRegression")
    version = model_version_of(model)
    assert dict(proba.attributes or {})[MODEL_VERSION] == version
    assert model_version_of(same) == version
    assert len({version, model_version_of(other_data), model_version_of(other_params)}) == 3


def test_pipeline_steps_are_child_spans_and_self_calls_make_no_extra_span() -> None:
    x, y = frame()
    pipeline = make_pipeline(StandardScaler(), LogisticRegression())
    with instrumented() as exporter:
        pipeline.fit(x, y)
        pipeline.predict(x)
    (fit,) = spans_named(exporter, "fit Pipeline")
    (scaler,) = spans_named(exporter, "fit_transform StandardScaler")
    assert scaler.parent is not None and scaler.parent.span_id == fit.context.span_id
    assert not spans_named(exporter, "fit StandardScaler")  # fit_transform's own fit
    (transform,) = spans_named(exporter, "transform StandardScaler")
    (predict,) = spans_named(exporter, "predict Pipeline")
    assert transform.parent is not None and transform.parent.span_id == predict.context.span_id
    scaler_outputs = list(dict(scaler.attributes or {})[IO_OUTPUTS])  # type: ignore[arg-type]
    assert scaler_outputs[0] == model_version_of(pipeline.steps[0][1])
    assert dict(transform.attributes or {})[MODEL_VERSION] == scaler_outputs[0]


def test_each_distinct_input_is_digested_once_per_outermost_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x, y = frame()
    calls: list[int] = []
    original = call_state.digest_data

    def counting(data: object) -> str | None:
        calls.append(id(data))
        return original(data)

    monkeypatch.setattr(call_state, "digest_data", counting)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression()),
        {"logisticregression__C": [0.1, 1.0]},
        cv=2,
    )
    with instrumented(candidate_spans=True) as exporter:
        search.fit(x, y)
    assert calls.count(id(x)) == 1 and calls.count(id(y)) == 1
    (outer,) = spans_named(exporter, "fit GridSearchCV")
    inner = spans_named(exporter, "fit Pipeline")
    assert len(inner) == 5  # 2 candidates x 2 folds + the refit, all role candidate
    assert {dict(span.attributes or {})[CALL_ROLE] for span in inner} == {"candidate"}
    assert all(span.context.trace_id == outer.context.trace_id for span in inner)


def test_search_predict_is_one_span_summarised_with_fit_time_kinds() -> None:
    x, y = frame()
    x["city"] = np.where(x["age"] > 40, "paris", "lyon")
    pre = ColumnTransformer(
        [("num", StandardScaler(), ["age", "income"]), ("cat", OneHotEncoder(), ["city"])]
    )
    search = GridSearchCV(
        Pipeline([("pre", pre), ("clf", LogisticRegression())]), {"clf__C": [1.0]}, cv=2
    )
    with instrumented() as exporter:
        search.fit(x, y).predict(x)
    (predict,) = spans_named(exporter, "predict GridSearchCV")
    assert dict(predict.attributes or {})[MODEL_VERSION] == model_version_of(search)
    # the search hands the call to its refitted best pipeline: an internal call, no span
    assert spans_named(exporter, "predict Pipeline") == []
    (fit,) = spans_named(exporter, "fit GridSearchCV")
    assert [span.name for span in exporter.get_finished_spans()] == [fit.name, predict.name]
    kinds = {e["mlspan.feature.name"]: e["mlspan.feature.kind"] for e in summary_events(predict)}
    assert kinds["city"] == "categorical" and kinds["age"] == "numerical"


def test_exceptions_pass_through_and_mark_the_span() -> None:
    with instrumented() as exporter, pytest.raises(ValueError, match="Found input variables"):
        LinearRegression().fit(np.ones((3, 2)), np.ones(4))
    (span,) = spans_named(exporter, "fit LinearRegression")
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events][-1] == "exception"


def test_available_if_methods_keep_their_availability() -> None:
    with instrumented():
        regression = make_pipeline(StandardScaler(), LinearRegression())
        assert not hasattr(regression, "predict_proba")
        assert hasattr(make_pipeline(LogisticRegression()), "predict_proba")


def test_non_recording_spans_do_no_work() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    x, y = frame()
    with instrumented(provider=provider):
        model = LogisticRegression().fit(x, y)
    assert model_version_of(model) is None and not exporter.get_finished_spans()


def _public_methods() -> dict[tuple[int, str], Any]:
    snapshot: dict[tuple[int, str], Any] = {}
    for module_name in PUBLIC_MODULES:
        module = sys.modules.get(module_name)
        for name in getattr(module, "__all__", ()):
            try:
                cls = getattr(module, name, None)
            except ImportError:
                continue
            if isinstance(cls, type):
                for base in cls.__mro__:
                    for method in METHODS:
                        if method in vars(base):
                            snapshot[(id(base), method)] = vars(base)[method]
    return snapshot


def test_uninstrument_restores_every_original_exactly() -> None:
    import sklearn.cluster
    import sklearn.ensemble
    import sklearn.svm  # noqa: F401

    before = _public_methods()
    with instrumented():
        during = _public_methods()
        assert isinstance(vars(LogisticRegression)["fit"], wrapt.FunctionWrapper)
        assert sum(isinstance(v, wrapt.FunctionWrapper) for v in during.values()) > 100
    after = _public_methods()
    assert before.keys() == after.keys()
    assert all(after[key] is before[key] for key in before)


def test_instrument_imports_nothing_from_sklearn_and_patches_on_import() -> None:
    script = """
import sys
from opentelemetry.sdk.trace import TracerProvider
from mlspan.instrumentation.sklearn import SklearnInstrumentor
SklearnInstrumentor().instrument(tracer_provider=TracerProvider())
assert not [m for m in sys.modules if m.startswith("sklearn")], "sklearn imported"
import wrapt
from sklearn.linear_model import Ridge
assert isinstance(vars(Ridge)["fit"], wrapt.FunctionWrapper)
assert not [m for m in sys.modules if m.startswith("sklearn.neural_network")]
SklearnInstrumentor().uninstrument()
assert not isinstance(vars(Ridge)["fit"], wrapt.FunctionWrapper)
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_instrumentor_declares_supported_versions() -> None:
    assert list(SklearnInstrumentor().instrumentation_dependencies()) == ["scikit-learn >= 1.3"]


class Doubler(StandardScaler):
    """A user's own estimator: inherits wrapped methods and must be recorded."""


def test_user_subclasses_are_recorded_and_internal_helpers_are_not() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = frame()
    with instrumented() as exporter:
        Doubler().fit(x)
        HistGradientBoostingClassifier(max_iter=2).fit(x, y)
    names = [span.name for span in exporter.get_finished_spans()]
    assert "fit Doubler" in names and "fit HistGradientBoostingClassifier" in names
    assert not [name for name in names if "BinMapper" in name]


def test_a_failure_inside_mlspan_never_reaches_the_caller(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from mlspan.instrumentation.summarize import Summarizer

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("mlspan is broken")

    x, y = frame()
    expected = LogisticRegression().fit(x, y).predict(x)
    monkeypatch.setattr(call_state, "digest_data", broken)
    monkeypatch.setattr(Summarizer, "summarize", broken)
    with instrumented() as exporter:
        model = LogisticRegression().fit(x, y)
        np.testing.assert_array_equal(model.predict(x), expected)
        big = np.tile(x.to_numpy(), (600, 1))  # summarised on the worker thread
        assert LogisticRegression().fit(big, np.tile(y.to_numpy(), 600)) is not None
    assert "mlspan could not" in caplog.text
    assert all(span.end_time is not None for span in exporter.get_finished_spans())
