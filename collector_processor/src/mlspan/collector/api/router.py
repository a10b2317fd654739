"""Routes of the collector's HTTP API and the OpenAPI description built from them.

Every part of the collector that serves HTTP (lineage queries, drift results, alerts,
Prometheus ``/metrics``) registers its handlers on one ``Router``. A route declares its
method, a path template with ``{name}`` segments, its query parameters and response
documentation; the router matches requests, checks and converts declared query
parameters (400 on a bad value), answers 404 for unknown paths and 405 for a known path
with the wrong method, and serves ``/openapi.json`` describing every route.

Handlers take a ``Request`` and return a ``Response``; they signal client errors by
raising ``HttpError`` (or its ``NotFoundError``/``BadRequestError`` subclasses), which
become JSON error bodies ``{"error": {"status": ..., "message": ...}}``.

Typed routes declare ``request_model``/``response_model`` (pydantic models, or any type
pydantic's ``TypeAdapter`` takes): the request body is validated against the model (400
naming the field otherwise; the instance is ``Request.model``) and the OpenAPI document
carries the JSON Schemas generated from both.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from mlspan.collector.api.json_safe import MAX_DEPTH, BodyShapeError, check_body
from mlspan.collector.api.messages import (
    JSON_TYPE,
    MAX_BODY_BYTES,
    PATH_PARAMETER,
    TEXT_TYPE,
    BadRequestError,
    HttpError,
    NotFoundError,
    Parameter,
    Request,
    Response,
)
from mlspan.collector.api.openapi import describe

__all__ = [
    "JSON_TYPE",
    "MAX_BODY_BYTES",
    "METHODS",
    "TEXT_TYPE",
    "BadRequestError",
    "Handler",
    "HttpError",
    "NotFoundError",
    "Parameter",
    "Request",
    "Response",
    "Route",
    "Router",
]

logger = logging.getLogger(__name__)

METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
"""Methods a route may be registered for; any other method on a known path gets 405."""
MAX_QUERY_FIELDS: Final = 200
WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods that change something: their requests must say ``Content-Type:
application/json`` (415 otherwise), body or not. A plain HTML form on another site can
only send form or text bodies, and a script there cannot set that type without the
browser first asking (CORS preflight) the API, which allows no other origin: so a page a
user visits cannot write through the user's browser (docs/security.md)."""


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    """One registered operation and its documentation."""

    method: str
    path: str
    handler: Handler
    summary: str
    description: str = ""
    parameters: tuple[Parameter, ...] = ()
    request_schema: Mapping[str, Any] | None = None
    response_schema: Mapping[str, Any] | None = None
    response_content_type: str = JSON_TYPE
    response_description: str = "Success"
    tags: tuple[str, ...] = ()
    operation_id: str = ""
    errors: tuple[int, ...] = ()
    """Error statuses the operation documents besides 400."""
    request_model: Any = None
    """Type the JSON body is validated as (documented from its JSON Schema)."""
    response_model: Any = None
    """Type of the answer, documented from its JSON Schema."""
    request_adapter: Any = None
    """pydantic ``TypeAdapter`` of ``request_model``, built once at registration."""
    error_page: Callable[[int, str], Response] | None = None
    """Renders the route's own answer to a refused request (a bad query parameter or
    body): the web UI's HTML error pages. None: the JSON error body."""

    @property
    def segments(self) -> tuple[str, ...]:
        """The path template split on '/'."""
        return tuple(self.path.strip("/").split("/")) if self.path != "/" else ()

    def match(self, segments: Sequence[str]) -> dict[str, str] | None:
        """Path parameters when the request path fits this template, else None."""
        template = self.segments
        if len(template) != len(segments):
            return None
        found: dict[str, str] = {}
        for pattern, actual in zip(template, segments, strict=True):
            name = PATH_PARAMETER.match(pattern)
            if name:
                if not actual:
                    return None
                found[name.group(1)] = unquote(actual)
            elif pattern != actual:
                return None
        return found


class Router:
    """Collects routes, dispatches requests to them and describes them in OpenAPI 3."""

    def __init__(self, title: str = "mlspan collector API", version: str = "0.1.0") -> None:
        self._title = title
        self._version = version
        self._routes: list[Route] = []
        self._described: Response | None = None
        """``/openapi.json``'s answer, built on first request after the last ``add``."""
        self.add(
            "GET",
            "/openapi.json",
            lambda _request: self._description(),
            summary="OpenAPI 3 description of every route",
            tags=("meta",),
            operation_id="openapi",
        )

    @property
    def routes(self) -> tuple[Route, ...]:
        """Every registered route, in registration order."""
        return tuple(self._routes)

    def add(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        summary: str,
        description: str = "",
        parameters: Sequence[Parameter] = (),
        request_schema: Mapping[str, Any] | None = None,
        response_schema: Mapping[str, Any] | None = None,
        response_content_type: str = JSON_TYPE,
        response_description: str = "Success",
        tags: Sequence[str] = (),
        operation_id: str = "",
        errors: Sequence[int] = (),
        request_model: Any = None,
        response_model: Any = None,
        error_page: Callable[[int, str], Response] | None = None,
    ) -> Route:
        """Register ``handler`` for ``method`` on ``path`` (``{name}`` marks a path parameter).

        Raises ``ValueError`` for an unknown method, a duplicate route or a parameter
        declared twice.
        """
        method = method.upper()
        if method not in METHODS:
            raise ValueError(f"unsupported method {method}")
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path}")
        for existing in self._routes:
            if existing.method == method and _shape(existing.path) == _shape(path):
                raise ValueError(f"route {method} {path} is already registered")
        adapter = None
        if request_model is not None:
            from pydantic import TypeAdapter

            adapter = TypeAdapter(request_model)
        names = [p.name for p in parameters]
        if len(names) != len(set(names)):
            raise ValueError(f"{method} {path}: a parameter is declared twice")
        route = Route(
            method=method,
            path=path,
            handler=handler,
            summary=summary,
            description=description,
            parameters=tuple(parameters),
            request_schema=request_schema,
            response_schema=response_schema,
            response_content_type=response_content_type,
            response_description=response_description,
            tags=tuple(tags),
            operation_id=operation_id or _operation_id(method, path),
            errors=tuple(errors),
            request_model=request_model,
            response_model=response_model,
            request_adapter=adapter,
            error_page=error_page,
        )
        self._routes.append(route)
        self._described = None
        return route

    def dispatch(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Answer one request; never raises (handler failures become 500)."""
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        try:
            return self._dispatch(method.upper(), target, body, lowered)
        except HttpError as exc:
            return Response.error(exc.status, exc.message)
        except Exception:
            logger.exception("API handler failed for %s %s", method, target)
            return Response.error(500, "internal error; see the collector log")

    def _dispatch(
        self, method: str, target: str, body: bytes, headers: Mapping[str, str]
    ) -> Response:
        try:
            parts = urlsplit(target)
        except ValueError as exc:
            raise BadRequestError(f"malformed request target: {exc}") from None
        path = parts.path or "/"
        segments = [s for s in path.strip("/").split("/")] if path.strip("/") else []
        allowed: list[str] = []
        for route in self._routes:
            path_params = route.match(segments)
            if path_params is None:
                continue
            if route.method != method:
                allowed.append(route.method)
                continue
            try:
                request = _request(route, method, path, path_params, parts.query, body, headers)
            except HttpError as exc:
                if route.error_page is None:
                    raise
                return route.error_page(exc.status, exc.message)
            return route.handler(request)
        if allowed:
            allow = ", ".join(sorted(set(allowed)))
            response = Response.error(405, f"method {method} not allowed on {path}; use {allow}")
            return Response(
                response.status, response.body, response.content_type, (("Allow", allow),)
            )
        raise NotFoundError(f"no such endpoint: {path} (see /openapi.json)")

    def _description(self) -> Response:
        described = self._described
        if described is None:
            described = self._described = Response.json(self.openapi())
        return described

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document describing every registered route."""
        return describe(self._routes, self._title, self._version)


def _request(
    route: Route,
    method: str,
    path: str,
    path_params: dict[str, str],
    query_string: str,
    body: bytes,
    headers: Mapping[str, str],
) -> Request:
    """The checked request for ``route``; ``HttpError`` for a bad parameter or body."""
    try:
        query = parse_qs(query_string, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        raise BadRequestError(f"more than {MAX_QUERY_FIELDS} query parameters") from None
    if method in WRITE_METHODS:
        _require_json(headers)
    parsed = _json_body(body, headers)
    return Request(
        method=method,
        path=path,
        path_params=path_params,
        params=_declared(route, query),
        query=query,
        body=parsed,
        raw_body=body,
        headers=headers,
        model=_validated(route, parsed),
    )


def _shape(path: str) -> tuple[str, ...]:
    """A template with every parameter name blanked, to detect duplicate routes."""
    segments = path.strip("/").split("/") if path.strip("/") else []
    return tuple("{}" if PATH_PARAMETER.match(s) else s for s in segments)


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
    return f"{method.lower()}_{words}" if words else method.lower()


def _declared(route: Route, query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for parameter in route.parameters:
        if parameter.location != "query":
            continue
        raw = query.get(parameter.name)
        if not raw:
            if parameter.required:
                raise BadRequestError(f"query parameter '{parameter.name}' is required")
            values[parameter.name] = parameter.default
            continue
        values[parameter.name] = parameter.convert(raw[-1])
    return values


def _validated(route: Route, body: Any) -> Any:
    """The body as the route's request model; 400 naming the first wrong field."""
    if route.request_adapter is None:
        return None
    from pydantic import ValidationError

    try:
        return route.request_adapter.validate_python({} if body is None else body)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise BadRequestError(f"request body is not accepted: {where}: {first['msg']}") from None


def _require_json(headers: Mapping[str, str]) -> None:
    """415 unless the request says its body (if any) is JSON (``WRITE_METHODS``)."""
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != JSON_TYPE:
        shown = content_type[:60] or "none"
        raise HttpError(
            415, f"write requests must have Content-Type: {JSON_TYPE} (this one has {shown})"
        )


def _json_body(body: bytes, headers: Mapping[str, str]) -> Any:
    """The parsed JSON body (None without one, or for another content type).

    The body's size is bounded by the server (``api.limits.max_request_body_size``);
    nesting and lone surrogates are checked here, so handlers see plain, shallow JSON.
    """
    if not body:
        return None
    content_type = headers.get("content-type", JSON_TYPE).split(";")[0].strip().lower()
    if content_type != JSON_TYPE:
        return None
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequestError(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequestError(
            f"request body is not accepted: nested deeper than {MAX_DEPTH} levels"
        ) from None
    try:
        check_body(parsed)
    except BodyShapeError as exc:
        raise BadRequestError(f"request body is not accepted: {exc}") from None
    return parsed
