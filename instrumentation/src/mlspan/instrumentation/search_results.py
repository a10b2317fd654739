"""A search's or cross-validation's results as a few compact span attributes.

A hyperparameter search is one run: its span lists every candidate's parameter setting
and cross-validated scores as one JSON object of columns (``mlspan.search.results``),
the raw material for comparing model versions, instead of one span per candidate fit.
The table is kept under a byte budget: past it, the best-ranked candidates are kept and
``"omitted"`` counts the others.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
from opentelemetry.util.types import AttributeValue

from mlspan.instrumentation.model_version import plain_value
from mlspan.semconv import (
    SEARCH_BEST_INDEX,
    SEARCH_BEST_SCORE,
    SEARCH_CANDIDATES,
    SEARCH_RESULTS,
    SEARCH_SPLITS,
)

RESULTS_BYTES: Final = 256 * 1024
"""Most bytes of the results table on one span."""
_SEARCH_COLUMNS: Final = ("mean_test_", "std_test_", "rank_test_", "mean_train_")
_EXTRA_COLUMNS: Final = ("mean_fit_time", "mean_score_time", "iter", "n_resources")


def _number(value: object) -> Any:
    """A JSON-ready number (NaN and infinities as null: failed fits score NaN)."""
    item = value.item() if isinstance(value, np.generic) else value
    if isinstance(item, float) and not math.isfinite(item):
        return None
    return item if isinstance(item, (int, float)) else plain_value(item)


def _column(values: object) -> list[Any]:
    return [_number(value) for value in np.asarray(values).tolist()]


def _rank_column(table: Mapping[str, Any]) -> str | None:
    for name in table:
        if name.startswith("rank_test_"):
            return name
    return None


def _fit(table: dict[str, Any], budget: int) -> str:
    """``table`` as JSON within ``budget`` bytes, dropping the worst-ranked candidates."""
    text = json.dumps(table, separators=(",", ":"), ensure_ascii=False)
    params = table.get("params")
    if len(text.encode()) <= budget or not isinstance(params, list) or not params:
        return text
    rank = _rank_column(table)
    order = list(range(len(params)))
    if rank is not None:
        order.sort(key=lambda i: (table[rank][i] is None, table[rank][i] or 0, i))
    keep = len(order)
    while keep > 1:
        keep //= 2
        chosen = sorted(order[:keep])
        trimmed: dict[str, Any] = {
            key: [column[i] for i in chosen] if isinstance(column, list) else column
            for key, column in table.items()
        }
        trimmed["index"] = chosen
        trimmed["omitted"] = len(order) - keep
        text = json.dumps(trimmed, separators=(",", ":"), ensure_ascii=False)
        if len(text.encode()) <= budget:
            return text
    return json.dumps({"omitted": len(order)})


def search_attributes(search: Any, budget: int = RESULTS_BYTES) -> dict[str, AttributeValue]:
    """The attributes a fitted search's span carries (empty when it has no results)."""
    results = getattr(search, "cv_results_", None)
    if not isinstance(results, Mapping) or "params" not in results:
        return {}
    params: Sequence[Any] = results["params"]
    table: dict[str, Any] = {"params": [plain_value(setting) for setting in params]}
    for name, values in results.items():
        if name.startswith(_SEARCH_COLUMNS) or name in _EXTRA_COLUMNS:
            table[name] = _column(values)
    attributes: dict[str, AttributeValue] = {
        SEARCH_CANDIDATES: len(params),
        SEARCH_RESULTS: _fit(table, budget),
    }
    splits = getattr(search, "n_splits_", None)
    if isinstance(splits, (int, np.integer)):
        attributes[SEARCH_SPLITS] = int(splits)
    best_index = getattr(search, "best_index_", None)
    if isinstance(best_index, (int, np.integer)):
        attributes[SEARCH_BEST_INDEX] = int(best_index)
    best_score = getattr(search, "best_score_", None)
    if isinstance(best_score, (float, np.floating)) and math.isfinite(best_score):
        attributes[SEARCH_BEST_SCORE] = float(best_score)
    return attributes


def evaluation_attributes(function: str, result: object) -> dict[str, AttributeValue]:
    """The attributes of a cross-validation function's span, from what it returned.

    ``cross_validate`` returns a dict of per-fold arrays, ``cross_val_score`` one array
    of fold scores; the other functions (curves, permutation tests) record nothing more.
    """
    folds: dict[str, Any] = {}
    if function == "cross_validate" and isinstance(result, Mapping):
        folds = {
            str(name): _column(values)
            for name, values in result.items()
            if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "fiu"
        }
    elif function == "cross_val_score" and isinstance(result, np.ndarray) and result.ndim == 1:
        folds = {"test_score": _column(result)}
    if not folds:
        return {}
    splits = max(len(column) for column in folds.values())
    text = json.dumps(folds, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode()) > RESULTS_BYTES:
        text = json.dumps({"omitted": splits})
    return {SEARCH_CANDIDATES: 1, SEARCH_SPLITS: splits, SEARCH_RESULTS: text}
