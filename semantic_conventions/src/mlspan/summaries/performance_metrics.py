"""Performance metrics computed from a ``PerformanceSummary``, as scikit-learn defines them.

Count-based metrics (accuracy, precision, recall, F1 per class and macro) are exact:
they equal scikit-learn's on the raw rows the summary was built from. Log loss and the
Brier score are exact sums (equal up to floating-point rounding); the expected
calibration error uses 10 equal-width bins. ROC AUC comes from the KLL sketches of
each class's predicted probability among its rows and the other rows: exact while a
sketch holds every value (up to ``k`` values), within about the sum of both sketches'
rank errors beyond (far less in practice; tests check 0.005).

Macro averages run over the labels that occur in the truth or the predictions (the
labels scikit-learn uses by default); a metric whose denominator is zero is 0 (as
scikit-learn's ``zero_division`` default, without its warning). A metric that cannot be
computed (no rows, no probabilities, one class only for ROC AUC) is NaN.
"""

from __future__ import annotations

import math

import numpy as np
from datasketches import kll_doubles_sketch

from mlspan.semconv.values import PerformanceTask
from mlspan.summaries.performance import PerformanceSummary


def accuracy(summary: PerformanceSummary) -> float:
    """Share of correct predictions."""
    matrix = summary.matrix()
    total = int(matrix.sum())
    return float(np.trace(matrix)) / total if total else math.nan


def per_class(summary: PerformanceSummary) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of every label that occurs."""
    matrix = summary.matrix()
    out: dict[str, dict[str, float]] = {}
    for i, label in enumerate(summary.labels):
        tp = int(matrix[i, i])
        predicted = int(matrix[:, i].sum())
        actual = int(matrix[i, :].sum())
        if not predicted and not actual:
            continue
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * tp / (predicted + actual)
        out[label] = {"precision": precision, "recall": recall, "f1": f1, "support": actual}
    return out


def macro(summary: PerformanceSummary) -> dict[str, float]:
    """Unweighted means of precision, recall and F1 over the labels that occur."""
    classes = per_class(summary)
    if not classes:
        return {"precision": math.nan, "recall": math.nan, "f1": math.nan}
    return {
        name: float(np.mean([values[name] for values in classes.values()]))
        for name in ("precision", "recall", "f1")
    }


def log_loss(summary: PerformanceSummary) -> float:
    """Mean negative log-likelihood of the true class (rows the model can score)."""
    p = summary.probability
    return p.log_loss / p.rows if p is not None and p.rows else math.nan


def brier(summary: PerformanceSummary) -> float:
    """Mean squared distance of the probabilities to the one-hot truth.

    For two classes this is scikit-learn's binary Brier score (half the sum over both
    columns); for more, the multi-class score (the whole sum)."""
    p = summary.probability
    if p is None or not p.rows:
        return math.nan
    scale = 0.5 if len(p.classes) == 2 else 1.0
    return scale * p.brier / p.rows


def calibration_error(summary: PerformanceSummary) -> float:
    """Expected calibration error of the predicted class's confidence (10 bins)."""
    p = summary.probability
    if p is None or not p.rows:
        return math.nan
    gap = sum(abs(total - correct) for rows, total, correct in p.top if rows)
    return gap / p.rows


def roc_auc(summary: PerformanceSummary) -> float:
    """ROC AUC: of the positive class for two classes, else the macro one-vs-rest mean."""
    per_label = roc_auc_per_class(summary)
    values = [v for v in per_label.values() if not math.isnan(v)]
    if len(per_label) == 2:
        return values[-1] if values else math.nan
    if not values or len(values) < len(per_label):
        return math.nan
    return float(np.mean(values))


def roc_auc_per_class(summary: PerformanceSummary) -> dict[str, float]:
    """One-vs-rest ROC AUC of each class the probabilities cover."""
    p = summary.probability
    if p is None:
        return {}
    return {label: auc_from_sketches(pos, neg) for label, (pos, neg) in sorted(p.scores.items())}


def auc_from_sketches(positives: bytes, negatives: bytes) -> float:
    """P(score of a positive > score of a negative) + half the ties, from two sketches."""
    pos = kll_doubles_sketch.deserialize(positives)
    neg = kll_doubles_sketch.deserialize(negatives)
    if pos.is_empty() or neg.is_empty():
        return math.nan
    items = np.array(list(pos), dtype=np.float64).reshape(-1, 2)
    values, inverse = np.unique(items[:, 0], return_inverse=True)
    weights = np.bincount(inverse, weights=items[:, 1])
    below = np.asarray(neg.get_cdf(values.tolist(), False)[:-1])
    upto = np.asarray(neg.get_cdf(values.tolist(), True)[:-1])
    share = below + 0.5 * (upto - below)
    return float((weights * share).sum() / weights.sum())


def mae(summary: PerformanceSummary) -> float:
    """Mean absolute error."""
    r = summary.regression
    return r.sum_abs_error / r.count if r is not None and r.count else math.nan


def rmse(summary: PerformanceSummary) -> float:
    """Root mean squared error."""
    r = summary.regression
    return math.sqrt(r.sum_sq_error / r.count) if r is not None and r.count else math.nan


def r2(summary: PerformanceSummary) -> float:
    """Coefficient of determination (NaN when the true values do not vary)."""
    r = summary.regression
    if r is None or not r.count or r.m2_true <= 0.0:
        return math.nan
    return 1.0 - r.sum_sq_error / r.m2_true


def metrics(summary: PerformanceSummary) -> dict[str, float]:
    """Every headline metric of the summary's task, by name."""
    if summary.task is PerformanceTask.REGRESSOR:
        return {"mae": mae(summary), "rmse": rmse(summary), "r2": r2(summary)}
    averaged = macro(summary)
    return {
        "accuracy": accuracy(summary),
        "precision_macro": averaged["precision"],
        "recall_macro": averaged["recall"],
        "f1_macro": averaged["f1"],
        "roc_auc": roc_auc(summary),
        "log_loss": log_loss(summary),
        "brier": brier(summary),
        "calibration_error": calibration_error(summary),
    }
