"""Registers the web UI's pages on the query API's router (see the package docstring).

Every page is a GET route answering HTML (``Response.html``), so the API's access
control applies as to any read. The write controls on the pages call the API's own
write routes (flag, tags, notes) from the browser with JSON bodies, so writes go
through the same checks (``api.writes``) and the same code as ``mlspan flag``/``tag``/
``note``; the pages only show the controls when writes are enabled.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

from mlspan.collector.api.router import NotFoundError, Parameter, Request, Response, Router
from mlspan.collector.ui.pages_drift import DriftPages
from mlspan.collector.ui.pages_lineage import DIRECTIONS, LineagePages
from mlspan.collector.ui.pages_models import ModelPages
from mlspan.collector.ui.pages_overview import OverviewPages
from mlspan.collector.ui.pages_runs import RunPages
from mlspan.collector.ui.sources import UiSources
from mlspan.collector.ui.templating import build_environment

HTML: Final = "text/html"
TAGS: Final = ("ui",)
STATIC_TYPES: Final = {
    "ui.css": "text/css; charset=utf-8",
    "ui.js": "text/javascript; charset=utf-8",
}
"""The files ``/ui/static/{name}`` serves (from the package), nothing else."""

_SERVICE: Final = Parameter("service", description="Service name")


def _static() -> dict[str, bytes]:
    folder = resources.files(__name__.rpartition(".")[0]) / "static"
    return {name: (folder / name).read_bytes() for name in STATIC_TYPES}


def register_ui_routes(router: Router, sources: UiSources) -> None:
    """Register every page, the exports and the static files on ``router``."""
    environment = build_environment()
    overview = OverviewPages(environment, sources)
    runs = RunPages(environment, sources)
    lineage = LineagePages(environment, sources)
    drift = DriftPages(environment, sources)
    models = ModelPages(environment, sources)
    static = _static()

    def page(
        path: str,
        pages: OverviewPages | RunPages | LineagePages | DriftPages | ModelPages,
        handler_name: str,
        summary: str,
        parameters: tuple[Parameter, ...] = (),
    ) -> None:
        handler = getattr(pages, handler_name)
        router.add(
            "GET",
            path,
            pages.guard(handler),
            summary=summary,
            parameters=parameters,
            response_content_type=HTML,
            tags=TAGS,
            errors=(404,),
            error_page=pages.error,
        )

    direction = Parameter(
        "direction",
        default="upstream",
        enum=DIRECTIONS,
        description="upstream (what made it) or downstream (what it made)",
    )
    collapse = Parameter("collapse", "boolean", "Fold in-memory data between runs", default=True)
    depth = Parameter(
        "max_depth", "integer", "Stop after this many runs", minimum=0, maximum=10_000
    )
    page("/", overview, "overview", "Web UI: services, models, firing alerts, ingest health")
    page("/ui/alerts", overview, "alerts", "Web UI: firing alerts and their history")
    page(
        "/ui/runs",
        runs,
        "runs",
        "Web UI: recent runs, filtered",
        (
            _SERVICE,
            Parameter("component", description="Component name"),
            Parameter("status", enum=("ok", "error", "unset"), description="Run status"),
            Parameter("since", description="ISO date/time or unix seconds, inclusive"),
            Parameter("until", description="ISO date/time or unix seconds, exclusive"),
            Parameter("limit", "integer", "Most runs shown", default=50, minimum=1, maximum=1000),
        ),
    )
    page("/ui/runs/{run_id}", runs, "run", "Web UI: one run")
    page(
        "/ui/lineage",
        lineage,
        "search",
        "Web UI: find a file, artifact or run",
        (Parameter("ref", description="File path or name, id or id prefix"), direction),
    )
    page(
        "/ui/lineage/{ref}",
        lineage,
        "graph",
        "Web UI: lineage graph of a reference",
        (direction, collapse, depth),
    )
    page(
        "/ui/lineage/{ref}/export/{format}",
        lineage,
        "export",
        "Lineage graph as svg, dot or mermaid",
        (direction, collapse, depth),
    )
    page("/ui/drift", drift, "models", "Web UI: drift of every model version")
    model = (
        Parameter("service", required=True, description="Service name"),
        Parameter("model", required=True, description="Model name"),
        Parameter("version", required=True, description="Model version"),
    )
    page("/ui/drift/model", drift, "model", "Web UI: a model version's features", model)
    page(
        "/ui/drift/feature",
        drift,
        "feature",
        "Web UI: reference and current distribution of one feature",
        (
            *model,
            Parameter("feature", required=True, description="Feature name"),
            Parameter("origin", default="input", description="input or prediction"),
        ),
    )

    service = Parameter("service", description="Service name (when model names repeat)")
    page("/ui/models", models, "models", "Web UI: the model registry's models")
    page("/ui/models/{name}", models, "model", "Web UI: a model's versions", (service,))
    page(
        "/ui/models/{name}/diff",
        models,
        "diff",
        "Web UI: two versions of a model compared",
        (
            service,
            Parameter("a", required=True, description="Version A (v2, 2, digest)"),
            Parameter("b", required=True, description="Version B"),
        ),
    )
    page("/ui/experiments", models, "experiments", "Web UI: A/B/n experiments and verdicts")

    def serve_static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in static:
            raise NotFoundError(f"no static file {name}")
        headers = (("Cache-Control", "max-age=300"),)
        return Response(200, static[name], STATIC_TYPES[name], headers)

    router.add(
        "GET",
        "/ui/static/{name}",
        serve_static,
        summary="Web UI stylesheet and script",
        response_content_type="text/css",
        tags=TAGS,
        errors=(404,),
    )
