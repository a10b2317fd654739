"""Finds what experiments count in trace batches: outcome summaries and routed predictions.

* An **outcome** is a performance span of labelled predictions (it carries
  ``mlspan.performance.task``: the ``labels`` spans of the outcomes API and ``evaluate``
  spans; ``predictions`` spans hold no labels and are skipped): its summary, model
  version, prediction window and, when the application's router set one,
  ``mlspan.experiment.arm`` (and ``mlspan.experiment.name``). The summary is rebuilt by
  the shared checked decoder, so nothing malformed reaches DataSketches.
* An **assignment** is a prediction routed to an arm: a span carrying
  ``mlspan.experiment.arm`` (the router's own span; it counts ``mlspan.dataset.rows``
  predictions when it says, else one), or the user's own predict-like call of a model
  version (``predict``, ``predict_proba``, ``predict_log_proba``,
  ``decision_function``), counting its rows. Nested pipeline steps and search
  candidates are not the user's calls and do not count.

Only spans carrying one of those attributes are looked at further.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from mlspan.collector.pdata import TraceBatch, int_attribute, plain_attributes, string_attribute
from mlspan.semconv import attributes as attr
from mlspan.semconv.values import CallRole, OperationName
from mlspan.summaries.performance import PerformanceSummary
from mlspan.summaries.performance_codec import PerformanceDecodeError, decode_performance

PREDICT_OPERATIONS: Final = frozenset(
    op.value
    for op in (
        OperationName.PREDICT,
        OperationName.PREDICT_PROBA,
        OperationName.PREDICT_LOG_PROBA,
        OperationName.DECISION_FUNCTION,
    )
)
PREDICTIONS_OPERATION: Final = OperationName.PREDICTIONS.value
MAX_ROWS: Final = 1 << 40
"""Largest row count one span may claim (more is refused as bad input)."""


@dataclass(frozen=True)
class Outcome:
    """One performance summary and whose it is."""

    service: str
    version: str
    arm: str | None
    experiment: str | None
    start: float
    end: float
    summary: PerformanceSummary


@dataclass(frozen=True)
class Assignment:
    """Predictions routed to a model version or an arm."""

    service: str
    version: str | None
    arm: str | None
    experiment: str | None
    rows: int
    time: float


def scan(batch: TraceBatch, bad: list[str]) -> tuple[list[Outcome], list[Assignment]]:
    """Every outcome and assignment in ``batch``; reasons of refused spans go to ``bad``."""
    outcomes: list[Outcome] = []
    assignments: list[Assignment] = []
    for ref in batch.spans():
        span = ref.span
        attributes = span.attributes
        if attr.PERFORMANCE_TASK in attributes:
            if string_attribute(attributes, attr.OPERATION_NAME) == PREDICTIONS_OPERATION:
                continue  # probabilities of logged predictions, no labels: not outcomes
            try:
                outcomes.append(_outcome(ref.service, attributes))
            except (PerformanceDecodeError, ValueError) as exc:
                bad.append(str(exc)[:200])
            continue
        arm = string_attribute(attributes, attr.EXPERIMENT_ARM)
        if arm is None:
            if string_attribute(attributes, attr.OPERATION_NAME) not in PREDICT_OPERATIONS:
                continue
            role = string_attribute(attributes, attr.CALL_ROLE)
            if role is not None and role != CallRole.USER.value:
                continue
        version = string_attribute(attributes, attr.MODEL_VERSION)
        if arm is None and not version:
            continue
        rows = int_attribute(attributes, attr.DATASET_ROWS)
        if rows is None and arm is not None:
            rows = 1
        if rows is None or not 0 <= rows <= MAX_ROWS:
            bad.append(f"{attr.DATASET_ROWS}: not a row count: {rows!r}")
            continue
        time = span.start_time_unix_nano / 1e9 if span.start_time_unix_nano else batch.received_at
        experiment = string_attribute(attributes, attr.EXPERIMENT_NAME)
        assignments.append(Assignment(ref.service, version, arm, experiment, rows, time))
    return outcomes, assignments


def _outcome(service: str, attributes: Any) -> Outcome:
    plain = plain_attributes(attributes)
    summary = decode_performance(plain)
    version = plain.get(attr.MODEL_VERSION)
    if not isinstance(version, str) or not version:
        raise ValueError("performance span without a model version")
    start = _seconds(plain.get(attr.PERFORMANCE_WINDOW_START), "window start")
    end = _seconds(plain.get(attr.PERFORMANCE_WINDOW_END), "window end")
    if not end > start:
        raise ValueError(f"window [{start}, {end}) is empty")
    arm = plain.get(attr.EXPERIMENT_ARM)
    experiment = plain.get(attr.EXPERIMENT_NAME)
    return Outcome(
        service,
        version,
        arm if isinstance(arm, str) and arm else None,
        experiment if isinstance(experiment, str) and experiment else None,
        start,
        end,
        summary,
    )


def _seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what}: not a number: {value!r}")
    number = float(value)
    if not math.isfinite(number) or not 0 <= number < 1e11:
        raise ValueError(f"{what}: out of range: {number}")
    return number
