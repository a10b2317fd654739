"""What each scikit-learn call becomes, by its role (see mlspan.instrumentation.roles).

The user's own call is a full run; a Pipeline/FeatureUnion/ColumnTransformer step a child
span with lineage facts; a search or cross-validation one run listing its candidates;
an estimator's internal use of other estimators (label encoding, a forest's trees,
calibration folds, a search's refit) nothing at all, in the caller's thread or in joblib
workers.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from joblib import Parallel, delayed, parallel_backend
from opentelemetry.sdk.trace import ReadableSpan
from sklearn import model_selection
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.feature_selection import SelectKBest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlspan.instrumentation.model_version import model_version_of
from mlspan.semconv import (
    CALL_ROLE,
    DATASET_DIGEST,
    IO_INPUTS,
    IO_OUTPUTS,
    MODEL_PARAMS,
    MODEL_VERSION,
    OPERATION_NAME,
    PREDICTION_DIGEST,
    SEARCH_BEST_INDEX,
    SEARCH_BEST_SCORE,
    SEARCH_CANDIDATES,
    SEARCH_RESULTS,
    SEARCH_SPLITS,
)
from tests.instrumentation.instrumented import instrumented, summary_events

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def digits(rows: int = 400) -> tuple[np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    return x[:rows], y[:rows]


def attrs(span: ReadableSpan) -> dict[str, object]:
    return dict(span.attributes or {})


def names(spans: tuple[ReadableSpan, ...] | list[ReadableSpan]) -> list[str]:
    return [span.name for span in spans]


def test_a_classifiers_internal_label_encoding_makes_no_span() -> None:
    x, y = digits()
    with instrumented() as exporter:
        model = LogisticRegression(max_iter=50).fit(x, y.astype(str))
    (span,) = exporter.get_finished_spans()
    assert span.name == "fit LogisticRegression" and attrs(span)[CALL_ROLE] == "user"
    assert attrs(span)[IO_OUTPUTS] == (model_version_of(model),)
    assert len(summary_events(span)) == 65  # 64 pixels and the target


def test_pipeline_steps_are_child_spans_with_lineage_and_no_summaries() -> None:
    x, y = digits()
    with instrumented() as exporter:
        Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=50))]).fit(x, y)
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"fit Pipeline", "fit_transform StandardScaler", "fit LogisticRegression"}
    pipeline, scaler, clf = (
        spans["fit Pipeline"],
        spans["fit_transform StandardScaler"],
        spans["fit LogisticRegression"],
    )
    assert attrs(pipeline)[CALL_ROLE] == "user" and summary_events(pipeline)
    for step in (scaler, clf):
        assert step.parent is not None and step.parent.span_id == pipeline.context.span_id
        assert attrs(step)[CALL_ROLE] == "step" and summary_events(step) == []
    scaled = attrs(scaler)[IO_OUTPUTS]
    assert isinstance(scaled, tuple) and scaled[-1] in tuple(attrs(clf)[IO_INPUTS])  # type: ignore[arg-type]
    assert attrs(scaler)[DATASET_DIGEST] == attrs(pipeline)[DATASET_DIGEST]


@pytest.mark.filterwarnings("ignore:Features .* are constant")
@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_feature_union_and_column_transformer_steps_are_step_spans() -> None:
    import pandas as pd

    x, y = digits()
    union = make_pipeline(FeatureUnion([("pca", PCA(5)), ("best", SelectKBest(k=5))]), GaussianNB())
    frame = pd.DataFrame({"n": np.arange(40.0), "c": ["a", "b"] * 20})
    columns = ColumnTransformer([("num", StandardScaler(), ["n"]), ("cat", OneHotEncoder(), ["c"])])
    with instrumented() as exporter:
        union.fit(x, y)
        columns.fit_transform(frame)
    roles = {span.name: attrs(span)[CALL_ROLE] for span in exporter.get_finished_spans()}
    assert roles == {
        "fit Pipeline": "user",
        "fit_transform FeatureUnion": "step",
        "fit_transform PCA": "step",
        "fit_transform SelectKBest": "step",
        "fit GaussianNB": "step",
        "fit_transform ColumnTransformer": "user",
        "fit_transform StandardScaler": "step",
        "fit_transform OneHotEncoder": "step",
    }


def test_ensembles_and_calibration_are_one_span_each() -> None:
    x, y = digits()
    forest = RandomForestClassifier(n_estimators=8, n_jobs=2, random_state=0)
    voting = VotingClassifier([("lr", LogisticRegression(max_iter=50)), ("nb", GaussianNB())])
    calibrated = CalibratedClassifierCV(GaussianNB(), cv=3)
    with instrumented() as exporter:
        forest.fit(x, y).predict_proba(x)  # the trees predict in joblib threads
        voting.fit(x, y).predict(x)
        calibrated.fit(x, y).predict_proba(x)
    assert names(exporter.get_finished_spans()) == [
        "fit RandomForestClassifier",
        "predict_proba RandomForestClassifier",
        "fit VotingClassifier",
        "predict VotingClassifier",
        "fit CalibratedClassifierCV",
        "predict_proba CalibratedClassifierCV",
    ]


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_a_search_is_one_run_listing_every_candidate(n_jobs: int | None) -> None:
    x, y = digits()
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=50)),
        {"logisticregression__C": [0.01, 0.1, 1.0]},
        cv=3,
        n_jobs=n_jobs,
    )
    with instrumented() as exporter:
        search.fit(x, y)
        search.predict(x)
    fit, predict = exporter.get_finished_spans()
    assert (fit.name, predict.name) == ("fit GridSearchCV", "predict GridSearchCV")
    fitted = attrs(fit)
    assert fitted[SEARCH_CANDIDATES] == 3 and fitted[SEARCH_SPLITS] == 3
    assert fitted[SEARCH_BEST_INDEX] == search.best_index_
    assert fitted[SEARCH_BEST_SCORE] == pytest.approx(search.best_score_)
    table = json.loads(str(fitted[SEARCH_RESULTS]))
    assert table["params"] == [{"logisticregression__C": c} for c in (0.01, 0.1, 1.0)]
    assert table["mean_test_score"] == pytest.approx(list(search.cv_results_["mean_test_score"]))
    assert table["rank_test_score"] == list(search.cv_results_["rank_test_score"])
    assert fitted[MODEL_VERSION] == model_version_of(search) == attrs(predict)[MODEL_VERSION]
    assert len(summary_events(fit)) == 65 and summary_events(predict)


def test_a_halving_search_enabled_after_instrumentation_is_one_run() -> None:
    x, y = digits()
    with instrumented() as exporter:
        from sklearn.experimental import enable_halving_search_cv  # noqa: F401
        from sklearn.model_selection import HalvingGridSearchCV

        search = HalvingGridSearchCV(
            LogisticRegression(max_iter=50), {"C": [0.01, 0.1, 1.0, 10.0]}, cv=2, random_state=0
        ).fit(x, y)
    (span,) = exporter.get_finished_spans()
    assert span.name == "fit HalvingGridSearchCV"
    table = json.loads(str(attrs(span)[SEARCH_RESULTS]))
    assert (
        attrs(span)[SEARCH_CANDIDATES] == len(search.cv_results_["params"]) == len(table["params"])
    )
    assert table["iter"] == list(search.cv_results_["iter"])


def test_a_large_search_keeps_its_best_candidates_within_the_budget() -> None:
    from mlspan.instrumentation.search_results import search_attributes

    x, y = digits(200)
    search = RandomizedSearchCV(
        LogisticRegression(max_iter=20),
        {"C": list(np.logspace(-3, 3, 200)), "tol": list(np.logspace(-6, -2, 50))},
        n_iter=60,
        cv=2,
        random_state=0,
    ).fit(x, y)
    whole = json.loads(str(search_attributes(search)[SEARCH_RESULTS]))
    assert len(whole["params"]) == 60 and "omitted" not in whole
    trimmed = json.loads(str(search_attributes(search, budget=2000)[SEARCH_RESULTS]))
    assert len(str(search_attributes(search, budget=2000)[SEARCH_RESULTS]).encode()) <= 2000
    kept = trimmed["index"]
    assert trimmed["omitted"] == 60 - len(kept) > 0
    best = int(np.argmin(search.cv_results_["rank_test_score"]))
    assert best in kept and trimmed["params"][kept.index(best)] == whole["params"][best]


def test_candidate_spans_on_request_stay_in_the_search_trace_across_threads() -> None:
    x, y = digits()
    search = GridSearchCV(LogisticRegression(max_iter=50), {"C": [0.1, 1.0]}, cv=2, n_jobs=2)
    with instrumented(candidate_spans=True) as exporter, parallel_backend("threading"):
        search.fit(x, y)
    spans = exporter.get_finished_spans()
    (fit,) = [span for span in spans if span.name == "fit GridSearchCV"]
    candidates = [span for span in spans if span is not fit]
    # 2 candidates x 2 folds, each a fit and a score, plus the refit
    assert (
        sorted(names(candidates))
        == ["fit LogisticRegression"] * 5 + ["score LogisticRegression"] * 4
    )
    for span in candidates:
        assert span.context.trace_id == fit.context.trace_id
        assert attrs(span)[CALL_ROLE] == "candidate"
        assert IO_INPUTS not in attrs(span) and IO_OUTPUTS not in attrs(span)
        assert summary_events(span) == []
    fits = [span for span in candidates if span.name == "fit LogisticRegression"]
    assert len(fits) == 5 and all(MODEL_PARAMS in attrs(span) for span in fits)


def test_cross_validation_functions_are_one_run_each() -> None:
    x, y = digits()
    model = LogisticRegression(max_iter=50)
    with instrumented() as exporter:
        # module functions: looked up after instrumentation started, as user code does
        # under opentelemetry-instrument or after configure()
        validated = model_selection.cross_validate(model, x, y, cv=3, n_jobs=2)
        scores = model_selection.cross_val_score(model, x, y, cv=3)
        predicted = model_selection.cross_val_predict(model, x, y, cv=3)
    spans = exporter.get_finished_spans()
    assert names(spans) == [
        "cross_validate LogisticRegression",
        "cross_val_score LogisticRegression",
        "cross_val_predict LogisticRegression",
    ]
    for span in spans:
        assert attrs(span)[OPERATION_NAME] == "cross_validate"
        assert attrs(span)[CALL_ROLE] == "user"
        assert summary_events(span) == [] and MODEL_PARAMS in attrs(span)
    assert [attrs(span).get(SEARCH_SPLITS) for span in spans] == [3, 3, None]
    table = json.loads(str(attrs(spans[0])[SEARCH_RESULTS]))
    assert table["test_score"] == pytest.approx(list(validated["test_score"]))
    assert json.loads(str(attrs(spans[1])[SEARCH_RESULTS]))["test_score"] == pytest.approx(
        list(scores)
    )
    from mlspan.instrumentation.digest import digest_data

    assert attrs(spans[2])[PREDICTION_DIGEST] == digest_data(predicted)
    assert model_version_of(model) is None  # the estimator passed in stays unfitted


def test_a_users_own_joblib_fits_in_threads_stay_in_the_callers_trace() -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tests.instrumentation.instrumented import provider_with

    x, y = digits()
    exporter = InMemorySpanExporter()
    provider = provider_with(exporter)
    tracer = provider.get_tracer("user-code")
    with (
        instrumented(provider=provider),
        tracer.start_as_current_span("train") as parent,
        parallel_backend("threading"),
    ):
        fitted = Parallel(n_jobs=2)(delayed(GaussianNB().fit)(x[i::2], y[i::2]) for i in range(2))
    spans = [span for span in exporter.get_finished_spans() if span.name == "fit GaussianNB"]
    assert len(spans) == 2
    for span in spans:
        assert attrs(span)[CALL_ROLE] == "user"
        assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
    assert sorted(str(model_version_of(m)) for m in fitted) == sorted(
        str(attrs(span)[MODEL_VERSION]) for span in spans
    )


def passthrough(x: np.ndarray, unused: object = None) -> np.ndarray:
    return x


def test_every_span_fits_half_the_request_budget_candidates_and_failures_included() -> None:
    from sklearn.preprocessing import FunctionTransformer

    from mlspan.instrumentation.otlp_size import span_bytes

    x, y = digits(200)
    huge = {"table": "x" * 400_000}
    search = GridSearchCV(
        make_pipeline(FunctionTransformer(passthrough, kw_args={"unused": huge}), GaussianNB()),
        {"gaussiannb__var_smoothing": [1e-9, 1e-8]},
        cv=2,
    )
    budget = 256 * 1024
    with instrumented(candidate_spans=True, max_request_bytes=budget) as exporter:
        search.fit(x, y)
        with pytest.raises(ValueError):
            make_pipeline(
                FunctionTransformer(passthrough, kw_args={"unused": huge}), GaussianNB()
            ).fit(x, y[:10])
    spans = exporter.get_finished_spans()
    assert {attrs(span)[CALL_ROLE] for span in spans} == {"user", "step", "candidate"}
    for span in spans:
        assert span_bytes(span) <= budget // 2, span.name
