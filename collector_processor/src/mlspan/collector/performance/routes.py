"""HTTP route of the performance processor: ``GET /api/v1/performance`` (realised and
estimated metrics per model version and prediction window)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from mlspan.collector.api.router import NotFoundError, Parameter, Request, Response, Router
from mlspan.collector.performance.results import result_json

if TYPE_CHECKING:
    from mlspan.collector.performance.processor import PerformanceProcessor

_SCHEMA: Final = {"type": "object", "properties": {"results": {"type": "array"}}}


def register_performance_routes(router: Router, processor: PerformanceProcessor) -> None:
    """Register ``GET /api/v1/performance`` on ``router``."""

    def performance(request: Request) -> Response:
        service = request.params.get("service") or None
        model = request.params.get("model") or None
        version = request.params.get("version") or None
        windows = bool(request.params.get("windows", True))
        results = processor.results(service, model, version)
        if not results and (service or model or version):
            known = sorted({f"{k.service}/{k.model}" for k in processor.state.model_keys()})
            raise NotFoundError(
                f"no performance results for service={service or '*'} model={model or '*'}"
                f" version={version or '*'} (models: {', '.join(known) or 'none yet'})"
            )
        return Response.json({"results": [result_json(r, windows) for r in results]})

    router.add(
        "GET",
        "/api/v1/performance",
        performance,
        summary="Model performance per version and prediction window, from labelled outcomes",
        description="Accuracy, precision/recall/F1 (per class and macro), ROC AUC, log loss,"
        " Brier score and calibration error for classifiers; MAE, RMSE and R2 for regressors;"
        " label coverage and the version's validation score; accuracy (and for binary"
        " classifiers precision/recall/F1) estimated from the predicted probabilities of all"
        " predictions before their labels, with the reference it is calibrated on. Metrics"
        " that cannot be computed are null.",
        parameters=(
            Parameter("service", description="Service name; all services when absent"),
            Parameter("model", description="Model name; all models when absent"),
            Parameter("version", description="Model version; all versions when absent"),
            Parameter("windows", type="boolean", default=True, description="per-window rows"),
        ),
        tags=("performance",),
        errors=(404,),
        response_schema=_SCHEMA,
    )
