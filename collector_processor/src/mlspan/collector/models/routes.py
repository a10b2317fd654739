"""HTTP routes of the model registry (``/api/v1/models...``).

Unknown models or versions answer 404 and ambiguous ones 400, each naming what exists.
The tag route is a write: it follows ``api.writes`` (disabled or token-protected) like
every other POST of the API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from mlspan.collector.api.router import (
    BadRequestError,
    NotFoundError,
    Parameter,
    Request,
    Response,
    Router,
)
from mlspan.collector.models.diff import diff, parameter_effects
from mlspan.collector.models.queries import ModelQueries
from mlspan.collector.models.recipe import recipe
from mlspan.collector.models.registry import AmbiguousModelError, UnknownModelError

TAGS: Final = ("models",)
_OBJECT: Final = {"type": "object"}
TAG_SHAPE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_TAGS: Final = 20
_SERVICE: Final = Parameter(
    "service", description="Service name; needed when several have the model"
)
_NAME: Final = Parameter("name", description="Model name (percent-encoded)", location="path")
_VERSION: Final = Parameter(
    "version", description="v3, 3, a version digest or a unique prefix of it", location="path"
)


def _guard(handler: Callable[[Request], Any]) -> Callable[[Request], Response]:
    def run(request: Request) -> Response:
        try:
            return Response.json(handler(request))
        except UnknownModelError as exc:
            raise NotFoundError(str(exc)) from None
        except AmbiguousModelError as exc:
            raise BadRequestError(str(exc)) from None

    run.__name__ = getattr(handler, "__name__", "handler")
    return run


def _tags(body: Any, key: str) -> list[str]:
    value = body.get(key, [])
    if (
        not isinstance(value, list)
        or len(value) > MAX_TAGS
        or not all(isinstance(v, str) and TAG_SHAPE.match(v) for v in value)
    ):
        raise BadRequestError(
            f"'{key}' must be a list of at most {MAX_TAGS} tags of letters, digits, _.:- "
            "(up to 64 characters)"
        )
    return list(value)


def register_model_routes(router: Router, queries: ModelQueries) -> None:
    """Register every registry route on ``router``."""
    q = queries

    def add(
        method: str,
        path: str,
        handler: Callable[[Request], Any],
        summary: str,
        parameters: tuple[Parameter, ...],
        body: bool = False,
    ) -> None:
        router.add(
            method,
            path,
            _guard(handler),
            summary=summary,
            parameters=parameters,
            request_schema=_OBJECT if body else None,
            response_schema=_OBJECT,
            tags=TAGS,
            errors=(404,),
        )

    def service(r: Request) -> str | None:
        return r.params.get("service") or None

    add(
        "GET",
        "/api/v1/models",
        lambda r: q.models(service(r)),
        "Every model: versions, latest, key metric, best version, stage tags",
        (_SERVICE,),
    )
    add(
        "GET",
        "/api/v1/models/{name}",
        lambda r: q.model(r.path_params["name"], service(r)),
        "The versions of a model with key metrics, the best one marked",
        (_NAME, _SERVICE),
    )
    add(
        "GET",
        "/api/v1/models/{name}/versions/{version}",
        lambda r: q.version(r.path_params["name"], r.path_params["version"], service(r)),
        "One version: parameters, code, data and its lineage, features, metrics, serving, tags",
        (_NAME, _VERSION, _SERVICE),
    )
    add(
        "GET",
        "/api/v1/models/{name}/versions/{version}/recipe",
        lambda r: recipe(q, r.path_params["name"], r.path_params["version"], service(r)),
        "What recreates a version: code commit and digest, inputs by digest and path,"
        " parameters, library versions",
        (_NAME, _VERSION, _SERVICE),
    )
    add(
        "GET",
        "/api/v1/models/{name}/diff",
        lambda r: diff(q, r.path_params["name"], _required(r, "a"), _required(r, "b"), service(r)),
        "Two versions compared: parameters, training data and its drift, code, metric deltas",
        (
            _NAME,
            Parameter("a", description="Version A (v2, 2, digest)"),
            Parameter("b", description="Version B"),
            _SERVICE,
        ),
    )
    add(
        "GET",
        "/api/v1/models/{name}/effects",
        lambda r: parameter_effects(q, r.path_params["name"], service(r)),
        "Which parameters moved the key metric, across versions and within searches",
        (_NAME, _SERVICE),
    )

    def tag(r: Request) -> Any:
        body = r.json_object()
        return q.tag(
            r.path_params["name"],
            r.path_params["version"],
            _tags(body, "add"),
            _tags(body, "remove"),
            service(r),
        )

    add(
        "POST",
        "/api/v1/models/{name}/versions/{version}/tags",
        tag,
        "Add and remove tags of a version (body: add, remove lists); staging, production"
        " and archived move from the version that held them",
        (_NAME, _VERSION, _SERVICE),
        body=True,
    )


def _required(request: Request, name: str) -> str:
    value = request.params.get(name)
    if not value:
        raise BadRequestError(f"query parameter '{name}' is required")
    return str(value)
