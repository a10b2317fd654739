"""Firing and resolved transitions of alert instances.

Each evaluation is authoritative for one scope: a drift result for its model's
instances (``model_scope``), the periodic ingest evaluation for the ingest instances
(``INGEST_SCOPE``). Instances active now but missing from the scope's new candidates
resolve; new ones fire, or first wait as pending until they have been active for their
rule's ``for_seconds`` (as Prometheus' ``for``; ``starts_at`` is when they became
active). Every transition is stored in the history and handed to
``notify`` (which must not block: the webhook notifier only enqueues).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from mlspan.collector.alerts.config import AlertRuleConfig, RuleKind
from mlspan.collector.alerts.history import AlertHistory
from mlspan.collector.alerts.model import Alert, AlertStatus, fingerprint
from mlspan.collector.alerts.rules import Candidate
from mlspan.collector.drift.results import ModelKey

logger = logging.getLogger(__name__)

Scope = tuple[str, ...]
INGEST_SCOPE: Final[Scope] = ("ingest",)


def model_scope(key: ModelKey) -> Scope:
    """The scope a drift result of ``key``'s model is authoritative for."""
    return ("model", key.service, key.model_name, key.model_version)


def performance_scope(service: str, model: str, version: str) -> Scope:
    """The scope a performance result of one model version is authoritative for (apart
    from its drift scope, so neither result resolves the other's alerts)."""
    return ("performance", service, model, version)


def experiment_scope(name: str) -> Scope:
    """The scope an experiment's results are authoritative for."""
    return ("experiment", name)


def _scope_of(rule: AlertRuleConfig, labels: Mapping[str, str]) -> Scope:
    if rule.kind is RuleKind.INGEST_DROPS:
        return INGEST_SCOPE
    if rule.kind is RuleKind.EXPERIMENT:
        return experiment_scope(labels.get("experiment", ""))
    if rule.kind in (RuleKind.PERFORMANCE, RuleKind.CONCEPT_DRIFT):
        return performance_scope(
            labels.get("service", ""), labels.get("model", ""), labels.get("version", "")
        )
    return ("model", labels.get("service", ""), labels.get("model", ""), labels.get("version", ""))


class AlertTracker:
    """Keeps the active instances and turns evaluations into transitions."""

    def __init__(
        self,
        rules: Sequence[AlertRuleConfig],
        history: AlertHistory,
        notify: Callable[[Sequence[Alert]], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._rules = {rule.name: rule for rule in rules}
        self._history = history
        self._notify = notify
        self._clock = clock
        self._lock = threading.Lock()
        self._active: dict[str, tuple[Scope, Alert]] = {}
        self._pending: dict[str, tuple[Scope, float]] = {}
        """Instances active for less than their rule's ``for_seconds``: since when."""

    def restore(self) -> list[Alert]:
        """Reload firing episodes from the history; those of removed rules resolve now."""
        resolved: list[Alert] = []
        with self._lock:
            for alert in self._history.firing():
                rule = self._rules.get(alert.name)
                if rule is None:
                    resolved.append(alert.resolved(self._clock()))
                else:
                    self._active[alert.fingerprint] = (_scope_of(rule, alert.labels), alert)
            self._history.record(resolved)
        if resolved:
            self._notify(resolved)
        return resolved

    def update(self, scope: Scope, candidates: Sequence[Candidate]) -> list[Alert]:
        """Make ``candidates`` the active instances of ``scope``; return the transitions."""
        now = self._clock()
        transitions: list[Alert] = []
        refreshed_alerts: list[Alert] = []
        with self._lock:
            wanted: dict[str, Candidate] = {}
            for candidate in candidates:
                wanted.setdefault(fingerprint(candidate.labels), candidate)
            for fp, (active_scope, alert) in list(self._active.items()):
                if active_scope == scope and fp not in wanted:
                    del self._active[fp]
                    transitions.append(alert.resolved(now))
            for fp, (pending_scope, _) in list(self._pending.items()):
                if pending_scope == scope and fp not in wanted:
                    del self._pending[fp]
            for fp, candidate in wanted.items():
                current = self._active.get(fp)
                if current is None:
                    since = self._pending.setdefault(fp, (scope, now))[1]
                    if now - since < candidate.rule.for_seconds:
                        continue
                    del self._pending[fp]
                    alert = Alert(
                        name=candidate.rule.name,
                        severity=candidate.rule.severity,
                        status=AlertStatus.FIRING,
                        labels=dict(candidate.labels),
                        annotations=dict(candidate.annotations),
                        insight=candidate.insight,
                        starts_at=since,
                    )
                    self._active[fp] = (scope, alert)
                    transitions.append(alert)
                elif current[1].insight != candidate.insight:
                    refreshed = dataclasses.replace(
                        current[1],
                        insight=candidate.insight,
                        annotations=dict(candidate.annotations),
                    )
                    self._active[fp] = (scope, refreshed)
                    refreshed_alerts.append(refreshed)
            self._history.record([*transitions, *refreshed_alerts])
        if transitions:
            logger.info(
                "alerts: %s",
                ", ".join(f"{a.name} {a.status.value} {a.fingerprint}" for a in transitions),
            )
            self._notify(transitions)
        return transitions

    def firing(self) -> list[Alert]:
        """Instances firing now, oldest first."""
        with self._lock:
            alerts = [alert for _, alert in self._active.values()]
        return sorted(alerts, key=lambda a: (a.starts_at, a.name))

    def firing_counts(self) -> dict[tuple[str, str], int]:
        """Firing instances by (rule name, severity), zero for every quiet rule."""
        counts = {(rule.name, rule.severity): 0 for rule in self._rules.values()}
        with self._lock:
            for _, alert in self._active.values():
                key = (alert.name, alert.severity)
                counts[key] = counts.get(key, 0) + 1
        return counts
