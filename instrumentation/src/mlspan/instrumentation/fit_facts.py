"""Facts a model registry needs that scikit-learn calls do not return by themselves:
what a ``score`` call measured, and which library versions a fit ran with.

``score_attributes`` names the metric of a score call (``accuracy`` for classifiers,
``r2`` for regressors, a search's ``scoring`` when it is a string, else ``score``) and
carries its value and row count; ``LibraryVersions`` reads the versions of Python and
of the numerical libraries already imported, once per process (per recorder), as the
JSON of ``mlspan.runtime.libraries``.
"""

from __future__ import annotations

import json
import math
import platform
import sys
from typing import Any, Final

from opentelemetry.util.types import AttributeValue

from mlspan.semconv import METRIC_NAME, METRIC_ROWS, METRIC_VALUE

LIBRARIES: Final = (
    ("scikit-learn", "sklearn"),
    ("numpy", "numpy"),
    ("scipy", "scipy"),
    ("pandas", "pandas"),
    ("pyarrow", "pyarrow"),
    ("joblib", "joblib"),
    ("threadpoolctl", "threadpoolctl"),
    ("xgboost", "xgboost"),
    ("lightgbm", "lightgbm"),
)
"""(distribution name, module name) of the libraries whose versions are recorded."""


def metric_name(instance: Any) -> str:
    """The name of what ``instance.score`` measures."""
    scoring = getattr(instance, "scoring", None)
    if isinstance(scoring, str) and scoring:
        return scoring
    base = sys.modules.get("sklearn.base")
    try:
        if base is not None and base.is_classifier(instance):
            return "accuracy"
        if base is not None and base.is_regressor(instance):
            return "r2"
    except Exception:
        return "score"
    return "score"


def score_attributes(instance: Any, result: object, rows: int | None) -> dict[str, AttributeValue]:
    """The metric attributes of a score call's span (empty when the result is not a
    finite number)."""
    try:
        value = float(result)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return {}
    if not math.isfinite(value):
        return {}
    attributes: dict[str, AttributeValue] = {
        METRIC_NAME: metric_name(instance),
        METRIC_VALUE: value,
    }
    if rows is not None:
        attributes[METRIC_ROWS] = int(rows)
    return attributes


class LibraryVersions:
    """The JSON of ``mlspan.runtime.libraries``, computed on first use and kept: the
    libraries imported by the time of the first fit are the ones that matter."""

    def __init__(self) -> None:
        self._text: str | None = None

    def json(self) -> str:
        """``{"python": "3.12.3", "scikit-learn": "1.6.1", ...}``."""
        if self._text is None:
            versions = {"python": platform.python_version()}
            for name, module_name in LIBRARIES:
                module = sys.modules.get(module_name)
                version = getattr(module, "__version__", None)
                if isinstance(version, str):
                    versions[name] = version
            self._text = json.dumps(versions, separators=(",", ":"))
        return self._text
