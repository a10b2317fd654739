"""Who made a prediction: a model's version, name, task and classes, read once per model.

``model`` arguments of the outcomes API may be a fitted estimator or a plain version
string. An estimator's version is the one the instrumented ``fit`` stored on it, else a
digest of the pickled estimator (``fitted_model_id``), which is costly: the identity is
therefore cached per estimator object (weakly, so the cache never keeps a model alive).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlspan.instrumentation.model_version import fitted_model_id
from mlspan.semconv.values import PerformanceTask
from mlspan.summaries.performance_build import as_labels


@dataclass(frozen=True)
class ModelIdentity:
    """What the outcomes API records about a model."""

    version: str
    name: str
    task: PerformanceTask
    classes: tuple[str, ...] | None


def parse_task(task: PerformanceTask | str | None) -> PerformanceTask | None:
    """``task`` as a ``PerformanceTask``; raises ``ValueError`` for an unknown name."""
    return None if task is None else PerformanceTask(task)


def guess_task(y_pred: object, proba: object, classes: Sequence[object] | None) -> PerformanceTask:
    """Classifier when probabilities or classes are given or predictions are not floats."""
    if proba is not None or classes is not None:
        return PerformanceTask.CLASSIFIER
    kind = np.asarray(y_pred).dtype.kind if y_pred is not None else "O"
    return PerformanceTask.REGRESSOR if kind == "f" else PerformanceTask.CLASSIFIER


class ModelIdentities:
    """Identity of each model object, computed once."""

    def __init__(self) -> None:
        self._cache: weakref.WeakKeyDictionary[object, ModelIdentity] = weakref.WeakKeyDictionary()

    def of(
        self,
        model: object,
        name: str | None,
        task: PerformanceTask | None,
        y_pred: object = None,
        proba: object = None,
    ) -> ModelIdentity:
        """The identity of ``model`` (an estimator or a version string)."""
        if isinstance(model, str):
            return ModelIdentity(
                model, name or model, task or guess_task(y_pred, proba, None), None
            )
        try:
            known = self._cache.get(model)
        except TypeError:  # unhashable or not weakly referenceable
            known = None
        if known is None:
            known = _identity(model)
            with contextlib.suppress(TypeError):
                self._cache[model] = known
        if name is None and task is None:
            return known
        return ModelIdentity(known.version, name or known.name, task or known.task, known.classes)


def _identity(model: object) -> ModelIdentity:
    version = fitted_model_id(model) or f"object:{type(model).__qualname__}:{id(model):x}"
    raw: npt.ArrayLike | None = getattr(model, "classes_", None)
    classes = tuple(as_labels(raw).tolist()) if raw is not None else None
    task = PerformanceTask.CLASSIFIER if classes is not None else PerformanceTask.REGRESSOR
    return ModelIdentity(version, type(model).__name__, task, classes)
