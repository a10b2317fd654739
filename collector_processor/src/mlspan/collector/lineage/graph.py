"""Walking the lineage graph: upstream (``trace``) and downstream (``impact``).

The walk is breadth-first and level by level: each level costs three store round trips
(runs -> artifacts, artifacts -> runs, the new runs' start times) whatever its width,
and every node is visited once, so diamonds are deduplicated and cycles terminate. A
node's depth is the number of runs between it and the root along the shortest path.
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
    """Visit everything reachable from the root runs/artifacts in ``direction``.

    The walk respects time: upstream, an artifact's producers count only if they started
    no later than the latest run found consuming it (a run that wrote the same content
    afterwards did not make what was consumed); downstream, its consumers only if they
    started no earlier than the earliest producer found. Content digests make round
    trips (a frame written to a file and read back has its own digest again) and
    repeated runs of one pipeline into cycles of the content graph; an edge leading back
    toward the root (to a node found at a smaller depth) is left out, so the answer is a
    DAG: along every kept edge the depth never falls, and it rises at each run.
    """
    upstream = direction == UPSTREAM
    # upstream: a run's inputs, then each artifact's producers; downstream: the reverse.
    run_edge, artifact_edge = (INPUT, OUTPUT) if upstream else (OUTPUT, INPUT)
    graph = Graph()
    graph.run_depth.update(dict.fromkeys(runs, 0))
    graph.artifact_depth.update(dict.fromkeys(artifacts, 0))
    clock = _Clock(store, upstream)
    clock.learn(runs)
    run_frontier = list(runs)
    artifact_frontier = list(artifacts)
    depth = 0
    seen_edges: set[tuple[str, str]] = set()

    def record(edge: tuple[str, str]) -> None:
        if edge not in seen_edges:
            seen_edges.add(edge)
            graph.edges.append(edge)

    while run_frontier or artifact_frontier:
        if run_frontier:
            links = store.run_io(run_frontier, run_edge)
            for run_id, linked in links.items():
                for artifact_id in linked:
                    if graph.artifact_depth.get(artifact_id, depth) < graph.run_depth[run_id]:
                        continue  # back toward the root: would close a cycle
                    record((artifact_id, run_id) if upstream else (run_id, artifact_id))
                    clock.extend(artifact_id, run_id)
                    if artifact_id not in graph.artifact_depth:
                        graph.artifact_depth[artifact_id] = depth
                        artifact_frontier.append(artifact_id)
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
        links = store.artifact_runs(artifact_frontier, artifact_edge)
        clock.learn([run_id for linked in links.values() for run_id in linked])
        for artifact_id, linked in links.items():
            for run_id in linked:
                if not clock.in_time(artifact_id, run_id):
                    continue
                if graph.run_depth.get(run_id, depth) <= graph.artifact_depth[artifact_id]:
                    continue  # back toward the root: would close a cycle
                record((run_id, artifact_id) if upstream else (artifact_id, run_id))
                if run_id not in graph.run_depth:
                    graph.run_depth[run_id] = depth
                    run_frontier.append(run_id)
        artifact_frontier = []
    return graph


class _Clock:
    """Start times of the runs found, and each artifact's time horizon in the walk.

    Upstream, an artifact's horizon is the latest start of the runs found consuming it
    (producers must not start after it) and its linked runs are its producers; downstream,
    the earliest start of its producers found (consumers must not start before it).
    """

    def __init__(self, store: Store, upstream: bool) -> None:
        self._store = store
        self._upstream = upstream
        self._start: dict[str, int] = {}
        self._horizon: dict[str, int] = {}

    def learn(self, run_ids: list[str] | tuple[str, ...]) -> None:
        """Fetch the start times of runs not seen yet (one store round trip)."""
        missing = [run_id for run_id in dict.fromkeys(run_ids) if run_id not in self._start]
        if missing:
            for run_id, run in self._store.runs(missing).items():
                self._start[run_id] = run.start_ns

    def extend(self, artifact_id: str, run_id: str) -> None:
        """``run_id`` consumes (upstream) or produces (downstream) ``artifact_id``."""
        start = self._start.get(run_id)
        if start is None:
            return
        known = self._horizon.get(artifact_id)
        if known is None:
            self._horizon[artifact_id] = start
        else:
            self._horizon[artifact_id] = max(known, start) if self._upstream else min(known, start)

    def in_time(self, artifact_id: str, run_id: str) -> bool:
        """Whether ``run_id`` may produce (upstream) or consume (downstream) the artifact."""
        horizon, start = self._horizon.get(artifact_id), self._start.get(run_id)
        if horizon is None or start is None:
            return True
        return start <= horizon if self._upstream else start >= horizon


def _has_more(store: Store, artifacts: list[str], direction: str) -> bool:
    return any(store.artifact_runs(artifacts, direction).values())
