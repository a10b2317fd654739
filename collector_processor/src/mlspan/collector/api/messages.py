"""What handlers see and answer: requests, responses, documented parameters, errors.

Handlers signal client errors by raising ``HttpError`` (or ``NotFoundError`` /
``BadRequestError``); the router turns them into JSON error bodies
``{"error": {"status": ..., "message": ...}}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from mlspan.collector.api.json_safe import encode
from mlspan.collector.api.limits import DEFAULT_MAX_BODY_BYTES

JSON_TYPE: Final = "application/json"
TEXT_TYPE: Final = "text/plain; charset=utf-8"
HTML_TYPE: Final = "text/html; charset=utf-8"
MAX_BODY_BYTES: Final = DEFAULT_MAX_BODY_BYTES
"""Default largest request body (``api.limits.max_request_body_size``); larger get 413."""
INT64_MAX: Final = (1 << 63) - 1
"""Integer query parameters are refused outside the store's 64-bit range."""

PATH_PARAMETER: Final = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
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
            if not -INT64_MAX <= value <= INT64_MAX:
                raise BadRequestError(f"query parameter '{self.name}' is out of range")
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
    model: Any = None
    """The body validated as the route's ``request_model`` (None without one)."""

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
        """A JSON response; values JSON cannot carry are made safe (see ``json_safe``)."""
        return cls(status=status, body=encode(data), content_type=JSON_TYPE)

    @classmethod
    def model(cls, value: Any, status: int = 200) -> Response:
        """A JSON response from a typed model (a pydantic model, or plain data)."""
        dump = getattr(value, "model_dump", None)
        return cls.json(dump(mode="json") if callable(dump) else value, status=status)

    @classmethod
    def text(cls, text: str, content_type: str = TEXT_TYPE, status: int = 200) -> Response:
        """A text response with the given content type (e.g. Prometheus exposition)."""
        return cls(status=status, body=text.encode("utf-8", "replace"), content_type=content_type)

    @classmethod
    def html(
        cls, page: str, status: int = 200, headers: tuple[tuple[str, str], ...] = ()
    ) -> Response:
        """An HTML page (the web UI); the caller has escaped every untrusted string."""
        return cls(status, page.encode("utf-8", "replace"), HTML_TYPE, headers)

    @classmethod
    def error(cls, status: int, message: str) -> Response:
        """The JSON error body every failure uses."""
        return cls.json({"error": {"status": status, "message": message}}, status=status)
