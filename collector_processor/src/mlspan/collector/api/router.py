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
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

logger = logging.getLogger(__name__)

JSON_TYPE: Final = "application/json"
TEXT_TYPE: Final = "text/plain; charset=utf-8"
METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
MAX_BODY_BYTES: Final = 1 << 20
"""Largest request body a handler receives; larger bodies get 413."""

_SEGMENT = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_SCHEMA_TYPES: Final = {"string", "integer", "number", "boolean"}


class HttpError(Exception):
    """A client or server error answered as a JSON error body with this status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class NotFoundError(HttpError):
    """404: the path or the id in it is unknown."""

    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class BadRequestError(HttpError):
    """400: a parameter or the body is malformed."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


@dataclass(frozen=True)
class Parameter:
    """A documented query (or path) parameter.

    ``type`` is an OpenAPI scalar type (string, integer, number, boolean). Declared query
    parameters are converted to that type and checked against ``minimum``/``maximum``/
    ``enum``; the value (or ``default``) is in ``Request.params``.
    """

    name: str
    type: str = "string"
    description: str = ""
    required: bool = False
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[str, ...] = ()
    location: str = "query"

    def __post_init__(self) -> None:
        if self.type not in _SCHEMA_TYPES:
            raise ValueError(f"parameter {self.name}: unknown type {self.type!r}")
        if self.location not in ("query", "path"):
            raise ValueError(f"parameter {self.name}: unknown location {self.location!r}")

    def schema(self) -> dict[str, Any]:
        """The parameter's OpenAPI schema object."""
        schema: dict[str, Any] = {"type": self.type}
        if self.default is not None:
            schema["default"] = self.default
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.enum:
            schema["enum"] = list(self.enum)
        return schema

    def convert(self, raw: str) -> Any:
        """The raw query string value as this parameter's type; ``BadRequestError`` if not."""
        value: Any
        if self.type == "integer":
            try:
                value = int(raw)
            except ValueError:
                raise BadRequestError(f"query parameter '{self.name}' must be an integer") from None
        elif self.type == "number":
            try:
                value = float(raw)
            except ValueError:
                raise BadRequestError(f"query parameter '{self.name}' must be a number") from None
            if not math.isfinite(value):
                raise BadRequestError(f"query parameter '{self.name}' must be finite")
        elif self.type == "boolean":
            lowered = raw.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise BadRequestError(f"query parameter '{self.name}' must be true or false")
            value = lowered in ("true", "1", "yes")
        else:
            value = raw
        if self.minimum is not None and value < self.minimum:
            raise BadRequestError(f"query parameter '{self.name}' must be >= {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            raise BadRequestError(f"query parameter '{self.name}' must be <= {self.maximum:g}")
        if self.enum and value not in self.enum:
            allowed = ", ".join(self.enum)
            raise BadRequestError(f"query parameter '{self.name}' must be one of: {allowed}")
        return value


@dataclass(frozen=True)
class Request:
    """One HTTP request as handlers see it."""

    method: str
    path: str
    path_params: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    """Declared query parameters, converted, with defaults filled in."""
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Every raw query parameter, as lists of strings."""
    body: Any = None
    """The parsed JSON body, or None when there was none."""
    raw_body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Request headers with lower-case names."""

    def json_object(self) -> Mapping[str, Any]:
        """The body as a JSON object; ``BadRequestError`` if it is missing or not an object."""
        if not isinstance(self.body, Mapping):
            raise BadRequestError("request body must be a JSON object")
        return self.body


@dataclass(frozen=True)
class Response:
    """What a handler answers: status, body bytes, content type and extra headers."""

    status: int = 200
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        """A JSON response."""
        encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return cls(status=status, body=encoded.encode(), content_type=JSON_TYPE)

    @classmethod
    def text(cls, text: str, content_type: str = TEXT_TYPE, status: int = 200) -> Response:
        """A text response with the given content type (e.g. Prometheus exposition)."""
        return cls(status=status, body=text.encode(), content_type=content_type)

    @classmethod
    def error(cls, status: int, message: str) -> Response:
        """The JSON error body every failure uses."""
        return cls.json({"error": {"status": status, "message": message}}, status=status)


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
            name = _SEGMENT.match(pattern)
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
        self.add(
            "GET",
            "/openapi.json",
            lambda _request: Response.json(self.openapi()),
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
        )
        self._routes.append(route)
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
        parts = urlsplit(target)
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
            query = parse_qs(parts.query, keep_blank_values=True)
            request = Request(
                method=method,
                path=path,
                path_params=path_params,
                params=_declared(route, query),
                query=query,
                body=_json_body(body, headers),
                raw_body=body,
                headers=headers,
            )
            return route.handler(request)
        if allowed:
            allow = ", ".join(sorted(set(allowed)))
            response = Response.error(405, f"method {method} not allowed on {path}; use {allow}")
            return Response(
                response.status, response.body, response.content_type, (("Allow", allow),)
            )
        raise NotFoundError(f"no such endpoint: {path} (see /openapi.json)")

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.0 document describing every registered route."""
        paths: dict[str, dict[str, Any]] = {}
        for route in self._routes:
            paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
        return {
            "openapi": "3.0.3",
            "info": {"title": self._title, "version": self._version},
            "paths": paths,
            "components": {
                "schemas": {
                    "Error": {
                        "type": "object",
                        "required": ["error"],
                        "properties": {
                            "error": {
                                "type": "object",
                                "required": ["status", "message"],
                                "properties": {
                                    "status": {"type": "integer"},
                                    "message": {"type": "string"},
                                },
                            }
                        },
                    }
                }
            },
        }


def _shape(path: str) -> tuple[str, ...]:
    """A template with every parameter name blanked, to detect duplicate routes."""
    segments = path.strip("/").split("/") if path.strip("/") else []
    return tuple("{}" if _SEGMENT.match(s) else s for s in segments)


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


def _json_body(body: bytes, headers: Mapping[str, str]) -> Any:
    if not body:
        return None
    if len(body) > MAX_BODY_BYTES:
        raise HttpError(413, f"request body over {MAX_BODY_BYTES} bytes")
    content_type = headers.get("content-type", JSON_TYPE).split(";")[0].strip().lower()
    if content_type != JSON_TYPE:
        return None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequestError(f"request body is not valid JSON: {exc}") from None


def _operation(route: Route) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = []
    documented = {p.name: p for p in route.parameters if p.location == "path"}
    for segment in route.segments:
        name = _SEGMENT.match(segment)
        if name:
            declared = documented.get(name.group(1))
            parameters.append(
                {
                    "name": name.group(1),
                    "in": "path",
                    "required": True,
                    "description": declared.description if declared else "",
                    "schema": {"type": "string"},
                }
            )
    for parameter in route.parameters:
        if parameter.location == "query":
            parameters.append(
                {
                    "name": parameter.name,
                    "in": "query",
                    "required": parameter.required,
                    "description": parameter.description,
                    "schema": parameter.schema(),
                }
            )
    schema = dict(route.response_schema) if route.response_schema else {}
    if not schema and route.response_content_type != JSON_TYPE:
        schema = {"type": "string"}
    error = {JSON_TYPE: {"schema": {"$ref": "#/components/schemas/Error"}}}
    responses: dict[str, Any] = {
        "200": {
            "description": route.response_description,
            "content": {route.response_content_type.split(";")[0]: {"schema": schema}},
        },
        "400": {"description": "A parameter or the body is malformed", "content": error},
    }
    for status in route.errors:
        responses[str(status)] = {"description": _REASONS.get(status, "Error"), "content": error}
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "responses": responses,
    }
    if route.description:
        operation["description"] = route.description
    if route.tags:
        operation["tags"] = list(route.tags)
    if parameters:
        operation["parameters"] = parameters
    if route.request_schema is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON_TYPE: {"schema": dict(route.request_schema)}},
        }
    return operation


_REASONS: Final = {
    404: "Unknown id or path",
    409: "Conflict",
    413: "Body too large",
    503: "Temporarily unavailable",
}
