"""The wire form of a performance summary: attributes of a performance span, checked on decode.

``performance_attributes`` writes the ``mlspan.performance.*`` attributes;
``decode_performance`` reads them back from untrusted input (the collector gets them
from the network). Every field is type- and range-checked, counts must add up (the
confusion matrix sums to the count, calibration bins to the probability rows, sketch
weights to the class counts), and every sketch passes ``kll_format.check_kll_doubles``
before any byte reaches the native DataSketches code. Anything wrong raises
``PerformanceDecodeError`` and nothing else escapes.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final

from mlspan.semconv import attributes as attr
from mlspan.semconv.values import PerformanceTask
from mlspan.summaries.kll_format import SketchFormatError, check_kll_doubles
from mlspan.summaries.performance import (
    CALIBRATION_BINS,
    DEFAULT_MAX_CLASSES,
    MAX_CLASSES_LIMIT,
    Bin,
    PerformanceSummary,
    ProbabilitySums,
    RegressionSums,
)
from mlspan.summaries.performance_predicted import (
    PredictedDecodeError,
    PredictedScores,
    decode_predicted,
)

MAX_COUNT: Final = 1 << 53
"""Largest count accepted: every count stays exact as a float."""
MAX_TEXT: Final = 4 * 1024 * 1024
"""Longest JSON or base64 attribute accepted (a span's byte budget)."""
MAX_LABEL: Final = 1024
"""Longest class label accepted (characters)."""

AttributeValue = str | bool | int | float | Sequence[str]


class PerformanceDecodeError(ValueError):
    """Span attributes that do not form a valid performance summary."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def performance_attributes(summary: PerformanceSummary) -> dict[str, AttributeValue]:
    """The span attributes of ``summary`` (the window and model identity are the caller's)."""
    out: dict[str, AttributeValue] = {
        attr.PERFORMANCE_TASK: summary.task.value,
        attr.PERFORMANCE_COUNT: summary.count,
    }
    if summary.delay:
        out[attr.PERFORMANCE_DELAY] = _b64(summary.delay)
    if summary.task is PerformanceTask.REGRESSOR:
        r = summary.regression
        if r is not None:
            out[attr.PERFORMANCE_REGRESSION] = json.dumps(
                {
                    "count": r.count,
                    "sum_error": r.sum_error,
                    "sum_abs_error": r.sum_abs_error,
                    "sum_sq_error": r.sum_sq_error,
                    "mean_true": r.mean_true,
                    "m2_true": r.m2_true,
                },
                separators=(",", ":"),
            )
        return out
    out[attr.PERFORMANCE_LABELS] = list(summary.labels)
    out[attr.PERFORMANCE_CONFUSION] = json.dumps(summary.confusion, separators=(",", ":"))
    p = summary.probability
    if p is not None:
        document = {
            "rows": p.rows,
            "log_loss": p.log_loss,
            "brier": p.brier,
            "unknown": p.unknown,
            "bins": CALIBRATION_BINS,
            "top": p.top,
            "classes": dict(p.classes),
        }
        out[attr.PERFORMANCE_PROBABILITY] = json.dumps(document, separators=(",", ":"))
        scores = {label: [_b64(pos), _b64(neg)] for label, (pos, neg) in p.scores.items()}
        out[attr.PERFORMANCE_SCORES] = json.dumps(scores, separators=(",", ":"))
    if summary.predicted is not None:
        out[attr.PERFORMANCE_PREDICTED] = json.dumps(
            summary.predicted.to_json(), separators=(",", ":")
        )
    return out


def decode_performance(attributes: Mapping[str, object]) -> PerformanceSummary:
    """The checked summary in a span's attributes; raises ``PerformanceDecodeError``."""
    try:
        return _decode(attributes)
    except PerformanceDecodeError:
        raise
    except PredictedDecodeError as exc:
        raise PerformanceDecodeError(str(exc)) from exc
    except SketchFormatError as exc:
        raise PerformanceDecodeError(f"bad sketch: {exc}") from exc
    except Exception as exc:  # a slip of a check below is still only a rejection
        raise PerformanceDecodeError(f"undecodable summary: {type(exc).__name__}") from exc


def _decode(attributes: Mapping[str, object]) -> PerformanceSummary:
    try:
        task = PerformanceTask(attributes.get(attr.PERFORMANCE_TASK))
    except ValueError as exc:
        raise PerformanceDecodeError(f"{attr.PERFORMANCE_TASK} has an unknown value") from exc
    count = _count(attributes.get(attr.PERFORMANCE_COUNT), attr.PERFORMANCE_COUNT)
    delay = _sketch(attributes.get(attr.PERFORMANCE_DELAY, ""), attr.PERFORMANCE_DELAY)
    if delay:
        layout = check_kll_doubles(delay)
        if layout.n > count or (layout.n and layout.min_value < 0.0):
            raise PerformanceDecodeError("the delay sketch does not fit the count")
    if task is PerformanceTask.REGRESSOR:
        doc = _json(attributes.get(attr.PERFORMANCE_REGRESSION), attr.PERFORMANCE_REGRESSION)
        if not isinstance(doc, dict):
            raise PerformanceDecodeError("regression sums must be a JSON object")
        n = _count(doc.get("count"), "count")
        if n != count:
            raise PerformanceDecodeError(f"regression sums of {n} rows, the count says {count}")
        values = [
            _finite(doc.get(key), key)
            for key in ("sum_error", "sum_abs_error", "sum_sq_error", "mean_true", "m2_true")
        ]
        if values[1] < 0 or values[2] < 0 or values[4] < 0 or abs(values[0]) > values[1]:
            raise PerformanceDecodeError("regression sums impossible for any data")
        sums = RegressionSums(n, *values)
        return PerformanceSummary(task, count, regression=sums, delay=delay)
    labels = _labels(attributes.get(attr.PERFORMANCE_LABELS))
    size = len(labels)
    matrix = _json(attributes.get(attr.PERFORMANCE_CONFUSION), attr.PERFORMANCE_CONFUSION)
    if not isinstance(matrix, list) or len(matrix) != size:
        raise PerformanceDecodeError(f"the confusion matrix must have {size} rows")
    rows = tuple(_counts(row, size, "a confusion row") for row in matrix)
    if sum(map(sum, rows)) != count:
        raise PerformanceDecodeError(f"the confusion matrix does not sum to {count}")
    probability = None
    if attr.PERFORMANCE_PROBABILITY in attributes:
        probability = _probability(attributes, labels, rows, count)
    predicted = None
    if attr.PERFORMANCE_PREDICTED in attributes:
        predicted = predicted_of(attributes, labels)
    return PerformanceSummary(
        task,
        count,
        labels=labels,
        confusion=rows,
        probability=probability,
        delay=delay,
        max_classes=max(size, DEFAULT_MAX_CLASSES),
        predicted=predicted,
    )


def predicted_of(attributes: Mapping[str, object], labels: Sequence[str]) -> PredictedScores:
    """The checked ``mlspan.performance.predicted`` of ``attributes`` (classes among
    ``labels``); raises ``PerformanceDecodeError``."""
    doc = _json(attributes.get(attr.PERFORMANCE_PREDICTED), attr.PERFORMANCE_PREDICTED)
    try:
        return decode_predicted(doc, labels, MAX_COUNT, MAX_LABEL)
    except PredictedDecodeError as exc:
        raise PerformanceDecodeError(str(exc)) from exc


def _probability(
    attributes: Mapping[str, object],
    labels: tuple[str, ...],
    rows: tuple[tuple[int, ...], ...],
    count: int,
) -> ProbabilitySums:
    doc = _json(attributes.get(attr.PERFORMANCE_PROBABILITY), attr.PERFORMANCE_PROBABILITY)
    if not isinstance(doc, dict) or doc.get("bins") != CALIBRATION_BINS:
        raise PerformanceDecodeError(
            f"probability sums must be an object of {CALIBRATION_BINS} bins"
        )
    scored = _count(doc.get("rows"), "rows")
    unknown = _count(doc.get("unknown"), "unknown")
    if scored + unknown > count:
        raise PerformanceDecodeError("more probability rows than the summary counts")
    log_loss = _finite(doc.get("log_loss"), "log_loss")
    brier = _finite(doc.get("brier"), "brier")
    if log_loss < 0 or brier < 0 or brier > 2 * scored + 1e-6 * scored:
        raise PerformanceDecodeError("log loss or Brier sums impossible for the rows")
    top = _bins(doc.get("top"), scored)
    classes_doc = doc.get("classes")
    if not isinstance(classes_doc, dict) or len(classes_doc) > MAX_CLASSES_LIMIT:
        raise PerformanceDecodeError("per-class bins must be an object")
    classes = {_label(k): _bins(v, scored) for k, v in classes_doc.items()}
    scores_doc = _json(attributes.get(attr.PERFORMANCE_SCORES, "{}"), attr.PERFORMANCE_SCORES)
    if not isinstance(scores_doc, dict) or set(scores_doc) - set(classes):
        raise PerformanceDecodeError("score sketches must be an object keyed by classes")
    scores: dict[str, tuple[bytes, bytes]] = {}
    for label, pair in scores_doc.items():
        if not isinstance(pair, list) or len(pair) != 2:
            raise PerformanceDecodeError("each class needs two score sketches")
        pos, neg = (_sketch(text, attr.PERFORMANCE_SCORES) for text in pair)
        positives = sum(b[2] for b in classes[label])
        for data, weight in ((pos, positives), (neg, scored - positives)):
            layout = check_kll_doubles(data)
            if layout.n != weight or (
                layout.n and not 0.0 <= layout.min_value <= layout.max_value <= 1.0
            ):
                raise PerformanceDecodeError(f"a score sketch of {label!r} does not fit its bins")
        scores[label] = (pos, neg)
    return ProbabilitySums(
        scored,
        log_loss,
        brier,
        unknown,
        top,
        MappingProxyType(classes),
        MappingProxyType(scores),
    )


def _bins(value: object, rows: int) -> tuple[Bin, ...]:
    if not isinstance(value, list) or len(value) != CALIBRATION_BINS:
        raise PerformanceDecodeError(f"calibration bins must be a list of {CALIBRATION_BINS}")
    out: list[Bin] = []
    for item in value:
        if not isinstance(item, list) or len(item) != 3:
            raise PerformanceDecodeError("a calibration bin must be [rows, sum, positives]")
        n = _count(item[0], "bin rows")
        total = _finite(item[1], "bin sum")
        hits = _count(item[2], "bin positives")
        if hits > n or not -1e-9 * n <= total <= n * (1 + 1e-9):
            raise PerformanceDecodeError("a calibration bin is impossible for its rows")
        out.append((n, total, hits))
    if sum(b[0] for b in out) != rows:
        raise PerformanceDecodeError(f"calibration bins do not sum to {rows} rows")
    return tuple(out)


def _labels(value: object) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_CLASSES_LIMIT:
        raise PerformanceDecodeError(
            f"{attr.PERFORMANCE_LABELS} must list 1 to {MAX_CLASSES_LIMIT} labels"
        )
    labels = tuple(_label(v) for v in value)
    if list(labels) != sorted(set(labels)):
        raise PerformanceDecodeError("labels must be unique and sorted")
    return labels


def _label(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_LABEL:
        raise PerformanceDecodeError(f"a label must be a string of at most {MAX_LABEL} characters")
    return value


def _json(value: object, key: str) -> object:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise PerformanceDecodeError(f"{key} must be a JSON string")
    try:
        return json.loads(value)
    except (ValueError, RecursionError) as exc:
        raise PerformanceDecodeError(f"{key} is not JSON") from exc


def _sketch(value: object, key: str) -> bytes:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise PerformanceDecodeError(f"{key} must be a base64 string")
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise PerformanceDecodeError(f"{key} is not base64") from exc


def _count(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise PerformanceDecodeError(f"{key} must be an integer in [0, 2**53]")
    return value


def _counts(value: object, size: int, what: str) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) != size:
        raise PerformanceDecodeError(f"{what} must hold {size} counts")
    return tuple(_count(v, what) for v in value)


def _finite(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PerformanceDecodeError(f"{key} must be a number")
    number = float(value)
    if not math.isfinite(number):
        raise PerformanceDecodeError(f"{key} is not finite")
    return number
