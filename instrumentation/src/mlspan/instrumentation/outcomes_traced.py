"""Predicted-probability bins on the user's own ``predict_proba`` spans.

Without a prediction log (``OutcomeRecorder``) the collector can still estimate a
model's performance before any label, from the probabilities of its instrumented
``predict_proba`` calls: the span of such a call gets ``mlspan.performance.predicted``
(the binned probabilities of every row it predicted, ``performance_predicted``) and the
hourly prediction window of the call's end (``mlspan.performance.window.*``). Nothing
per row is added. It is computed only for spans that record and only when the result
is a finite-shaped probability matrix matching the estimator's ``classes_``: two
vectorised passes over the result (a millisecond per 100,000 rows of a binary
classifier). The collector uses these only for model versions that send no
``predictions`` spans (the prediction log's, which key windows by the caller's
prediction time and are authoritative).
"""

from __future__ import annotations

import json
import time
from typing import Any, Final

import numpy as np
from opentelemetry.util.types import AttributeValue

from mlspan.semconv import (
    PERFORMANCE_PREDICTED,
    PERFORMANCE_WINDOW_END,
    PERFORMANCE_WINDOW_START,
)
from mlspan.summaries.performance import MAX_CLASSES_LIMIT
from mlspan.summaries.performance_build import as_labels
from mlspan.summaries.performance_predicted import predicted_scores

WINDOW_SECONDS: Final = 3600
"""Prediction window of traced probabilities (the recorder's default window)."""


def predicted_attributes(
    estimator: Any, result: object, now: float | None = None
) -> dict[str, AttributeValue]:
    """The span attributes of a ``predict_proba`` result ({} when it is not one)."""
    classes = getattr(estimator, "classes_", None)
    if classes is None or not isinstance(result, np.ndarray) or result.ndim != 2:
        return {}
    names = as_labels(classes)
    if names.ndim != 1 or not 2 <= names.size <= MAX_CLASSES_LIMIT:
        return {}
    if result.shape[1] != names.size or not result.shape[0]:
        return {}
    scores = predicted_scores(result, names.tolist())
    start = int((time.time() if now is None else now) // WINDOW_SECONDS) * WINDOW_SECONDS
    return {
        PERFORMANCE_PREDICTED: json.dumps(scores.to_json(), separators=(",", ":")),
        PERFORMANCE_WINDOW_START: start,
        PERFORMANCE_WINDOW_END: start + WINDOW_SECONDS,
    }
