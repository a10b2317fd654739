"""HTTP routes of the drift engine: ``/api/v1/drift``, ``/api/v1/validation`` and
``POST /api/v1/drift/windows/close``.

Every drift result says which window it describes: ``window_state`` ``closed`` (a
finished window) or ``open`` (the open window evaluated now, with ``closes_at`` for time
windows or ``closes_after_rows`` for row windows). ``window=latest`` gives, per model, its
latest closed window, or its open window while none has closed yet, so results show up
as soon as summaries arrive.
"""

from __future__ import annotations

from typing import Any, Final

from mlspan.collector.api.router import NotFoundError, Parameter, Request, Response, Router
from mlspan.collector.drift.codec import drift_to_json, validation_to_json
from mlspan.collector.drift.engine import DriftEngine, Result
from mlspan.collector.drift.results import ModelKey
from mlspan.collector.drift.selection import Selection, WindowStatus

WINDOWS: Final = ("latest", "current", "history")
CLOSED: Final = "closed"
OPEN: Final = "open"

_SERVICE: Final = Parameter("service", description="Service name; all services when absent")
_MODEL: Final = Parameter("model", description="Model name; all models when absent")
_VERSION: Final = Parameter("version", description="Model version; all versions when absent")
_RESULTS_SCHEMA: Final = {"type": "object", "properties": {"results": {"type": "array"}}}

Marked = tuple[Result, str]
"""A result and the state of the window it describes."""


def selection_of(request: Request) -> Selection:
    """The service/model/version filters of a request."""
    return Selection(
        request.params.get("service") or None,
        request.params.get("model") or None,
        request.params.get("version") or None,
    )


def register_drift_routes(router: Router, engine: DriftEngine) -> None:
    """Register the drift and validation query routes on ``router``."""

    def select(request: Request) -> list[Marked]:
        selected = selection_of(request)
        window = request.params.get("window") or "latest"
        results: list[Marked]
        if window == "current":
            results = [(r, OPEN) for r in engine.evaluate(selected)]
        elif window == "history":
            results = [(r, CLOSED) for r in engine.history(selected)]
        else:
            latest: dict[ModelKey, Marked] = {}
            for result in engine.history(selected):
                latest[result[0].key] = (result, CLOSED)
            for result in engine.evaluate(selected, skip=latest.keys()):
                latest[result[0].key] = (result, OPEN)
            results = list(latest.values())
        if not results and (selected.service or selected.model or selected.version):
            known = sorted({f"{k.service}/{k.model_name}" for k in engine.models()})
            raise NotFoundError(
                f"no {window} drift results for {selected.describe()}"
                f" (models: {', '.join(known) or 'none yet'})"
            )
        return results

    def drift(request: Request) -> Response:
        status = _statuses(engine)
        return Response.json(
            {"results": [_marked_json(r, state, status) for r, state in select(request)]}
        )

    def validation(request: Request) -> Response:
        results = select(request)
        failed_only = bool(request.params.get("failed_only"))
        rows = [
            {**validation_to_json(v), "window_state": state}
            for (_, checks), state in results
            for v in checks
            if not (failed_only and v.passed)
        ]
        return Response.json({"results": rows})

    def close(request: Request) -> Response:
        closed = engine.close(selection_of(request))
        return Response.json({"results": [_marked_json(r, CLOSED, {}) for r in closed]})

    window = Parameter(
        "window",
        default="latest",
        enum=WINDOWS,
        description="latest window per model (the latest closed one, else the open one"
        " evaluated now), the open (current) window evaluated now, or the kept history",
    )
    router.add(
        "GET",
        "/api/v1/drift",
        drift,
        summary="Per-feature drift metrics, decisions and insights",
        parameters=(_SERVICE, _MODEL, _VERSION, window),
        tags=("drift",),
        errors=(404,),
        response_schema=_RESULTS_SCHEMA,
    )
    router.add(
        "GET",
        "/api/v1/validation",
        validation,
        summary="Data-validation check results with insights",
        parameters=(
            _SERVICE,
            _MODEL,
            _VERSION,
            window,
            Parameter("failed_only", type="boolean", default=False),
        ),
        tags=("drift",),
        errors=(404,),
        response_schema=_RESULTS_SCHEMA,
    )
    router.add(
        "POST",
        "/api/v1/drift/windows/close",
        close,
        summary="Close the open drift windows now (of the selected models) and return"
        " their results",
        description="A batch scoring job calls this when it ends, so its drift is computed"
        " at once instead of when the window's time or row limit is reached; summaries"
        " arriving afterwards open the next window.",
        parameters=(_SERVICE, _MODEL, _VERSION),
        tags=("drift",),
        response_schema=_RESULTS_SCHEMA,
    )


def _statuses(engine: DriftEngine) -> dict[ModelKey, WindowStatus]:
    return {status.key: status for status in engine.open_windows()}


def _marked_json(result: Result, state: str, status: dict[ModelKey, WindowStatus]) -> Any:
    body = drift_to_json(result[0])
    body["window_state"] = state
    if state == OPEN:
        window = status.get(result[0].key)
        body["closes_at"] = window.closes_at if window else None
        body["closes_after_rows"] = window.closes_after_rows if window else None
    return body
