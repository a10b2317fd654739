"""The overview (services, models, firing alerts, ingest health) and the alerts page."""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

from mlspan.collector.api.router import Request, Response
from mlspan.collector.drift.selection import Selection
from mlspan.collector.ui.page import Pages
from mlspan.collector.ui.pages_drift import latest

RECENT_SCAN: Final = 1000
"""Runs the overview reads (newest first) to list services and model versions."""
HISTORY_LIMIT: Final = 200


class OverviewPages(Pages):
    """``/`` and ``/ui/alerts``."""

    def overview(self, request: Request) -> Response:
        """What runs, what is wrong, and whether spans are flowing."""
        runs = self.sources.queries.store.recent_runs(RECENT_SCAN, None, None)
        services: dict[str, dict[str, Any]] = {}
        models: dict[tuple[str, str, str], dict[str, Any]] = {}
        for run in runs:
            entry = services.setdefault(
                run.service, {"runs": 0, "errors": 0, "last_ns": run.start_ns, "components": set()}
            )
            entry["runs"] += 1
            entry["errors"] += run.status == "error"
            entry["components"].add(run.component)
            if run.model_version:
                identity = (run.service, run.model_name or run.model_class, run.model_version)
                models.setdefault(identity, {"last_ns": run.start_ns, "drift": None, "state": ""})
        engine = self.sources.drift()
        if engine is not None:
            for model, (result, state) in latest(engine, Selection()).items():
                entry = models.setdefault(
                    (model.service, model.model_name, model.model_version),
                    {"last_ns": 0, "drift": None, "state": ""},
                )
                entry["drift"], entry["state"] = result[0], state
        alerts = self.sources.alerts()
        assert self.sources.rate is not None
        snapshot, rate = self.sources.rate.sample()
        rejected: Counter[str] = Counter()
        for (_receiver, reason), count in snapshot.requests_rejected.items():
            rejected[reason] += count
        return self.render(
            "overview.html",
            title="Overview",
            services=sorted(services.items()),
            models=sorted(models.items()),
            scanned=len(runs),
            alerts=alerts.firing() if alerts is not None else None,
            received=sum(snapshot.spans_received.values()),
            rate=rate,
            rejected=sorted(rejected.items()),
            dropped=sorted(snapshot.spans_dropped.items()),
            drift_running=engine is not None,
        )

    def alerts(self, request: Request) -> Response:
        """Firing alerts and the recent episodes."""
        alerts = self.sources.alerts()
        return self.render(
            "alerts.html",
            title="Alerts",
            running=alerts is not None,
            firing=alerts.firing() if alerts is not None else [],
            history=alerts.history(HISTORY_LIMIT) if alerts is not None else [],
        )
