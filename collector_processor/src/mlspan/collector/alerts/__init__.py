"""Alerts: rules over drift, validation and ingest results, with a stored history.

Rules live in the collector config (``AlertsConfig``). The drift engine feeds every new
result to ``AlertingComponent.on_results``; ingest rules are evaluated periodically.
Firing and resolved transitions are stored (``AlertHistory``), sent to webhooks in
Alertmanager's JSON shape with retries and backoff (``WebhookNotifier``), served at
``GET /api/v1/alerts`` and exported as ``mlspan_alerts_firing``.
"""

from __future__ import annotations

from mlspan.collector.alerts.component import AlertingComponent
from mlspan.collector.alerts.config import (
    AlertRuleConfig,
    AlertsConfig,
    RuleKind,
    WebhookConfig,
)
from mlspan.collector.alerts.factory import alerts_factory
from mlspan.collector.alerts.history import AlertHistory, SqliteAlertHistory
from mlspan.collector.alerts.model import Alert, AlertStatus, webhook_payload
from mlspan.collector.alerts.webhook import WebhookNotifier

__all__ = [
    "Alert",
    "AlertHistory",
    "AlertRuleConfig",
    "AlertStatus",
    "AlertingComponent",
    "AlertsConfig",
    "RuleKind",
    "SqliteAlertHistory",
    "WebhookConfig",
    "WebhookNotifier",
    "alerts_factory",
    "webhook_payload",
]
