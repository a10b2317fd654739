"""A search's results table (``mlspan.search.results``) read back: candidates, the best
one's standard error, and each parameter's marginal effect with its uncertainty."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from mlspan.collector.models.params import flatten, value_text


@dataclass(frozen=True)
class Candidate:
    """One parameter setting of a search with its mean and spread over folds."""

    params: dict[str, Any]
    mean: float
    std: float | None


@dataclass(frozen=True)
class Effect:
    """The metric's change when one parameter moves between two values, all others
    equal: the mean over the ``pairs`` of settings that differ only in it."""

    parameter: str
    before: str
    after: str
    metric: str
    delta: float
    half_width: float | None
    pairs: int

    @property
    def text(self) -> str:
        """``max_depth 3 -> 8: accuracy +0.021 ± 0.006 (4 pairs)``."""
        spread = "" if self.half_width is None else f" ± {self.half_width:.3g}"
        pairs = f" ({self.pairs} pairs)" if self.pairs > 1 else ""
        return (
            f"{self.parameter} {self.before} -> {self.after}: {self.metric}"
            f" {self.delta:+.3g}{spread}{pairs}"
        )


def parse_table(text: str) -> dict[str, Any] | None:
    """The results table, or None when absent or unreadable."""
    if not text:
        return None
    try:
        table = json.loads(text)
    except ValueError:
        return None
    return table if isinstance(table, dict) and isinstance(table.get("params"), list) else None


def score_column(table: dict[str, Any]) -> str | None:
    """The ``mean_test_*`` column that ranks the candidates (``score`` first)."""
    if "mean_test_score" in table:
        return "mean_test_score"
    return next((k for k in table if k.startswith("mean_test_")), None)


def candidates(table: dict[str, Any]) -> tuple[str, list[Candidate]]:
    """The metric name and each candidate with a finite mean score."""
    column = score_column(table)
    if column is None:
        return "", []
    means = table.get(column) or []
    stds = table.get(column.replace("mean_", "std_", 1)) or []
    found: list[Candidate] = []
    for i, params in enumerate(table["params"]):
        mean = means[i] if i < len(means) else None
        if not isinstance(mean, int | float) or not math.isfinite(mean):
            continue
        std = stds[i] if i < len(stds) and isinstance(stds[i], int | float) else None
        found.append(Candidate(flatten(params) if isinstance(params, dict) else {}, mean, std))
    return column.removeprefix("mean_test_"), found


def best_stderr(table: dict[str, Any], splits: int | None) -> float | None:
    """Standard error of the best candidate's mean score: its folds' std / sqrt(folds)."""
    _, found = candidates(table)
    if not found or not splits or splits < 2:
        return None
    best = max(found, key=lambda c: c.mean)
    return None if best.std is None else best.std / math.sqrt(splits)


def marginal_effects(table: dict[str, Any], splits: int | None) -> list[Effect]:
    """Per parameter and pair of its values, the mean score change over candidate pairs
    that differ only in that parameter, with a 95 % half-width from the folds' spread
    (pairs treated as independent)."""
    metric, found = candidates(table)
    groups: dict[tuple[str, str, str], list[tuple[float, float | None]]] = defaultdict(list)
    for i, a in enumerate(found):
        for b in found[i + 1 :]:
            differing = [
                k for k in a.params.keys() | b.params.keys() if a.params.get(k) != b.params.get(k)
            ]
            if len(differing) != 1:
                continue
            name = differing[0]
            first, second = (
                (a, b) if _order(a.params.get(name)) <= _order(b.params.get(name)) else (b, a)
            )
            variance = None
            if first.std is not None and second.std is not None and splits and splits > 1:
                variance = (first.std**2 + second.std**2) / splits
            key = (name, value_text(first.params.get(name)), value_text(second.params.get(name)))
            groups[key].append((second.mean - first.mean, variance))
    effects: list[Effect] = []
    for (name, before, after), pairs in groups.items():
        delta = sum(d for d, _ in pairs) / len(pairs)
        variances = [v for _, v in pairs]
        half = None
        if all(v is not None for v in variances):
            half = (
                1.959963984540054
                * math.sqrt(sum(v for v in variances if v is not None))
                / len(pairs)
            )
        effects.append(Effect(name, before, after, metric, delta, half, len(pairs)))
    effects.sort(key=lambda e: -abs(e.delta))
    return effects


def _order(value: Any) -> tuple[int, float, str]:
    if isinstance(value, bool) or value is None:
        return (1, 0.0, str(value))
    if isinstance(value, int | float):
        return (0, float(value), "")
    return (1, 0.0, str(value))
