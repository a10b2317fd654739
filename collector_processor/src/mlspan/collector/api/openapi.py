"""The OpenAPI 3.1 document describing a router's routes.

Path parameters come from the ``{name}`` segments of each template, query parameters
from the declared ``Parameter``s; every operation documents 400 and the error statuses it
declares with the shared ``Error`` schema. Request and response bodies of typed routes
are the JSON Schemas pydantic generates from their models (OpenAPI 3.1 schemas are JSON
Schema 2020-12, which is what pydantic writes), each named model once under
``components.schemas``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

from mlspan.collector.api.messages import JSON_TYPE, PATH_PARAMETER

if TYPE_CHECKING:
    from mlspan.collector.api.router import Route


def describe(routes: Sequence[Route], title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``routes``."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def model_schema(
    model: Any, schemas: dict[str, Any], mode: Literal["validation", "serialization"]
) -> dict[str, Any]:
    """The schema of ``model`` (``mode``: validation for requests, serialization for
    answers): a ``$ref`` for a named model, its definitions added to ``schemas``."""
    from pydantic import TypeAdapter

    generated = TypeAdapter(model).json_schema(ref_template=_REF, mode=mode)
    schemas.update(generated.pop("$defs", {}))
    name = getattr(model, "__name__", "")
    if name and generated.get("type") == "object" and generated.get("title") == name:
        schemas[name] = generated
        return {"$ref": _REF.format(model=name)}
    return dict(generated)


_REF: Final = "#/components/schemas/{model}"


ERROR_SCHEMA: Final = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "message"],
            "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
        }
    },
}


def _operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = []
    documented = {p.name: p for p in route.parameters if p.location == "path"}
    for segment in route.segments:
        name = PATH_PARAMETER.match(segment)
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
    if route.response_model is not None:
        schema = model_schema(route.response_model, schemas, "serialization")
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
    if route.request_model is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                JSON_TYPE: {"schema": model_schema(route.request_model, schemas, "validation")}
            },
        }
    elif route.request_schema is not None:
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
