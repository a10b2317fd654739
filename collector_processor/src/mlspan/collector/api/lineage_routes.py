"""HTTP routes of the lineage queries (``/api/v1/...``), documented in the OpenAPI.

References in paths (run ids, artifact ids, file paths, id prefixes) are single path
segments: clients percent-encode ``/`` as ``%2F``. Unknown references answer 404,
ambiguous prefixes and malformed cursors 400, each with a message saying why. Bodies and
answers are typed (``api.lineage_models``): write bodies are validated against their
models, and the OpenAPI document is generated from them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from mlspan.collector.api import lineage_models as models
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


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1e9)


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
        body: Any = None,
        answer: Any = None,
    ) -> None:
        router.add(
            method,
            path,
            _guard(handler),
            summary=summary,
            parameters=parameters,
            request_model=body,
            response_model=answer,
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
        answer=models.LineageGraph,
    )
    add(
        "GET",
        "/api/v1/impact/{ref}",
        lambda r: q.impact(r.path_params["ref"], r.params["max_depth"]),
        "Downstream lineage DAG: everything built from a run or artifact",
        (Parameter("ref", description=_REF_DOC, location="path"), _DEPTH),
        answer=models.LineageGraph,
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
        answer=models.RunsPage,
    )
    add(
        "GET",
        "/api/v1/runs/{run_id}",
        lambda r: q.show(r.path_params["run_id"], r.params["stale_after_days"]),
        "One run with inputs, outputs, parent, children, tags, notes and staleness",
        (_STALE,),
        answer=models.RunDetail,
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
        answer=models.ComponentHistory,
    )
    add(
        "POST",
        "/api/v1/artifacts/{ref}/flag",
        lambda r: q.flag(r.path_params["ref"], r.model.reason),
        "Flag an output as wrong (body: optional reason)",
        body=models.FlagBody,
        answer=models.Artifact,
    )
    add(
        "DELETE",
        "/api/v1/artifacts/{ref}/flag",
        lambda r: q.unflag(r.path_params["ref"]),
        "Clear an output's flag",
        answer=models.Artifact,
    )
    add("GET", "/api/v1/flags", lambda _r: q.flags(), "Every flagged output", answer=models.Flags)
    add(
        "GET",
        "/api/v1/review",
        lambda r: q.review(r.params["limit"]),
        "Runs ranked by how many flagged outputs' traces contain them",
        (_LIMIT,),
        answer=models.Review,
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
            body=models.TagsBody,
            answer=models.Tags,
        )
        add(
            "POST",
            f"/api/v1/{segment}/{{{name}}}/notes",
            _noter(q, kind, name),
            f"Attach a note to a {kind} (body: text)",
            body=models.NoteBody,
            answer=models.Note,
        )
        add(
            "GET",
            f"/api/v1/{segment}/{{{name}}}/notes",
            _note_lister(q, kind, name),
            f"Notes of a {kind}",
            answer=models.Notes,
        )


def _tagger(q: LineageQueries, kind: str, name: str) -> Callable[[Request], Any]:
    def tag(r: Request) -> Any:
        body: models.TagsBody = r.model
        return q.tag(kind, r.path_params[name], list(body.add), list(body.remove))

    return tag


def _noter(q: LineageQueries, kind: str, name: str) -> Callable[[Request], Any]:
    def note(r: Request) -> Any:
        body: models.NoteBody = r.model
        return q.note(kind, r.path_params[name], body.text)

    return note


def _note_lister(q: LineageQueries, kind: str, name: str) -> Callable[[Request], Any]:
    return lambda r: q.notes(kind, r.path_params[name])
