"""What the predicted probabilities of every prediction add up to, labelled or not.

Confidence-based performance estimation (``mlspan.collector.performance.estimate``, in
the spirit of NannyML's CBPE) needs, per model version and prediction window, the
predicted probabilities of *all* its predictions, before any label arrives. Raw rows
stay in the application; this summary keeps only sums in ten equal-width bins (the
bins of the labelled ``ProbabilitySums``, so a reference calibration learnt on labelled
bins applies bin by bin):

* ``top``: per confidence bin of the predicted (most probable) class, the rows and the
  sum of their confidences: the expected accuracy of any classifier;
* ``classes``: per label, per bin of ``p(label)``, the rows and the sum of ``p(label)``:
  the expected confusion matrix of a binary classifier (threshold 0.5 is a bin edge).

Two summaries of the same model version and window merge exactly (bin-wise sums).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt

PREDICTED_BINS: Final = 10
"""Equal-width probability bins (the same as ``performance.CALIBRATION_BINS``)."""
_EDGES = np.linspace(0.0, 1.0, PREDICTED_BINS + 1)[1:-1]
"""Inner bin edges; a probability on an edge falls in the lower bin, as in the labelled
calibration bins (so ``p = 0.5`` is predicted negative, as scikit-learn's argmax)."""

Pair = tuple[int, float]
"""One bin: rows, sum of the binned probabilities."""


def add_pairs(first: Sequence[Pair], second: Sequence[Pair]) -> tuple[Pair, ...]:
    """Bin-wise sums of two histograms of the same bins."""
    if len(first) != len(second):
        raise ValueError(f"cannot add {len(first)} and {len(second)} bins")
    return tuple((a[0] + b[0], a[1] + b[1]) for a, b in zip(first, second, strict=True))


@dataclass(frozen=True)
class PredictedScores:
    """Binned predicted probabilities of ``rows`` predictions (see the module docstring)."""

    rows: int
    top: tuple[Pair, ...]
    classes: Mapping[str, tuple[Pair, ...]]

    def merge(self, other: PredictedScores) -> PredictedScores:
        """The sums of both samples; labels only one side has are kept."""
        classes = dict(self.classes)
        for label, pairs in other.classes.items():
            mine = classes.get(label)
            classes[label] = pairs if mine is None else add_pairs(mine, pairs)
        return PredictedScores(
            self.rows + other.rows,
            add_pairs(self.top, other.top),
            MappingProxyType(classes),
        )

    def keep(self, labels: Sequence[str]) -> PredictedScores:
        """The same sums with per-class bins only for ``labels``."""
        wanted = set(labels)
        return PredictedScores(
            self.rows,
            self.top,
            MappingProxyType({k: v for k, v in self.classes.items() if k in wanted}),
        )

    def to_json(self) -> dict[str, object]:
        """The JSON-ready form of ``mlspan.performance.predicted``."""
        return {
            "rows": self.rows,
            "bins": PREDICTED_BINS,
            "top": [list(p) for p in self.top],
            "classes": {label: [list(p) for p in pairs] for label, pairs in self.classes.items()},
        }


def predicted_scores(proba: npt.ArrayLike, classes: Sequence[object]) -> PredictedScores:
    """The summary of ``proba`` (rows x classes, columns ``classes``); rows holding a
    non-finite probability are left out."""
    p = np.asarray(proba, dtype=np.float64)
    names = [str(c) for c in classes]
    if p.ndim != 2 or p.shape[1] != len(names):
        raise ValueError(f"proba of shape {p.shape} for {len(names)} classes")
    p = np.clip(p[np.isfinite(p).all(axis=1)], 0.0, 1.0)
    rows = int(p.shape[0])
    top = _pairs(p.max(axis=1) if rows else np.zeros(0))
    per_class = {name: _pairs(p[:, i]) for i, name in enumerate(names)}
    return PredictedScores(rows, top, MappingProxyType(per_class))


def empty_scores(classes: Sequence[object]) -> PredictedScores:
    """The summary of no predictions."""
    return predicted_scores(np.zeros((0, len(classes))), classes)


def _pairs(values: npt.NDArray[np.float64]) -> tuple[Pair, ...]:
    which = np.searchsorted(_EDGES, values, side="left")
    counts = np.bincount(which, minlength=PREDICTED_BINS)
    sums = np.bincount(which, weights=values, minlength=PREDICTED_BINS)
    return tuple((int(c), float(s)) for c, s in zip(counts.tolist(), sums.tolist(), strict=True))


class PredictedDecodeError(ValueError):
    """A ``mlspan.performance.predicted`` document that is not a valid summary."""


def decode_predicted(
    doc: object, labels: Sequence[str], max_count: int, max_label: int
) -> PredictedScores:
    """The checked summary in a decoded JSON document; raises ``PredictedDecodeError``.

    Every class must be one of ``labels``; every histogram must have ``PREDICTED_BINS``
    bins of non-negative integer rows summing to ``rows`` and sums within ``[0, rows]``.
    """
    if not isinstance(doc, dict) or doc.get("bins") != PREDICTED_BINS:
        raise PredictedDecodeError(f"predicted scores must be an object of {PREDICTED_BINS} bins")
    rows = doc.get("rows")
    if isinstance(rows, bool) or not isinstance(rows, int) or not 0 <= rows <= max_count:
        raise PredictedDecodeError("predicted rows must be a count")
    top = _decode_pairs(doc.get("top"), rows)
    classes_doc = doc.get("classes")
    if not isinstance(classes_doc, dict) or len(classes_doc) > len(labels):
        raise PredictedDecodeError("predicted per-class bins must be an object of labels")
    known = set(labels)
    classes: dict[str, tuple[Pair, ...]] = {}
    for label, pairs in classes_doc.items():
        if not isinstance(label, str) or len(label) > max_label or label not in known:
            raise PredictedDecodeError("predicted per-class bins of an unknown label")
        classes[label] = _decode_pairs(pairs, rows)
    return PredictedScores(rows, top, MappingProxyType(classes))


def _decode_pairs(value: object, rows: int) -> tuple[Pair, ...]:
    if not isinstance(value, list) or len(value) != PREDICTED_BINS:
        raise PredictedDecodeError(f"predicted bins must be a list of {PREDICTED_BINS}")
    out: list[Pair] = []
    for item in value:
        if not isinstance(item, list) or len(item) != 2:
            raise PredictedDecodeError("a predicted bin must be [rows, sum]")
        n, total = item
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise PredictedDecodeError("predicted bin rows must be a count")
        if isinstance(total, bool) or not isinstance(total, int | float):
            raise PredictedDecodeError("a predicted bin sum must be a number")
        total = float(total)
        if not math.isfinite(total) or not -1e-9 * n <= total <= n * (1 + 1e-9):
            raise PredictedDecodeError("a predicted bin sum is impossible for its rows")
        out.append((n, total))
    if sum(p[0] for p in out) != rows:
        raise PredictedDecodeError(f"predicted bins do not sum to {rows} rows")
    return tuple(out)
