"""Estimated performance before labels arrive: confidence-based, as NannyML's CBPE.

A classifier whose probabilities are calibrated is right, on a row where it predicts
class ``c`` with probability ``p_c``, with probability ``p_c``. Summed over rows, the
predicted probabilities give the *expected* confusion matrix: for a binary classifier
with ``q = p(positive)``, a row predicted positive adds ``q`` to the true positives and
``1 - q`` to the false positives, a row predicted negative ``q`` to the false negatives
and ``1 - q`` to the true negatives. Accuracy, precision, recall and F1 of that matrix
are the estimates. Everything here is sums, so it works on what the collector holds:

* ``expected_binary_from_bins``: the calibration bins of ``p(positive)`` (rows and
  probability sum per 0.1-wide bin). The decision threshold 0.5 is a bin edge, so the
  predicted class of every bin is known and the matrix is exact;
* ``expected_binary``: weighted values of ``p(positive)``, e.g. the items of a KLL
  sketch of the predicted probabilities (``weighted_scores``), for any threshold;
* ``expected_accuracy_from_top``: multi-class accuracy from the top-label bins (rows
  and the summed probability of the predicted class): precision and recall per class
  would need the joint distribution of all class probabilities, which no summary keeps.

**The calibration assumption.** The estimate is only as good as the probabilities: a
model that is over-confident gets an over-optimistic estimate. As CBPE calibrates on a
labelled reference set, ``Calibration.from_bins`` learns a per-bin correction from the
labelled bins of a reference window (the validation data, or the first labelled
windows): in each bin, the observed share of positives minus the mean predicted
probability. It fixes miscalibration that is stable over time; it cannot see concept
drift (the relation between inputs and labels changing), which leaves the probabilities
as they were while the realised performance falls. The gap between estimated and
realised performance, once labels arrive, is that signal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from datasketches import kll_doubles_sketch

from mlspan.summaries.kll_format import check_kll_doubles
from mlspan.summaries.performance import CALIBRATION_BINS, Bin

_EDGES = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)[1:-1]
"""Inner bin edges; a probability on an edge is in the lower bin, as in the summaries."""


@dataclass(frozen=True)
class Calibration:
    """Per-bin additive corrections of predicted probabilities (``CALIBRATION_BINS``
    equal-width bins); a bin with fewer than ``min_rows`` reference rows is left as is."""

    shifts: tuple[float, ...] = (0.0,) * CALIBRATION_BINS

    @classmethod
    def from_bins(cls, bins: Sequence[Bin], min_rows: int = 30) -> Calibration:
        """The correction that makes the reference ``bins`` (rows, probability sum,
        positives) calibrated: observed share of positives minus mean probability."""
        if len(bins) != CALIBRATION_BINS:
            raise ValueError(f"expected {CALIBRATION_BINS} calibration bins, got {len(bins)}")
        return cls(
            tuple(
                (positives - total) / rows if rows >= min_rows else 0.0
                for rows, total, positives in bins
            )
        )

    def apply(self, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Calibrated probabilities of ``values`` (clipped to [0, 1])."""
        array = np.asarray(values, dtype=np.float64)
        index = np.searchsorted(_EDGES, array, side="left")
        shifts = np.asarray(self.shifts, dtype=np.float64)
        return np.clip(array + shifts[index], 0.0, 1.0)

    def expected_sums(self, bins: Sequence[Bin]) -> list[float]:
        """Per bin, the calibrated probability sum of ``bins``' rows (within [0, rows])."""
        return [
            min(max(total + shift * rows, 0.0), float(rows))
            for (rows, total, _), shift in zip(bins, self.shifts, strict=True)
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"shifts": list(self.shifts)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """Restored from ``to_dict``; raises ``ValueError`` on other input."""
        shifts = data.get("shifts") if isinstance(data, dict) else None
        if not isinstance(shifts, list) or len(shifts) != CALIBRATION_BINS:
            raise ValueError("not a calibration")
        values = tuple(float(s) for s in shifts)
        if not all(math.isfinite(s) and -1.0 <= s <= 1.0 for s in values):
            raise ValueError("calibration shifts must be within [-1, 1]")
        return cls(values)


@dataclass(frozen=True)
class EstimatedPerformance:
    """An expected confusion matrix (rows: true label, columns: predicted label)."""

    labels: tuple[str, ...]
    matrix: tuple[tuple[float, ...], ...]

    @property
    def count(self) -> float:
        """Rows the estimate covers."""
        return float(sum(sum(row) for row in self.matrix))

    def accuracy(self) -> float:
        """Expected share of correct predictions (NaN for no rows)."""
        count = self.count
        if count <= 0:
            return math.nan
        return sum(self.matrix[i][i] for i in range(len(self.labels))) / count

    def per_class(self) -> dict[str, tuple[float, float, float]]:
        """Per label: expected precision, recall and F1 (NaN where undefined)."""
        matrix = np.asarray(self.matrix, dtype=np.float64)
        out: dict[str, tuple[float, float, float]] = {}
        for i, label in enumerate(self.labels):
            hit = float(matrix[i, i])
            predicted, actual = float(matrix[:, i].sum()), float(matrix[i, :].sum())
            precision = hit / predicted if predicted > 0 else math.nan
            recall = hit / actual if actual > 0 else math.nan
            both = precision + recall
            f1 = 2 * precision * recall / both if both > 0 else math.nan
            out[label] = (precision, recall, f1)
        return out

    def metrics(self) -> dict[str, float]:
        """``accuracy``, macro ``precision``/``recall``/``f1`` and, for two labels, the
        second (positive) label's ``precision_positive``/``recall_positive``/``f1_positive``."""
        per = self.per_class()
        out = {"accuracy": self.accuracy()}
        for j, name in enumerate(("precision", "recall", "f1")):
            values = [v[j] for v in per.values() if not math.isnan(v[j])]
            out[name] = float(np.mean(values)) if values else math.nan
        if len(self.labels) == 2:
            positive = per[self.labels[1]]
            out |= dict(
                zip(("precision_positive", "recall_positive", "f1_positive"), positive, strict=True)
            )
        return out


def expected_binary(
    values: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    labels: tuple[str, str] = ("0", "1"),
    *,
    threshold: float = 0.5,
    calibration: Calibration | None = None,
) -> EstimatedPerformance:
    """The expected confusion matrix of rows with predicted ``p(labels[1])`` ``values``
    (each standing for ``weights`` rows); a row is predicted positive when its
    probability exceeds ``threshold`` (scikit-learn's ``predict`` at 0.5)."""
    p = np.asarray(values, dtype=np.float64).ravel()
    w = np.ones_like(p) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if p.shape != w.shape:
        raise ValueError("values and weights differ in length")
    keep = np.isfinite(p) & np.isfinite(w)
    p, w = np.clip(p[keep], 0.0, 1.0), w[keep]
    q = p if calibration is None else calibration.apply(p)
    positive = p > threshold
    tp = float(np.sum(w * q * positive))
    fp = float(np.sum(w * (1 - q) * positive))
    fn = float(np.sum(w * q * ~positive))
    tn = float(np.sum(w * (1 - q) * ~positive))
    return EstimatedPerformance(labels, ((tn, fp), (fn, tp)))


def expected_binary_from_bins(
    bins: Sequence[Bin],
    labels: tuple[str, str] = ("0", "1"),
    calibration: Calibration | None = None,
) -> EstimatedPerformance:
    """The expected confusion matrix from calibration bins of ``p(labels[1])``; the
    upper half of the bins is predicted positive (threshold 0.5, a bin edge)."""
    if len(bins) != CALIBRATION_BINS:
        raise ValueError(f"expected {CALIBRATION_BINS} calibration bins, got {len(bins)}")
    sums = [b[1] for b in bins] if calibration is None else calibration.expected_sums(bins)
    half = CALIBRATION_BINS // 2
    tp = sum(sums[half:])
    fp = sum(b[0] for b in bins[half:]) - tp
    fn = sum(sums[:half])
    tn = sum(b[0] for b in bins[:half]) - fn
    return EstimatedPerformance(labels, ((tn, fp), (fn, tp)))


def expected_accuracy_from_top(
    bins: Sequence[Bin], calibration: Calibration | None = None
) -> float:
    """Expected accuracy from top-label bins (rows, summed probability of the predicted
    class); ``calibration`` learnt from a reference window's top-label bins."""
    rows = sum(b[0] for b in bins)
    if rows <= 0:
        return math.nan
    sums = [b[1] for b in bins] if calibration is None else calibration.expected_sums(bins)
    return float(sum(sums)) / rows


def weighted_scores(
    sketch: bytes, points: int = 1000
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """A KLL sketch of probabilities as ``points`` quantiles at evenly spaced ranks, each
    standing for ``n / points`` rows (empty arrays for an empty sketch).

    Quantiles rather than the retained items: they are what the sketch guarantees
    (within its rank error), whatever way it was built. The bytes are checked with
    ``check_kll_doubles`` first (they may come off the wire); raises
    ``mlspan.summaries.kll_format.SketchFormatError`` when they are not a sketch.
    """
    check_kll_doubles(sketch)
    parsed = kll_doubles_sketch.deserialize(sketch)
    if parsed.is_empty():
        return np.zeros(0), np.zeros(0)
    ranks = (np.arange(points, dtype=np.float64) + 0.5) / points
    values = np.asarray(parsed.get_quantiles(ranks.tolist()), dtype=np.float64)
    return values, np.full(points, parsed.n / points)
