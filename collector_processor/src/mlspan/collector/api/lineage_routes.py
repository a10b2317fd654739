"""HTTP routes of the lineage queries (``/api/v1/...``), documented in the OpenAPI.

References in paths (run ids, artifact ids, file paths, id prefixes) are single path
segments: clients percent-encode ``/`` as ``%2F``. Unknown references answer 404,
ambiguous prefixes and malformed cursors 400, each with a message saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from mlspan.collector.api.router import (
    BadRequestError,
    NotFoundError,
    Parameter,
    Request,
    Response,
    Router,
)
from mlspan.collector.lineage.queries import BadCursorError, LineageQueries
from mlspan.collector.lineage.views import AmbiguousReferenceError, UnknownReferenceError

TAGS: Final = ("lineage",)
_OBJECT: Final = {"type": "object"}
_REF_DOC: Final = "Run id, artifact id, file path or name, or unique id prefix (percent-encoded)"
MAX_UNIX_SECONDS: Final = ((1 << 63) - 1) // 1_000_000_000
"""Latest time the store's 64-bit nanosecond timestamps hold (year 2262)."""
_DEPTH: Final = Parameter(
    "max_depth",
    "integer",
    "Stop after this many runs from the root",
    minimum=0,
    maximum=10_000,
)
_STALE: Final = Parameter(
    "stale_after_days",
    "number",
    "Age threshold for staleness warnings",
    minimum=0,
    maximum=36_500,
)
_LIMIT: Final = Parameter(
    "limit", "integer", "Most runs to return", default=20, minimum=1, maximum=1000
)


def _guard(handler: Callable[[Request], Any]) -> Callable[[Request], Response]:
    """Turn query errors into 404/400 and results into JSON responses."""

    def run(request: Request) -> Response:
        try:
            return Response.json(handler(request))
        except UnknownReferenceError as exc:
            raise NotFoundError(str(exc)) from None
        except (AmbiguousReferenceError, BadCursorError) as exc:
            raise BadRequestError(str(exc)) from None

    run.__name__ = getattr(handler, "__name__", "handler")
    return run


def _strings(body: Any, key: str) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise BadRequestError(f"'{key}' must be a list of non-empty strings")
    return list(value)


def _text(body: Any, key: str, required: bool) -> str:
    value = body.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadRequestError(f"'{key}' must be a {'non-empty ' if required else ''}string")
    return value


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1e9)


def _object(request: Request) -> Mapping[str, Any]:
    """An optional JSON object body: ``{}`` without one, 400 for any other JSON value."""
    return {} if request.body is None else request.json_object()


def _cursor(value: str | None) -> str | None:
    """A ``recent`` cursor whose time part fits the store (``<ns>.<run id>``), else 400."""
    if value is None:
        return None
    start, sep, run_id = value.partition(".")
    try:
        fits = bool(sep and run_id) and 0 <= int(start) <= MAX_UNIX_SECONDS * 1_000_000_000
    except ValueError:
        fits = False
    if not fits:
        raise BadRequestError(f"malformed cursor '{value[:100]}': pass next_cursor back as is")
    return value


def register_lineage_routes(router: Router, queries: LineageQueries) -> None:
    """Register every lineage route on ``router``."""
    q = queries

    def add(
        method: str,
        path: str,
        handler: Callable[[Request], Any],
        summary: str,
        parameters: tuple[Parameter, ...] = (),
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

    add(
        "GET",
        "/api/v1/trace/{ref}",
        lambda r: q.trace(
            r.path_params["ref"], r.params["max_depth"], r.params["stale_after_days"]
        ),
        "Upstream lineage DAG of a run or artifact, with staleness warnings",
        (Parameter("ref", description=_REF_DOC, location="path"), _DEPTH, _STALE),
    )
    add(
        "GET",
        "/api/v1/impact/{ref}",
        lambda r: q.impact(r.path_params["ref"], r.params["max_depth"]),
        "Downstream lineage DAG: everything built from a run or artifact",
        (Parameter("ref", description=_REF_DOC, location="path"), _DEPTH),
    )
    add(
        "GET",
        "/api/v1/runs",
        lambda r: q.recent(r.params["limit"], _cursor(r.params["cursor"]), r.params["component"]),
        "Recent runs, newest first, paged with a cursor",
        (
            _LIMIT,
            Parameter("cursor", description="next_cursor of the previous page"),
            Parameter("component", description="Only runs of this component"),
        ),
    )
    add(
        "GET",
        "/api/v1/runs/{run_id}",
        lambda r: q.show(r.path_params["run_id"], r.params["stale_after_days"]),
        "One run with inputs, outputs, parent, children, tags, notes and staleness",
        (_STALE,),
    )
    add(
        "GET",
        "/api/v1/components/{component}/runs",
        lambda r: q.history(
            r.path_params["component"],
            r.params["limit"],
            _ns(r.params["since"]),
            _ns(r.params["until"]),
        ),
        "History of a component: its runs, newest first",
        (
            _LIMIT,
            Parameter(
                "since", "number", "Unix seconds, inclusive", minimum=0, maximum=MAX_UNIX_SECONDS
            ),
            Parameter(
                "until", "number", "Unix seconds, exclusive", minimum=0, maximum=MAX_UNIX_SECONDS
            ),
        ),
    )
    add(
        "POST",
        "/api/v1/artifacts/{ref}/flag",
        lambda r: q.flag(r.path_params["ref"], _text(_object(r), "reason", required=False)),
        "Flag an output as wrong (body: optional reason)",
        body=True,
    )
    add(
        "DELETE",
        "/api/v1/artifacts/{ref}/flag",
        lambda r: q.unflag(r.path_params["ref"]),
        "Clear an output's flag",
    )
    add("GET", "/api/v1/flags", lambda _r: q.flags(), "Every flagged output")
    add(
        "GET",
        "/api/v1/review",
        lambda r: q.review(r.params["limit"]),
        "Runs ranked by how many flagged outputs' traces contain them",
        (_LIMIT,),
    )
    for kind, segment, name in (
        ("run", "runs", "run_id"),
        ("component", "components", "component"),
    ):
        add(
            "POST",
            f"/api/v1/{segment}/{{{name}}}/tags",
            _tagger(q, kind, name),
            f"Add and remove tags on a {kind} (body: add, remove lists)",
            body=True,
        )
        add(
            "POST",
            f"/api/v1/{segment}/{{{name}}}/notes",
            _noter(q, kind, name),
            f"Attach a note to a {kind} (body: text)",
            body=True,
        )
        add(
            "GET",
            f"/api/v1/{segment}/{{{name}}}/notes",
            _note_lister(q, kind, name),
            f"Notes of a {kind}",
        )


def _tagger(q: LineageQueries, kind: str, name: str) -> Callable[[Request], Any]:
    def tag(r: Request) -> Any:
        body = r.json_object()
        return q.tag(kind, r.path_params[name], _strings(body, "add"), _strings(body, "remove"))

    return tag


def _noter(q: LineageQueries, kind: str, name: str) -> Callable[[Request], Any]:
    def note(r: Request) -> Any:
        return q.note(kind, r.path_params[name], _text(r.json_object(), "text", required=True))

    return note


def _note_lister(q: LineageQueries, kind: str, name: str) -> Callable[[Request], Any]:
    return lambda r: q.notes(kind, r.path_params[name])
