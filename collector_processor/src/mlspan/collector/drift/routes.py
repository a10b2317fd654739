"""HTTP routes of the drift engine: ``/api/v1/drift`` and ``/api/v1/validation``."""

from __future__ import annotations

from typing import Any, Final

from mlspan.collector.api.router import NotFoundError, Parameter, Request, Response, Router
from mlspan.collector.drift.codec import drift_to_json, validation_to_json
from mlspan.collector.drift.engine import DriftEngine, Result

WINDOWS: Final = ("latest", "current", "history")

_MODEL: Final = Parameter("model", description="Model name; all models when absent")
_VERSION: Final = Parameter("version", description="Model version; all versions when absent")


def register_drift_routes(router: Router, engine: DriftEngine) -> None:
    """Register the drift and validation query routes on ``router``."""

    def select(request: Request) -> list[Result]:
        model = request.params.get("model") or None
        version = request.params.get("version") or None
        window = request.params.get("window") or "latest"
        if window == "current":
            results = engine.evaluate(model)
        elif window == "history":
            results = engine.history(model)
        else:
            latest: dict[Any, Result] = {}
            for result in engine.history(model):
                latest[result[0].key] = result
            results = list(latest.values())
        results = [r for r in results if version is None or r[0].key.model_version == version]
        if model is not None and not results:
            known = sorted({k.model_name for k in engine.models()})
            raise NotFoundError(
                f"no {window} drift results for model '{model}'"
                f" (models: {', '.join(known) or 'none yet'})"
            )
        return results

    def drift(request: Request) -> Response:
        return Response.json({"results": [drift_to_json(d) for d, _ in select(request)]})

    def validation(request: Request) -> Response:
        results = select(request)
        failed_only = bool(request.params.get("failed_only"))
        rows = [
            validation_to_json(v)
            for _, checks in results
            for v in checks
            if not (failed_only and v.passed)
        ]
        return Response.json({"results": rows})

    window = Parameter(
        "window",
        default="latest",
        enum=WINDOWS,
        description="latest closed window per model, the open (current) window evaluated"
        " now, or the kept history",
    )
    router.add(
        "GET",
        "/api/v1/drift",
        drift,
        summary="Per-feature drift metrics, decisions and insights",
        parameters=(_MODEL, _VERSION, window),
        tags=("drift",),
        errors=(404,),
        response_schema={"type": "object", "properties": {"results": {"type": "array"}}},
    )
    router.add(
        "GET",
        "/api/v1/validation",
        validation,
        summary="Data-validation check results with insights",
        parameters=(
            _MODEL,
            _VERSION,
            window,
            Parameter("failed_only", type="boolean", default=False),
        ),
        tags=("drift",),
        errors=(404,),
        response_schema={"type": "object", "properties": {"results": {"type": "array"}}},
    )
