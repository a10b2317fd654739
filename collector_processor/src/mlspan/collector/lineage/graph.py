"""Walking the lineage graph: upstream (``trace``) and downstream (``impact``).

The walk is breadth-first and level by level: each level costs two store round trips
(runs -> artifacts, artifacts -> runs) whatever its width, and every node is visited
once, so diamonds are deduplicated and cycles terminate. A node's depth is the number of
runs between it and the root along the shortest path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from mlspan.collector.store import INPUT, OUTPUT, Store

UPSTREAM: Final = "upstream"
DOWNSTREAM: Final = "downstream"


@dataclass
class Graph:
    """Visited nodes with their depths and the data-flow edges between them.

    Edges point the way data flows: ``(artifact, run)`` when a run consumed an artifact,
    ``(run, artifact)`` when it produced one.
    """

    run_depth: dict[str, int] = field(default_factory=dict)
    artifact_depth: dict[str, int] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    truncated: bool = False


def walk(
    store: Store,
    *,
    runs: tuple[str, ...] = (),
    artifacts: tuple[str, ...] = (),
    direction: str = UPSTREAM,
    max_depth: int | None = None,
    max_nodes: int = 10_000,
) -> Graph:
    """Visit everything reachable from the root runs/artifacts in ``direction``."""
    upstream = direction == UPSTREAM
    # upstream: a run's inputs, then each artifact's producers; downstream: the reverse.
    run_edge, artifact_edge = (INPUT, OUTPUT) if upstream else (OUTPUT, INPUT)
    graph = Graph()
    graph.run_depth.update(dict.fromkeys(runs, 0))
    graph.artifact_depth.update(dict.fromkeys(artifacts, 0))
    run_frontier = list(runs)
    artifact_frontier = list(artifacts)
    depth = 0
    seen_edges: set[tuple[str, str]] = set()

    def expand(links: dict[str, list[str]], depths: dict[str, int]) -> list[str]:
        """Record the edges between each node and its links; the newly found links."""
        found: list[str] = []
        for node, linked in links.items():
            for other in linked:
                # upstream, data flowed from the link into the node; downstream, the reverse
                edge = (other, node) if upstream else (node, other)
                if edge not in seen_edges:
                    seen_edges.add(edge)
                    graph.edges.append(edge)
                if other not in depths:
                    depths[other] = depth
                    found.append(other)
        return found

    while run_frontier or artifact_frontier:
        if run_frontier:
            found = expand(store.run_io(run_frontier, run_edge), graph.artifact_depth)
            artifact_frontier.extend(found)
        run_frontier = []
        if max_depth is not None and depth >= max_depth:
            graph.truncated = bool(artifact_frontier) and _has_more(
                store, artifact_frontier, artifact_edge
            )
            break
        if len(graph.run_depth) + len(graph.artifact_depth) > max_nodes:
            graph.truncated = True
            break
        depth += 1
        run_frontier = expand(
            store.artifact_runs(artifact_frontier, artifact_edge), graph.run_depth
        )
        artifact_frontier = []
    return graph


def _has_more(store: Store, artifacts: list[str], direction: str) -> bool:
    return any(store.artifact_runs(artifacts, direction).values())
