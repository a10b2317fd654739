"""Lineage pages: find a file, artifact or run, draw its upstream or downstream graph,
and export the graph as SVG, Graphviz DOT or Mermaid."""

from __future__ import annotations

from typing import Any, Final

from mlspan.collector.api.router import BadRequestError, Request, Response
from mlspan.collector.lineage.views import resolve
from mlspan.collector.ui import graph_export, graph_model
from mlspan.collector.ui.graph_layout import layout
from mlspan.collector.ui.graph_model import RUN, LineageGraph, Node
from mlspan.collector.ui.page import Pages
from mlspan.collector.ui.templating import segment, svg

DIRECTIONS: Final = ("upstream", "downstream")
MAX_DRAWN: Final = 1500
"""Largest graph drawn in the page; larger ones are offered as exports only."""
EXPORTS: Final = {
    "svg": ("image/svg+xml; charset=utf-8", "svg"),
    "dot": ("text/vnd.graphviz; charset=utf-8", "dot"),
    "mermaid": ("text/plain; charset=utf-8", "mmd"),
}


def node_link(direction: str, collapse: bool) -> graph_export.Link:
    """Runs link to their page, artifacts to their own lineage graph."""
    suffix = f"?direction={direction}" + ("" if collapse else "&collapse=false")

    def link(node: Node) -> str:
        if node.kind == RUN:
            return f"/ui/runs/{segment(node.node_id)}"
        return f"/ui/lineage/{segment(node.node_id)}{suffix}"

    return link


class LineagePages(Pages):
    """``/ui/lineage``, ``/ui/lineage/{ref}`` and its exports."""

    def search(self, request: Request) -> Response:
        """A form; with ``ref`` set, a redirect to that reference's graph."""
        ref = (request.params.get("ref") or "").strip()
        if ref:
            found = resolve(self.sources.queries.store, ref)
            target = ref
            if found.run is not None:
                target = found.run.run_id
            elif found.artifact is not None:
                target = found.artifact.artifact_id
            location = f"/ui/lineage/{segment(target)}?direction={self._direction(request)}"
            return Response(303, b"", "text/plain", (("Location", location),))
        flags = self.sources.queries.flags()["flags"]
        recent = self.sources.queries.recent(10)["runs"]
        return self.render("lineage_search.html", title="Lineage", flags=flags, runs=recent)

    def _direction(self, request: Request) -> str:
        return str(request.params.get("direction") or "upstream")

    def _graph(self, request: Request) -> tuple[dict[str, Any], LineageGraph, str, bool]:
        ref = request.path_params["ref"]
        direction = self._direction(request)
        collapse = bool(request.params.get("collapse", True))
        depth = request.params.get("max_depth")
        queries = self.sources.queries
        answer = (
            queries.trace(ref, depth) if direction == "upstream" else queries.impact(ref, depth)
        )
        graph = graph_model.from_answer(answer, direction)
        if collapse:
            graph = graph_model.collapse_memory(graph)
        return answer, graph, direction, collapse

    def graph(self, request: Request) -> Response:
        """The graph of one reference, drawn as inline SVG with links."""
        answer, graph, direction, collapse = self._graph(request)
        drawing = None
        if len(graph.nodes) <= MAX_DRAWN:
            placed = layout(list(graph.nodes), graph.edges)
            drawing = svg(graph_export.to_svg(graph, node_link(direction, collapse), placed))
        root = answer["root"]
        flagged = [n for n in graph.nodes.values() if n.flagged]
        stale = [n for n in graph.nodes.values() if n.stale]
        ref = request.path_params["ref"]
        return self.render(
            "lineage.html",
            title=f"Lineage of {ref}",
            ref=ref,
            root=root,
            graph=graph,
            drawing=drawing,
            direction=direction,
            collapse=collapse,
            flagged=flagged,
            stale=stale,
            runs=len([n for n in graph.nodes.values() if n.kind == RUN]),
            max_drawn=MAX_DRAWN,
        )

    def export(self, request: Request) -> Response:
        """The graph as a download in ``svg``, ``dot`` or ``mermaid``."""
        kind = request.path_params["format"]
        if kind not in EXPORTS:
            raise BadRequestError(f"unknown export format '{kind}' (use svg, dot or mermaid)")
        _answer, graph, direction, _collapse = self._graph(request)
        if kind == "svg":
            text = graph_export.to_svg(graph)
        elif kind == "dot":
            text = graph_export.to_dot(graph)
        else:
            text = graph_export.to_mermaid(graph)
        content_type, extension = EXPORTS[kind]
        disposition = f'attachment; filename="lineage-{direction}.{extension}"'
        return Response(
            200, text.encode("utf-8"), content_type, (("Content-Disposition", disposition),)
        )
