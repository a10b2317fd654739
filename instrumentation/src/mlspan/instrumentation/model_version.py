"""Model versions: a deterministic id of a fitted estimator, and its hyperparameters as JSON.

A model version is ``model:xxh3_128:<hex>``, the digest of the estimator's class, all of
its hyperparameters and the data digests of the X and y it was fitted on. Two fits of
the same class with the same parameters on the same data get the same version; any
change to one of them gives a new version.

The instrumented ``fit`` stores the version on the estimator instance in the attribute
``_mlspan_model_version`` (``MODEL_VERSION_ATTRIBUTE``). The name starts with an
underscore and does not end with one, so scikit-learn's ``check_is_fitted`` ignores it,
``get_params``/``clone`` do not copy it (a clone is unfitted), and because it lives in the
instance ``__dict__`` it survives ``pickle``/``joblib`` round trips. Read it with
``model_version_of(estimator)``; ``fitted_model_id(estimator)`` also gives an id to a
model fitted without instrumentation.
"""

from __future__ import annotations

import contextlib
import json
import math
import pickle
from collections.abc import Mapping
from typing import Any, Final

import numpy as np

from mlspan.instrumentation.digest import MODEL_KIND, digest_bytes, digest_data
from mlspan.semconv import FeatureKind

MODEL_VERSION_ATTRIBUTE: Final = "_mlspan_model_version"
"""Instance attribute holding the version set by the instrumented ``fit``."""

_MAX_DEPTH: Final = 8


def class_path(obj: object) -> str:
    """The public dotted class name, private module parts dropped.

    ``sklearn.linear_model._logistic.LogisticRegression`` becomes
    ``sklearn.linear_model.LogisticRegression``.
    """
    cls = obj if isinstance(obj, type) else type(obj)
    parts = [part for part in cls.__module__.split(".") if not part.startswith("_")]
    return ".".join([*parts, cls.__qualname__])


class ParamNames:
    """Hyperparameter names per estimator class, read once per class.

    scikit-learn's ``BaseEstimator.get_params(deep=False)`` inspects the ``__init__``
    signature on every call and then reads each name with ``getattr``; for classes that
    keep that implementation the names are cached here and read the same way. Classes
    with a ``get_params`` of their own are always asked.
    """

    def __init__(self) -> None:
        self._names: dict[type, tuple[str, ...] | None] = {}

    def params(self, estimator: Any) -> dict[str, Any]:
        """``estimator.get_params(deep=False)``, faster for unchanged implementations."""
        cls = type(estimator)
        names = self._names.get(cls, ())
        if names == ():
            names = self._names[cls] = self._cacheable(cls, estimator)
        if names is None:
            return dict(estimator.get_params(deep=False))
        return {name: getattr(estimator, name) for name in names}

    @staticmethod
    def _cacheable(owner: type, estimator: Any) -> tuple[str, ...] | None:
        method = getattr(owner, "get_params", None)
        if getattr(method, "__qualname__", "") != "BaseEstimator.get_params" or not str(
            getattr(method, "__module__", "")
        ).startswith("sklearn."):
            return None
        return tuple(estimator.get_params(deep=False))


def plain_value(value: object, depth: int = 0, names: ParamNames | None = None) -> Any:
    """A JSON-ready, address-free rendering of one hyperparameter value."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, np.generic):
        return plain_value(value.item(), depth, names)
    if depth >= _MAX_DEPTH:
        return class_path(value)
    if hasattr(value, "get_params") and not isinstance(value, type):
        return {"class": class_path(value), "params": _params(value, depth + 1, names)}
    if isinstance(value, (list, tuple)):
        return [plain_value(item, depth + 1, names) for item in value]
    if isinstance(value, Mapping):
        return {str(key): plain_value(item, depth + 1, names) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return digest_data(value) or class_path(value)
    if isinstance(value, type):
        return class_path(value)
    if callable(value):
        module = getattr(value, "__module__", None) or ""
        return f"{module}.{getattr(value, '__qualname__', class_path(value))}"
    return class_path(value)


def _params(estimator: Any, depth: int = 0, names: ParamNames | None = None) -> dict[str, Any]:
    params = estimator.get_params(deep=False) if names is None else names.params(estimator)
    return {str(name): plain_value(params[name], depth, names) for name in sorted(params)}


def params_json(estimator: object, names: ParamNames | None = None) -> str:
    """All hyperparameters (nested estimators included) as a sorted JSON object."""
    try:
        return json.dumps(_params(estimator, 0, names), sort_keys=True, ensure_ascii=False)
    except Exception:
        return "{}"


def compute_model_version(
    estimator: object, x_digest: str | None, y_digest: str | None, params: str | None = None
) -> str:
    """The version of ``estimator`` fitted on data with the given digests."""
    document = {
        "class": class_path(estimator),
        "params": params if params is not None else params_json(estimator),
        "x": x_digest,
        "y": y_digest,
    }
    return digest_bytes(json.dumps(document, sort_keys=True).encode(), MODEL_KIND)


def store_model_version(estimator: object, version: str) -> None:
    """Record ``version`` on the fitted estimator (silently skipped when impossible)."""
    with contextlib.suppress(AttributeError, TypeError):
        object.__setattr__(estimator, MODEL_VERSION_ATTRIBUTE, version)


def model_version_of(estimator: object) -> str | None:
    """The version the instrumented ``fit`` stored on ``estimator``, if any."""
    try:
        version = vars(estimator).get(MODEL_VERSION_ATTRIBUTE)
    except TypeError:
        return None
    return version if isinstance(version, str) else None


def fitted_model_id(estimator: object) -> str | None:
    """The stored version, else a ``model:`` digest of the pickled estimator.

    The pickle fallback identifies a model fitted without instrumentation; it is stable
    for the same object but, unlike the stored version, not across re-fits.
    """
    version = model_version_of(estimator)
    if version is not None:
        return version
    if not _looks_fitted(estimator):
        return None
    try:
        return digest_bytes(pickle.dumps(estimator, protocol=4), MODEL_KIND)
    except Exception:
        return None


def _looks_fitted(estimator: object) -> bool:
    """scikit-learn's own fitted test; True for objects it does not know."""
    try:
        from sklearn.utils.validation import check_is_fitted
    except ImportError:
        return True
    try:
        check_is_fitted(estimator)
    except TypeError:
        return True
    except Exception:
        return False
    return True


FEATURE_KINDS_ATTRIBUTE: Final = "_mlspan_feature_kinds"
"""Instance attribute holding the fit-time kind of each input feature."""


def store_feature_kinds(estimator: object, kinds: Mapping[str, FeatureKind]) -> None:
    """Remember the kinds the data-format identifier gave the training features.

    Later predict calls reuse them, so a three-row serving batch is classified like the
    training data even when a cardinality rule would judge it differently.
    """
    with contextlib.suppress(AttributeError, TypeError):
        object.__setattr__(
            estimator, FEATURE_KINDS_ATTRIBUTE, {name: kind.value for name, kind in kinds.items()}
        )


def feature_kinds_of(estimator: object) -> dict[str, FeatureKind] | None:
    """The fit-time feature kinds stored on ``estimator``, if any."""
    try:
        stored = vars(estimator).get(FEATURE_KINDS_ATTRIBUTE)
    except TypeError:
        return None
    if not isinstance(stored, dict):
        return None
    try:
        return {str(name): FeatureKind(value) for name, value in stored.items()}
    except ValueError:
        return None
