"""One concept-drift detector per model version, fed span by span, with its decisions.

``ConceptTracking`` keeps a ``ConceptDriftDetector`` per (service, model, version) and
feeds it each decoded performance span's counts as the span arrives (increments, not a
window's merged totals). It remembers the latest decision and the latest alarm: the
``ConceptDrift`` alert is active from an alarm until the detector, watching the new
regime, has taken in at least ``RESOLVE_LABELS_FACTOR * min_labels`` further labels
(1,000 by default) since the alarm and finds no further change, so one alarm is an alert
that lasts while the new regime is confirmed, not an instant. Detectors are only created for
versions the performance state accepted, so the processor's ``max_models`` bounds them.
State (detector and decisions) round-trips through ``state_json`` / ``restore`` for the
performance store. Thread-safe.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import asdict, dataclass
from typing import Any, Final

from mlspan.collector.performance.concept import (
    ConceptDriftDecision,
    ConceptDriftDetector,
    errors_of,
)
from mlspan.collector.performance.extract import ModelKey
from mlspan.semconv.values import PerformanceTask
from mlspan.summaries.performance import PerformanceSummary

RESOLVE_LABELS_FACTOR: Final = 10
"""An alarm stands until this many times ``min_labels`` labels taken in after it test
stable."""


@dataclass(frozen=True)
class ConceptStatus:
    """What the detector of one model version last said."""

    latest: ConceptDriftDecision
    alarm: ConceptDriftDecision | None
    """The latest alarm while it stands (None once the new regime tested stable)."""
    looks: int
    alarms: int
    labels_since_alarm: int = 0
    """Labels taken in after the standing alarm (0 when none stands)."""


def decision_json(decision: ConceptDriftDecision) -> dict[str, Any]:
    """A decision as JSON-ready values (NaN as null) with its insight."""
    body: dict[str, Any] = asdict(decision)
    body["task"] = decision.task.value
    for name in ("before", "after", "statistic", "threshold"):
        value = body[name]
        body[name] = value if math.isfinite(value) else None
    body["insight"] = decision.insight
    return body


def decision_from_json(data: dict[str, Any]) -> ConceptDriftDecision:
    """The inverse of ``decision_json``; raises ``ValueError`` on other input."""
    try:

        def number(name: str) -> float:
            value = data[name]
            return math.nan if value is None else float(value)

        since = data["since"]
        return ConceptDriftDecision(
            drift=bool(data["drift"]),
            task=PerformanceTask(data["task"]),
            before=number("before"),
            after=number("after"),
            since=None if since is None else float(since),
            labels_before=int(data["labels_before"]),
            labels_after=int(data["labels_after"]),
            statistic=number("statistic"),
            threshold=number("threshold"),
        )
    except (KeyError, TypeError) as error:
        raise ValueError(f"not a concept-drift decision: {error}") from error


class ConceptTracking:
    """See the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._detectors: dict[ModelKey, ConceptDriftDetector] = {}
        self._status: dict[ModelKey, ConceptStatus] = {}

    def feed(self, key: ModelKey, start: float, summary: PerformanceSummary) -> None:
        """Add one span's labelled predictions of the window at ``start`` and test."""
        with self._lock:
            detector = self._detectors.get(key)
            if detector is None or detector.task is not summary.task:
                detector = self._detectors[key] = ConceptDriftDetector(summary.task)
                self._status.pop(key, None)
            decision = detector.update_summary(start, summary)
            held = self._status.get(key)
            alarm = held.alarm if held is not None else None
            since_alarm = held.labels_since_alarm if held is not None else 0
            if decision.drift:
                alarm, since_alarm = decision, 0
            elif alarm is not None:
                since_alarm += errors_of(summary)[0]
                enough = since_alarm >= RESOLVE_LABELS_FACTOR * detector.min_labels
                if decision.since is not None and enough:
                    alarm, since_alarm = None, 0
            self._status[key] = ConceptStatus(
                decision, alarm, detector.looks, detector.alarms, since_alarm
            )

    def status(self, key: ModelKey) -> ConceptStatus | None:
        """The latest decision of ``key``'s detector (None before its first span)."""
        with self._lock:
            return self._status.get(key)

    def state_json(self, key: ModelKey) -> str | None:
        """``key``'s detector and decisions as one JSON text for the store."""
        with self._lock:
            detector, status = self._detectors.get(key), self._status.get(key)
            if detector is None or status is None:
                return None
            body = {
                "detector": detector.to_dict(),
                "latest": decision_json(status.latest),
                "alarm": None if status.alarm is None else decision_json(status.alarm),
                "labels_since_alarm": status.labels_since_alarm,
            }
        return json.dumps(body, separators=(",", ":"))

    def restore(self, key: ModelKey, text: str) -> None:
        """Bring back what ``state_json`` saved; raises ``ValueError`` if it is damaged."""
        try:
            body = json.loads(text)
            detector = ConceptDriftDetector.from_dict(body["detector"])
            latest = decision_from_json(body["latest"])
            alarm = None if body["alarm"] is None else decision_from_json(body["alarm"])
            since_alarm = int(body["labels_since_alarm"])
        except (KeyError, TypeError, json.JSONDecodeError) as error:
            raise ValueError(f"not a concept-drift state: {error}") from error
        with self._lock:
            self._detectors[key] = detector
            self._status[key] = ConceptStatus(
                latest, alarm, detector.looks, detector.alarms, since_alarm
            )
