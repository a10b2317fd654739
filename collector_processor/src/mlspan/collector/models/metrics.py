"""Which metric ranks a model's versions, which version is best, and standard errors.

A version's metric rows come from score spans (``score``), search results (``search``),
``run.log_metric`` (``logged``) and the performance processor (``online``). The key
metric of a model is the (source, metric, dataset) most of its versions share, scores
before logged metrics before cross-validation before online results; versions are
ranked on it, lower-is-better for losses and errors. A standard error is given where
one follows from what was sent: a proportion (accuracy, error rate, precision, recall)
from its row count, a search's cross-validated score from its folds' spread.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

SOURCE_ORDER: Final = ("score", "logged", "search", "online")
LOWER_IS_BETTER: Final = ("loss", "error", "mae", "mse", "rmse", "brier", "ece", "calibration")
PROPORTIONS: Final = ("accuracy", "precision", "recall", "error_rate", "balanced_accuracy")
Z95: Final = 1.959963984540054


@dataclass(frozen=True)
class Metric:
    """One metric value of one version, with its standard error when derivable."""

    source: str
    metric: str
    value: float
    rows: int | None
    dataset: str
    at_ns: int
    stderr: float | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """``(source, metric, dataset)``: values with the same key are comparable."""
        return (self.source, self.metric, self.dataset)

    @property
    def label(self) -> str:
        """``accuracy`` for a score, else ``source:metric`` (``search:cv_score``)."""
        return self.metric if self.source == "score" else f"{self.source}:{self.metric}"


def lower_is_better(metric: str) -> bool:
    """True for losses and errors."""
    name = metric.lower()
    return any(word in name for word in LOWER_IS_BETTER)


def proportion_stderr(metric: str, value: float, rows: int | None) -> float | None:
    """``sqrt(p (1 - p) / n)`` for a proportion computed on ``rows`` rows, else None."""
    name = metric.lower().rsplit(":", 1)[-1]
    if rows is None or rows < 1 or not 0.0 <= value <= 1.0:
        return None
    if not any(name == p or name.endswith("_" + p) for p in PROPORTIONS):
        return None
    return math.sqrt(value * (1.0 - value) / rows)


def with_stderr(metric: Metric) -> Metric:
    """``metric`` with its proportion standard error filled in where derivable."""
    if metric.stderr is not None:
        return metric
    stderr = proportion_stderr(metric.metric, metric.value, metric.rows)
    return metric if stderr is None else Metric(**{**metric.__dict__, "stderr": stderr})


def key_metric(versions: Mapping[str, Sequence[Metric]]) -> tuple[str, str, str] | None:
    """The (source, metric, dataset) that ranks a model's versions (module docstring)."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for metrics in versions.values():
        counts.update({m.key for m in metrics})
    if not counts:
        return None

    def rank(key: tuple[str, str, str]) -> tuple[int, int, str, str]:
        source = SOURCE_ORDER.index(key[0]) if key[0] in SOURCE_ORDER else len(SOURCE_ORDER)
        return (-counts[key], source, key[1], key[2])

    return min(counts, key=rank)


def best_version(
    versions: Mapping[str, Sequence[Metric]], key: tuple[str, str, str] | None
) -> str | None:
    """The digest whose value of ``key`` is best (ties: the earlier in the mapping)."""
    if key is None:
        return None
    lower = lower_is_better(key[1])
    best: tuple[float, str] | None = None
    for digest, metrics in versions.items():
        for metric in metrics:
            if metric.key != key:
                continue
            score = metric.value if lower else -metric.value
            if best is None or score < best[0]:
                best = (score, digest)
    return None if best is None else best[1]


def latest(metrics: Iterable[Metric]) -> list[Metric]:
    """The latest value per key, in key order."""
    found: dict[tuple[str, str, str], Metric] = {}
    for metric in metrics:
        held = found.get(metric.key)
        if held is None or metric.at_ns >= held.at_ns:
            found[metric.key] = metric
    return [found[k] for k in sorted(found)]


def delta_interval(a: Metric, b: Metric) -> tuple[float, float | None]:
    """``b - a`` and the half-width of its 95 % interval (None without standard errors).

    The two values are treated as independent; when both versions were scored on the
    same rows the interval is conservative (their errors are positively correlated)."""
    delta = b.value - a.value
    if a.stderr is None or b.stderr is None:
        return delta, None
    return delta, Z95 * math.hypot(a.stderr, b.stderr)
