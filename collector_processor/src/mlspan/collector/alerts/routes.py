"""``GET /api/v1/alerts``: firing alerts and the recent history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from mlspan.collector.alerts.model import Alert
from mlspan.collector.api.router import Parameter, Request, Response, Router

ALERTS_PATH: Final = "/api/v1/alerts"
MAX_HISTORY: Final = 10_000

_ALERT_SCHEMA: Final = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "severity": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "insight": {"type": "string"},
        "startsAt": {"type": "string", "format": "date-time"},
        "endsAt": {"type": "string", "format": "date-time"},
        "fingerprint": {"type": "string"},
    },
}


def register_alert_routes(
    router: Router,
    firing: Callable[[], list[Alert]],
    history: Callable[[int, str | None], list[Alert]],
) -> None:
    """Serve the firing alerts and the ``limit`` most recent episodes."""

    def handle(request: Request) -> Response:
        model = request.params["model"]
        service = request.params["service"]

        def wanted(alert: Alert) -> bool:
            labels = alert.labels
            return (model is None or labels.get("model") == model) and (
                service is None or labels.get("service") == service
            )

        body: dict[str, Any] = {"firing": [a.to_json() for a in firing() if wanted(a)]}
        if request.params["history"]:
            limit = request.params["limit"]
            # The history is kept by model; a service filter reads the most it may keep.
            episodes = history(limit if service is None else MAX_HISTORY, model)
            body["history"] = [a.to_json() for a in episodes if wanted(a)][:limit]
        return Response.json(body)

    router.add(
        "GET",
        ALERTS_PATH,
        handle,
        summary="Firing alerts and the alert history",
        description="Alerts use Alertmanager's fields (labels, annotations, startsAt, "
        "endsAt, fingerprint) plus name, status, severity and the one-line insight.",
        parameters=(
            Parameter("history", "boolean", "Include recent episodes", default=True),
            Parameter("model", "string", "Only alerts about this model name"),
            Parameter("service", "string", "Only alerts about models of this service"),
            Parameter(
                "limit",
                "integer",
                "Episodes of history",
                default=100,
                minimum=1,
                maximum=MAX_HISTORY,
            ),
        ),
        response_schema={
            "type": "object",
            "properties": {
                "firing": {"type": "array", "items": _ALERT_SCHEMA},
                "history": {"type": "array", "items": _ALERT_SCHEMA},
            },
        },
        tags=("alerts",),
        operation_id="list_alerts",
    )
