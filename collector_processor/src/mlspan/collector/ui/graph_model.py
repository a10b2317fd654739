"""A lineage answer (``trace``/``impact`` JSON) as a graph of typed nodes to draw.

Nodes are runs and artifacts; edges point the way data flows (artifact -> consuming
run, run -> produced artifact). Each node knows what the drawings mark: a flagged
artifact, a stale run (a staleness warning names it), a failed run, the root. In-memory
data (``data:`` artifacts that a run of the graph made and another consumed) can be
collapsed into direct run-to-run edges, which keeps a long pipeline readable.

Only the standard library is imported: the CLI renders graphs without the UI's stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

RUN: Final = "run"
ARTIFACT: Final = "artifact"
MAX_LABEL: Final = 30
"""Characters of a label drawn in a node; the full text is in its tooltip."""


@dataclass(frozen=True)
class Node:
    """One run or artifact of the graph."""

    node_id: str
    kind: str
    """``run`` or ``artifact``."""
    label: str
    """Component and operation of a run; file name or short id of an artifact."""
    detail: str
    """Second line: a run's service and start time; an artifact's kind."""
    title: str
    """Tooltip: every name and the full id."""
    artifact_kind: str = ""
    """``file``, ``data``, ``model`` or ``other`` for artifacts."""
    flagged: bool = False
    stale: bool = False
    failed: bool = False
    root: bool = False
    trace_id: str = ""


@dataclass
class LineageGraph:
    """Nodes by id (in answer order) and data-flow edges."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    direction: str = "upstream"
    truncated: bool = False
    collapsed: int = 0
    """How many in-memory artifacts ``collapse_memory`` folded into run-to-run edges."""
    warnings: list[str] = field(default_factory=list)


def short_id(artifact_id: str) -> str:
    """``data:xxh3_128:0123456789abcdef...`` -> ``data 01234567``."""
    kind, _, rest = artifact_id.partition(":")
    digest = rest.rpartition(":")[2] if rest else artifact_id
    return f"{kind} {digest[:8]}" if rest else artifact_id[:MAX_LABEL]


def artifact_label(artifact: Mapping[str, Any]) -> str:
    """A file's base name when the artifact has one, else its short id."""
    names = [str(n) for n in artifact.get("names") or []]
    if names:
        name = names[0].replace("\\", "/").rstrip("/")
        return name.rpartition("/")[2] or name
    return short_id(str(artifact["artifact_id"]))


def when(ns: int) -> str:
    """Nanoseconds since the epoch as a short UTC time."""
    if not ns:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def from_answer(answer: Mapping[str, Any], direction: str = "upstream") -> LineageGraph:
    """Build the graph of a ``trace`` (upstream) or ``impact`` (downstream) answer."""
    root = answer.get("root") or {}
    root_id = (root.get("run") or {}).get("run_id") or (root.get("artifact") or {}).get(
        "artifact_id"
    )
    warnings = list(answer.get("warnings") or [])
    stale_runs = {str(w.get("run_id")) for w in warnings}
    graph = LineageGraph(
        direction=direction,
        truncated=bool(answer.get("truncated")),
        warnings=[str(w.get("message", "")) for w in warnings],
    )
    for run in answer.get("runs") or []:
        run_id = str(run["run_id"])
        operation = run.get("operation") or ""
        label = str(run.get("component") or run.get("name") or run_id)
        if operation and operation != label:
            label = f"{label} [{operation}]"
        model = run.get("model_version") or ""
        detail = " · ".join(
            x for x in (str(run.get("service") or ""), when(int(run.get("start_ns") or 0))) if x
        )
        title = f"run {run_id}: {run.get('name') or label}" + (f", model {model}" if model else "")
        graph.nodes[run_id] = Node(
            run_id,
            RUN,
            label,
            detail,
            title,
            stale=run_id in stale_runs,
            failed=run.get("status") == "error",
            root=run_id == root_id,
            trace_id=str(run.get("trace_id") or ""),
        )
    for artifact in answer.get("artifacts") or []:
        artifact_id = str(artifact["artifact_id"])
        names = [str(n) for n in artifact.get("names") or []]
        kind = str(artifact.get("kind") or "other")
        graph.nodes[artifact_id] = Node(
            artifact_id,
            ARTIFACT,
            artifact_label(artifact),
            kind + (" · FLAGGED" if artifact.get("flagged") else ""),
            "\n".join([*names, artifact_id]),
            artifact_kind=kind,
            flagged=bool(artifact.get("flagged")),
            root=artifact_id == root_id,
        )
    for edge in answer.get("edges") or []:
        source, target = str(edge["from"]), str(edge["to"])
        if source in graph.nodes and target in graph.nodes:
            graph.edges.append((source, target))
    return graph


def collapse_memory(graph: LineageGraph) -> LineageGraph:
    """The graph with in-memory data between two runs folded into run-to-run edges.

    A ``data`` artifact (a frame or array, not a file or model) is folded when a run of
    the graph produced it and another consumed it, unless it is the root or flagged:
    those stay visible.
    """
    producers: dict[str, list[str]] = {}
    consumers: dict[str, list[str]] = {}
    for source, target in graph.edges:
        if graph.nodes[source].kind == RUN:
            producers.setdefault(target, []).append(source)
        else:
            consumers.setdefault(source, []).append(target)
    folded = {
        node_id
        for node_id, node in graph.nodes.items()
        if node.kind == ARTIFACT
        and node.artifact_kind == "data"
        and not node.root
        and not node.flagged
        and producers.get(node_id)
        and consumers.get(node_id)
    }
    edges: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()

    def keep(edge: tuple[str, str]) -> None:
        if edge not in seen:
            seen.add(edge)
            edges.append(edge)

    for source, target in graph.edges:
        if source in folded or target in folded:
            continue
        keep((source, target))
    for node_id in sorted(folded):
        for producer in producers[node_id]:
            for consumer in consumers[node_id]:
                keep((producer, consumer))
    return LineageGraph(
        nodes={k: v for k, v in graph.nodes.items() if k not in folded},
        edges=edges,
        direction=graph.direction,
        truncated=graph.truncated,
        collapsed=len(folded),
        warnings=graph.warnings,
    )
