"""HTTP routes of the experiments processor.

``GET /api/v1/experiments`` lists every experiment with its results,
``GET /api/v1/experiments/{name}`` shows one; ``POST /api/v1/experiments`` declares one
(the body takes the fields of the ``processors.experiments`` config entries: 201 when
new, 200 when the same declaration is already held, 409 when another one holds the
name) and ``DELETE /api/v1/experiments/{name}`` forgets one declared through the API.
Writes follow the API's write settings (``api.writes``), as flags and tags do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from mlspan.collector.api.router import (
    BadRequestError,
    HttpError,
    NotFoundError,
    Request,
    Response,
    Router,
)
from mlspan.collector.experiments.config import parse_experiment
from mlspan.collector.experiments.results import experiment_result, result_json
from mlspan.collector.pipeline.factory import ConfigError

if TYPE_CHECKING:
    from mlspan.collector.experiments.processor import ExperimentsProcessor

TAGS: Final = ("experiments",)
_OBJECT: Final = {"type": "object"}
_DECLARATION: Final = {
    "type": "object",
    "required": ["name", "arms"],
    "properties": {
        "name": {"type": "string"},
        "arms": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "version": {"type": "string"},
                    "share": {"type": "number"},
                },
            },
        },
        "control": {"type": "string"},
        "metric": {"type": "string", "enum": ["accuracy", "error_rate", "mae"]},
        "minimum_detectable_effect": {"type": "number"},
        "alpha": {"type": "number"},
        "power": {"type": "number"},
        "service": {"type": "string"},
        "start": {"type": "number"},
        "end": {"type": "number"},
        "min_outcomes_per_arm": {"type": "integer"},
    },
}


def register_experiment_routes(router: Router, processor: ExperimentsProcessor) -> None:
    """Register the experiment routes on ``router``."""
    from mlspan.collector.experiments.processor import ExperimentConflictError

    def listing(_request: Request) -> Response:
        return Response.json(
            {"experiments": [result_json(result) for result in processor.results()]}
        )

    def one(request: Request) -> Response:
        name = request.path_params["name"]
        record = processor.record(name)
        if record is None:
            known = ", ".join(r.config.name for r in processor.records()) or "none"
            raise NotFoundError(f"no experiment named '{name}' (experiments: {known})")
        return Response.json(result_json(experiment_result(record)))

    def declare(request: Request) -> Response:
        try:
            declared = parse_experiment(dict(request.json_object()))
        except ConfigError as exc:
            raise BadRequestError(str(exc)) from None
        try:
            record, created = processor.declare(declared)
        except ExperimentConflictError as exc:
            raise HttpError(409, str(exc)) from None
        return Response.json(result_json(experiment_result(record)), 201 if created else 200)

    def remove(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            removed = processor.remove(name)
        except ExperimentConflictError as exc:
            raise HttpError(409, str(exc)) from None
        if removed is None:
            raise NotFoundError(f"no experiment named '{name}'")
        return Response.json({"deleted": name})

    router.add(
        "GET",
        "/api/v1/experiments",
        listing,
        summary="Every A/B/n experiment with its per-arm metrics, comparisons and verdict",
        tags=TAGS,
        response_schema={"type": "object", "properties": {"experiments": {"type": "array"}}},
    )
    router.add(
        "POST",
        "/api/v1/experiments",
        declare,
        summary="Declare an experiment (201 new, 200 already held as declared)",
        description="The body takes the fields of a processors.experiments entry. Arms"
        " name a model version (NAME vN or a digest) or nothing (then spans say their arm"
        " with mlspan.experiment.arm).",
        request_schema=_DECLARATION,
        response_schema=_OBJECT,
        tags=TAGS,
        errors=(409,),
    )
    router.add(
        "GET",
        "/api/v1/experiments/{name}",
        one,
        summary="One experiment's results: arms, comparisons, sample ratio check, verdict",
        tags=TAGS,
        errors=(404,),
        response_schema=_OBJECT,
    )
    router.add(
        "DELETE",
        "/api/v1/experiments/{name}",
        remove,
        summary="Forget an experiment declared through the API",
        tags=TAGS,
        errors=(404, 409),
        response_schema=_OBJECT,
    )
