"""The must-never-happen matrix: instrumentation changes nothing the user can observe.

Each estimator runs over every input twice, plain and instrumented; results (values and
types), ``self`` returns, exceptions (type and message) and warnings (category and
message) must be identical, and mlspan must log no failure of its own.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.decomposition import PCA
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeRegressor

from tests.instrumentation.instrumented import instrumented

ROWS = 12
METHODS = (
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "transform",
    "score",
)


def _labels(rows: int) -> np.ndarray:
    return np.arange(rows) % 2


def _inputs() -> dict[str, Any]:
    rng = np.random.default_rng(7)
    base = rng.normal(size=(ROWS, 3))
    nan_inf = base.copy()
    nan_inf[0, 0], nan_inf[1, 1], nan_inf[2, 2] = np.nan, np.inf, -np.inf
    nan_only = base.copy()
    nan_only[::3, 0] = np.nan
    frame = pd.DataFrame(base, columns=["a", "b", "c"])
    return {
        "float64": base,
        "float32": base.astype(np.float32),
        "int8": (base * 10).astype(np.int8),
        "int64": (base * 10).astype(np.int64),
        "uint16": np.abs(base * 10).astype(np.uint16),
        "bool": base > 0,
        "complex": base.astype(np.complex128),
        "str": base.astype(str),
        "object": base.astype(object),
        "datetime64": np.arange(ROWS * 3).reshape(ROWS, 3).astype("datetime64[D]"),
        "nan": nan_only,
        "nan_inf": nan_inf,
        "empty": np.empty((0, 3)),
        "one_row": base[:1],
        "wide_1000": rng.normal(size=(ROWS, 1000)),
        "sparse_csr": sp.csr_matrix(np.where(base > 0.5, base, 0.0)),
        "list": base.tolist(),
        "frame_numeric": frame,
        "frame_categorical": frame.assign(cat=pd.Categorical(list("xyz") * (ROWS // 3))),
        "frame_string": frame.assign(s=pd.array(list("uvw") * (ROWS // 3), dtype="string")),
        "frame_nullable": pd.DataFrame(
            {
                "i": pd.array([1, None, 3] * (ROWS // 3), dtype="Int64"),
                "f": pd.array([0.5, 1.5, None] * (ROWS // 3), dtype="Float64"),
                "b": pd.array([True, False, None] * (ROWS // 3), dtype="boolean"),
            }
        ),
        "frame_datetime": frame.assign(t=pd.date_range("2024-01-01", periods=ROWS, freq="D")),
        "frame_mixed": frame.assign(o=[1, "a", 2.5] * (ROWS // 3)),
        "frame_unicode_names": frame.set_axis(["<b>é</b>", "名前", "a\nb\"'"], axis=1),
    }


INPUTS = _inputs()

ESTIMATORS: dict[str, Callable[[], BaseEstimator]] = {
    "logistic": lambda: LogisticRegression(max_iter=200),
    "random_forest": lambda: RandomForestClassifier(n_estimators=3, random_state=0),
    "sgd": lambda: SGDClassifier(random_state=0, max_iter=50, tol=None),
    "naive_bayes": GaussianNB,
    "dummy": DummyClassifier,
    "ridge": Ridge,
    "hist_gradient_boosting": lambda: HistGradientBoostingRegressor(max_iter=3),
    "tree": lambda: DecisionTreeRegressor(random_state=0),
    "scaler": StandardScaler,
    "imputer": SimpleImputer,
    "one_hot": lambda: OneHotEncoder(handle_unknown="ignore"),
    "pca": lambda: PCA(n_components=1, random_state=0),
    "kmeans": lambda: KMeans(n_clusters=2, n_init=1, random_state=0),
    "pipeline": lambda: make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression()),
    "column_transformer": lambda: ColumnTransformer(
        [
            ("num", StandardScaler(), make_column_selector(dtype_include="number")),
            (
                "rest",
                OneHotEncoder(handle_unknown="ignore"),
                make_column_selector(dtype_exclude="number"),
            ),
        ]
    ),
    "grid_search": lambda: GridSearchCV(LogisticRegression(), {"C": [0.5, 1.0]}, cv=2),
}


# Tracebacks that scikit-learn embeds in messages (a search whose fits all failed) show
# every stack frame, the wrapper's included: those frames are the one allowed difference.
_WRAPPER_FRAME = re.compile(
    r'  File "[^"]*[/\\]mlspan[/\\]instrumentation[/\\][^"]*", line \d+, in [^\n]*\n'
    r"(?:    [^\n]*\n)*"
)


def _text(message: object) -> str:
    return _WRAPPER_FRAME.sub("", str(message))


def _outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """What the user observes of one call: result or exception, and warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result: tuple[Any, ...] = ("ok", call())
        except Exception as error:
            result = ("raised", type(error), _text(error))
    return (*result, [(w.category, _text(w.message)) for w in caught])


def _run(factory: Callable[[], BaseEstimator], data: Any) -> list[tuple[str, tuple[Any, ...]]]:
    rows = data.shape[0] if hasattr(data, "shape") else len(data)
    target = _labels(rows)
    outcomes: list[tuple[str, tuple[Any, ...]]] = []
    estimator = factory()
    fit = _outcome(lambda: estimator.fit(data, target))
    outcomes.append(
        ("fit returns self", (fit[0], fit[1] is estimator if fit[0] == "ok" else fit[1:]))
    )
    if fit[0] != "ok":
        return outcomes
    for method in METHODS:
        if not hasattr(estimator, method):
            outcomes.append((method, ("absent",)))
            continue
        args = (data, target) if method == "score" else (data,)
        outcomes.append((method, _outcome(lambda m=method, a=args: getattr(estimator, m)(*a))))
    if hasattr(estimator, "fit_transform"):
        outcomes.append(("fit_transform", _outcome(lambda: factory().fit_transform(data, target))))
    if hasattr(estimator, "fit_predict"):
        outcomes.append(("fit_predict", _outcome(lambda: factory().fit_predict(data, target))))
    return outcomes


def _assert_same(plain: Any, instrumented_value: Any, where: str) -> None:
    assert type(plain) is type(instrumented_value), where
    if isinstance(plain, pd.DataFrame):
        pd.testing.assert_frame_equal(plain, instrumented_value)
    elif isinstance(plain, pd.Series):
        pd.testing.assert_series_equal(plain, instrumented_value)
    elif sp.issparse(plain):
        assert plain.format == instrumented_value.format, where
        np.testing.assert_array_equal(plain.toarray(), instrumented_value.toarray(), where)
    elif isinstance(plain, np.ndarray):
        assert plain.dtype == instrumented_value.dtype, where
        np.testing.assert_array_equal(plain, instrumented_value, where)
    elif isinstance(plain, (tuple, list)):
        assert len(plain) == len(instrumented_value), where
        for index, (a, b) in enumerate(zip(plain, instrumented_value, strict=True)):
            _assert_same(a, b, f"{where}[{index}]")
    elif isinstance(plain, float) and np.isnan(plain):
        assert np.isnan(instrumented_value), where
    else:
        assert plain == instrumented_value, where


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_instrumented_calls_are_indistinguishable(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    factory = ESTIMATORS[name]
    plain = {key: _run(factory, data) for key, data in INPUTS.items()}
    with caplog.at_level(logging.WARNING, logger="mlspan"), instrumented() as exporter:
        observed = {key: _run(factory, data) for key, data in INPUTS.items()}
    for key in INPUTS:
        _assert_same(plain[key], observed[key], f"{name} on {key}")
    assert exporter.get_finished_spans(), "the instrumented run recorded nothing"
    problems = [r.getMessage() for r in caplog.records if r.name.startswith("mlspan")]
    assert not problems, problems
