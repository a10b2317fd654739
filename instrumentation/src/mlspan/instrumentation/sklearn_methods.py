"""The instrumented scikit-learn methods, what kind of call each is, and one call's record.

Shared by the recorder (``sklearn_calls``) and the instrumentor (``sklearn``): which
methods are wrapped, which fit, predict or transform, how the data arguments are found,
and the dataset role a method's input plays.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from mlspan.instrumentation.background import Pending
from mlspan.instrumentation.provenance import Provenance
from mlspan.instrumentation.roles import EVALUATIONS
from mlspan.semconv import CallRole, DatasetRole

FRAMEWORK: Final = "scikit-learn"
METHODS: Final = (
    "fit",
    "partial_fit",
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "transform",
    "fit_transform",
    "fit_predict",
    "score",
)
FIT_METHODS: Final = frozenset({"fit", "partial_fit", "fit_transform", "fit_predict"})
PREDICTION_METHODS: Final = frozenset(
    {"predict", "predict_proba", "predict_log_proba", "decision_function", "fit_predict"}
)
OUTPUT_METHODS: Final = frozenset({"transform", "fit_transform"})
ONLINE_METHODS: Final = frozenset(
    {"predict", "predict_proba", "predict_log_proba", "decision_function", "transform"}
)


@dataclass
class Call:
    """One recorded call: its span and what the end of the call still needs."""

    span: trace.Span
    method: str
    role: CallRole
    x: object
    x_digest: str | None = None
    y_digest: str | None = None
    rows: int | None = None
    params: str | None = None
    pending: list[Pending] = field(default_factory=list)
    attributes: dict[str, AttributeValue] = field(default_factory=dict)


def active_provenance() -> Provenance | None:
    """The pandas instrumentor's provenance map, when it is active (never imports it)."""
    module = sys.modules.get(f"{__package__}.pandas")
    if module is None:
        return None
    provenance = module.PandasInstrumentor().provenance
    return provenance if isinstance(provenance, Provenance) else None


def arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[object, object]:
    x = args[0] if args else kwargs.get("X", kwargs.get("raw_documents"))
    y = args[1] if len(args) > 1 else kwargs.get("y", kwargs.get("Y"))
    return x, y


def dataset_role(method: str) -> DatasetRole:
    if method in FIT_METHODS:
        return DatasetRole.TRAIN
    if method == "score" or method in EVALUATIONS:
        return DatasetRole.EVAL
    return DatasetRole.INFERENCE
