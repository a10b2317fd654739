"""Model versions: deterministic, sensitive to class/params/data, invisible to scikit-learn."""

from __future__ import annotations

import pickle
import re

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted

from mlspan.instrumentation.model_version import (
    class_path,
    compute_model_version,
    fitted_model_id,
    model_version_of,
    params_json,
    store_model_version,
)

MODEL_ID = re.compile(r"^model:xxh3_128:[0-9a-f]{32}$")


def test_version_depends_on_class_params_and_data() -> None:
    base = compute_model_version(Ridge(alpha=1.0), "data:x", "data:y")
    assert MODEL_ID.match(base)
    assert base == compute_model_version(Ridge(alpha=1.0), "data:x", "data:y")
    assert base != compute_model_version(Ridge(alpha=2.0), "data:x", "data:y")
    assert base != compute_model_version(Ridge(alpha=1.0), "data:x2", "data:y")
    assert base != compute_model_version(Ridge(alpha=1.0), "data:x", None)
    assert base != compute_model_version(StandardScaler(), "data:x", "data:y")


def test_params_json_is_address_free_and_nested() -> None:
    pipeline = make_pipeline(StandardScaler(), FunctionTransformer(np.log1p), Ridge())
    text = params_json(pipeline)
    assert "0x" not in text
    assert "numpy.log1p" in text and "sklearn.linear_model.Ridge" in text
    assert text == params_json(clone(pipeline))
    assert class_path(Ridge) == "sklearn.linear_model.Ridge"


def test_stored_version_is_ignored_by_sklearn_and_survives_pickle() -> None:
    model = Ridge()
    store_model_version(model, "model:xxh3_128:" + "0" * 32)
    assert "_mlspan_model_version" not in model.get_params()
    assert model_version_of(clone(model)) is None
    try:
        check_is_fitted(model)
    except Exception as error:  # an unfitted model must stay unfitted
        assert type(error).__name__ == "NotFittedError"
    else:
        raise AssertionError("a stored version made an unfitted model look fitted")
    model.fit(np.eye(3), np.arange(3.0))
    restored = pickle.loads(pickle.dumps(model))
    assert model_version_of(restored) == "model:xxh3_128:" + "0" * 32
    assert fitted_model_id(restored) == model_version_of(restored)


def test_fitted_model_id_falls_back_to_the_pickle_digest() -> None:
    model = Ridge().fit(np.eye(3), np.arange(3.0))
    model_id = fitted_model_id(model)
    assert model_id is not None and MODEL_ID.match(model_id)
    assert model_version_of(model) is None
