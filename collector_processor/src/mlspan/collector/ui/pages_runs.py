"""Run pages: recent runs with filters, a component's history, and one run in full
(inputs, outputs, parameters, code version, checks, staleness, trace link)."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Final

from mlspan.collector.api.router import BadRequestError, Request, Response
from mlspan.collector.drift.selection import Selection
from mlspan.collector.lineage.sanitize import MAX_NS
from mlspan.collector.lineage.views import run_view
from mlspan.collector.store import RunRecord
from mlspan.collector.ui.page import Pages

PAGE: Final = 500
MAX_SCANNED: Final = 5000
"""Runs read at most per listing when filters leave few of them (newest first)."""
STATUSES: Final = ("ok", "error", "unset")


def parse_time(text: str | None, field: str) -> int | None:
    """An ISO date/time (UTC unless it says otherwise) or unix seconds, as nanoseconds
    within what the store holds (``0..MAX_NS``: later times mean "no bound" in effect);
    ``BadRequestError`` for anything else (``inf``, ``nan``, ``1e309``, text)."""
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        if not math.isfinite(seconds):
            raise BadRequestError(f"{field}: unix seconds must be finite: {text[:60]}")
        nanoseconds = seconds * 1e9  # 1e308 seconds is finite, its nanoseconds are not
        return MAX_NS if nanoseconds >= MAX_NS else max(int(nanoseconds), 0)
    try:
        moment = datetime.fromisoformat(text)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        nanoseconds = int(moment.timestamp() * 1e9)
    except (ValueError, OverflowError):
        raise BadRequestError(f"{field}: not a date/time or unix seconds: {text[:60]}") from None
    return min(max(nanoseconds, 0), MAX_NS)


class RunPages(Pages):
    """``/ui/runs`` and ``/ui/runs/{run_id}``."""

    def runs(self, request: Request) -> Response:
        """Recent runs, newest first, filtered by service, component, time and status."""
        params = request.params
        service = params.get("service") or None
        component = params.get("component") or None
        status = params.get("status") or None
        since = parse_time(params.get("since"), "since")
        until = parse_time(params.get("until"), "until")
        limit = int(params.get("limit") or 50)
        store = self.sources.queries.store
        about = None
        if component:
            about = self.sources.queries.history(component, 1)["component"]
        found: list[RunRecord] = []
        scanned = 0
        before = (until, "") if until is not None else None
        complete = True
        while len(found) < limit:
            page = store.recent_runs(PAGE, before, component)
            scanned += len(page)
            for run in page:
                if since is not None and run.start_ns < since:
                    break
                if (service is None or run.service == service) and (
                    status is None or run.status == status
                ):
                    found.append(run)
            if len(page) < PAGE or (since is not None and page and page[-1].start_ns < since):
                break
            if scanned >= MAX_SCANNED:
                complete = False
                break
            before = (page[-1].start_ns, page[-1].run_id)
        return self.render(
            "runs.html",
            title=f"Runs of {component}" if component else "Runs",
            runs=[run_view(run) for run in found[:limit]],
            component=about,
            filters={
                "service": service or "",
                "component": component or "",
                "status": status or "",
                "since": params.get("since") or "",
                "until": params.get("until") or "",
                "limit": limit,
            },
            statuses=STATUSES,
            complete=complete,
            scanned=scanned,
        )

    def run(self, request: Request) -> Response:
        """One run: what went in and out, how it was configured, and what to worry about."""
        shown = self.sources.queries.show(request.path_params["run_id"])
        run = shown["run"]
        trace_url = self.sources.config.trace_url(run["trace_id"], run["run_id"])
        return self.render(
            "run.html",
            title=f"Run {run['run_id']}",
            shown=shown,
            run=run,
            params=_params(run["params"]),
            trace_url=trace_url,
            checks=self._checks(run),
        )

    def _checks(self, run: dict[str, Any]) -> dict[str, Any] | None:
        """The latest drift and validation results of the run's model version."""
        engine = self.sources.drift()
        if engine is None or not run.get("model_version"):
            return None
        selection = Selection(run["service"], run["model_name"] or None, run["model_version"])
        results = engine.history(selection) or engine.evaluate(selection)
        if not results:
            return None
        drift, validation = results[-1]
        return {
            "key": drift.key,
            "insight": drift.insight,
            "drifted": drift.drifted,
            "validation": validation,
        }


def _params(params: Any) -> list[tuple[str, str]]:
    """Hyperparameters as sorted (name, value) rows; a non-object as one row."""
    if params is None:
        return []
    if isinstance(params, dict):
        return [(str(k), str(v)) for k, v in sorted(params.items(), key=lambda kv: str(kv[0]))]
    return [("", str(params))]
