"""Alerts and their JSON form.

An alert instance is identified by its labels (``alertname``, ``severity`` and what it is
about: service, model, version, feature, check, ...); its ``fingerprint`` is a digest of
them, as in Alertmanager. One firing-to-resolved span of an instance is an episode,
identified by fingerprint and ``starts_at``.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Final

ZERO_TIME: Final = "0001-01-01T00:00:00Z"
"""Alertmanager's ``endsAt`` for an alert that has not ended."""


class AlertStatus(str, enum.Enum):
    """Where an alert episode stands."""

    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Alert:
    """One episode of one alert instance."""

    name: str
    severity: str
    status: AlertStatus
    labels: Mapping[str, str]
    """Every identifying label, ``alertname`` and ``severity`` included."""
    annotations: Mapping[str, str]
    """``summary``, ``insight`` and the rule's ``description`` when set."""
    insight: str
    """The one-line explanation of the result that fired the alert."""
    starts_at: float
    """Unix seconds."""
    ends_at: float | None = None
    """Unix seconds when resolved, None while firing."""

    @property
    def fingerprint(self) -> str:
        """Stable digest of the labels: the identity of the instance."""
        return fingerprint(self.labels)

    def resolved(self, at: float) -> Alert:
        """This episode, ended at ``at``."""
        return dataclasses.replace(self, status=AlertStatus.RESOLVED, ends_at=at)

    def to_json(self) -> dict[str, Any]:
        """The API form: Alertmanager's alert fields plus ``name`` and ``insight``."""
        return {
            "name": self.name,
            "status": self.status.value,
            "severity": self.severity,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "insight": self.insight,
            "startsAt": rfc3339(self.starts_at),
            "endsAt": rfc3339(self.ends_at) if self.ends_at is not None else ZERO_TIME,
            "fingerprint": self.fingerprint,
            "generatorURL": "",
        }


def fingerprint(labels: Mapping[str, str]) -> str:
    """16 hex characters of a SHA-256 over the sorted labels."""
    encoded = json.dumps(sorted(labels.items()), separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def rfc3339(seconds: float) -> str:
    """Unix seconds as an RFC 3339 UTC timestamp with milliseconds."""
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def webhook_payload(
    receiver: str, alerts: list[Alert], external_url: str = "", max_alerts: int = 0
) -> dict[str, Any]:
    """An Alertmanager webhook (version 4) body for ``alerts``, sent to ``receiver``.

    ``status`` is firing when any alert fires; common labels and annotations are those
    every alert shares, as Alertmanager computes them. With ``max_alerts`` > 0 only the
    first ``max_alerts`` are listed and ``truncatedAlerts`` counts the rest.
    """
    listed = alerts[:max_alerts] if max_alerts > 0 else alerts
    common_labels = _common([a.labels for a in alerts])
    group_labels = {"alertname": common_labels["alertname"]} if "alertname" in common_labels else {}
    firing = any(a.status is AlertStatus.FIRING for a in alerts)
    return {
        "version": "4",
        "groupKey": json.dumps(group_labels, sort_keys=True),
        "truncatedAlerts": len(alerts) - len(listed),
        "status": AlertStatus.FIRING.value if firing else AlertStatus.RESOLVED.value,
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": common_labels,
        "commonAnnotations": _common([a.annotations for a in alerts]),
        "externalURL": external_url,
        "alerts": [a.to_json() for a in listed],
    }


def _common(mappings: list[Mapping[str, str]]) -> dict[str, str]:
    if not mappings:
        return {}
    first = dict(mappings[0])
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in mappings[1:])}
