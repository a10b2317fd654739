"""Lineage graph model, layered layout and the SVG/DOT/Mermaid exports."""

from __future__ import annotations

import xml.dom.minidom
from typing import Any

from mlspan.collector.ui import graph_export, graph_model
from mlspan.collector.ui.graph_layout import NODE_WIDTH, assign_layers, layout

SCRIPT = "<script>window.__xss=1</script>"
IMG = '"><img src=x onerror="window.__xss=2">'


def run(run_id: str, component: str, operation: str = "transform", **extra: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "trace_id": "t" * 32,
        "component": component,
        "operation": operation,
        "name": f"{operation} x",
        "service": "svc",
        "start_ns": 1_700_000_000_000_000_000,
        "status": extra.pop("status", "ok"),
        "model_version": "",
        **extra,
    }


def artifact(artifact_id: str, *names: str, flagged: bool = False) -> dict[str, Any]:
    return {
        "artifact_id": artifact_id,
        "kind": artifact_id.split(":", 1)[0],
        "names": list(names),
        "flagged": flagged,
    }


def pipeline_answer() -> dict[str, Any]:
    """raw.csv -> clean -> data -> fit -> model; model + data -> predict -> out.csv."""
    return {
        "root": {"artifact": artifact("file:xxh3_128:out")},
        "runs": [
            run("r-predict", "predict-batch", "predict"),
            run("r-fit", SCRIPT, "fit", status="error"),
            run("r-clean", "clean", "component"),
        ],
        "artifacts": [
            artifact("file:xxh3_128:out", f"/data/{IMG}.csv", flagged=True),
            artifact("model:xxh3_128:m1"),
            artifact("data:xxh3_128:frame"),
            artifact("file:xxh3_128:raw", "/data/raw.csv"),
        ],
        "edges": [
            {"from": "r-predict", "to": "file:xxh3_128:out"},
            {"from": "model:xxh3_128:m1", "to": "r-predict"},
            {"from": "data:xxh3_128:frame", "to": "r-predict"},
            {"from": "r-fit", "to": "model:xxh3_128:m1"},
            {"from": "data:xxh3_128:frame", "to": "r-fit"},
            {"from": "r-clean", "to": "data:xxh3_128:frame"},
            {"from": "file:xxh3_128:raw", "to": "r-clean"},
        ],
        "warnings": [{"run_id": "r-clean", "message": "clean has a newer run"}],
        "truncated": False,
    }


def test_nodes_carry_what_the_drawing_marks() -> None:
    graph = graph_model.from_answer(pipeline_answer())
    assert graph.nodes["r-clean"].stale and not graph.nodes["r-fit"].stale
    assert graph.nodes["r-fit"].failed
    out = graph.nodes["file:xxh3_128:out"]
    assert out.flagged and out.root and out.label == f"{IMG}.csv"
    assert graph.nodes["data:xxh3_128:frame"].label == "data frame"
    assert graph.warnings == ["clean has a newer run"]


def test_layers_follow_the_data_flow_and_long_edges_get_waypoints() -> None:
    graph = graph_model.from_answer(pipeline_answer())
    layers = assign_layers(list(graph.nodes), graph.edges)
    assert layers["file:xxh3_128:raw"] == 0
    assert layers["r-clean"] == 1
    assert layers["data:xxh3_128:frame"] == 2
    assert layers["r-fit"] == 3
    assert layers["model:xxh3_128:m1"] == 4
    assert layers["r-predict"] == 5  # longest path, not the shortest (data -> predict)
    assert layers["file:xxh3_128:out"] == 6
    placed = layout(list(graph.nodes), graph.edges)
    for source, target, points in placed.routes:
        # every edge leaves its source's right side and enters its target's left side
        assert points[0][0] == placed.positions[source][0] + NODE_WIDTH
        assert points[-1][0] == placed.positions[target][0]
        if (source, target) == ("data:xxh3_128:frame", "r-predict"):
            assert len(points) == 4  # through layers 3 and 4
    assert placed.width >= 7 * NODE_WIDTH


def test_barycenter_ordering_removes_the_crossing_of_two_chains() -> None:
    # a1 -> r1 -> b1 and a2 -> r2 -> b2 given in crossing order in the middle layer
    nodes = ["a1", "a2", "r2", "r1", "b1", "b2"]
    edges = [("a1", "r1"), ("a2", "r2"), ("r1", "b1"), ("r2", "b2")]
    placed = layout(nodes, edges)
    y = {node: placed.positions[node][1] for node in nodes}
    assert (y["a1"] < y["a2"]) == (y["r1"] < y["r2"]) == (y["b1"] < y["b2"])


def test_a_cycle_still_gets_layers() -> None:
    layers = assign_layers(["x", "y", "z"], [("x", "y"), ("y", "z"), ("z", "x")])
    assert sorted(layers.values()) == [0, 1, 2]
    placed = layout(["x", "y", "z"], [("x", "y"), ("y", "z"), ("z", "x")])
    assert len(placed.routes) == 3


def test_collapsing_folds_in_memory_data_between_runs_only() -> None:
    graph = graph_model.collapse_memory(graph_model.from_answer(pipeline_answer()))
    assert "data:xxh3_128:frame" not in graph.nodes
    assert graph.collapsed == 1
    assert ("r-clean", "r-fit") in graph.edges
    assert ("r-clean", "r-predict") in graph.edges
    assert "model:xxh3_128:m1" in graph.nodes  # models and files stay


def test_svg_export_is_well_formed_and_escapes_every_name() -> None:
    graph = graph_model.from_answer(pipeline_answer())
    svg = graph_export.to_svg(graph, lambda node: f"/ui/runs/{node.node_id}")
    document = xml.dom.minidom.parseString(svg)
    assert not document.getElementsByTagName("script")
    assert not document.getElementsByTagName("img")
    texts = [t.firstChild.data for t in document.getElementsByTagName("text") if t.firstChild]
    assert any(SCRIPT[:25] in text for text in texts)
    assert any(text.startswith(IMG[:20]) for text in texts)  # clipped to fit the box
    titles = [t.firstChild.data for t in document.getElementsByTagName("title")]
    assert any(f"/data/{IMG}.csv" in title for title in titles)  # in full in the tooltip
    groups = document.getElementsByTagName("g")
    classes = {g.getAttribute("data-id"): g.getAttribute("class") for g in groups}
    assert "stale" in classes["r-clean"].split()
    assert {"flagged", "root"} <= set(classes["file:xxh3_128:out"].split())
    assert "kind-model" in classes["model:xxh3_128:m1"].split()


def test_dot_and_mermaid_exports_quote_hostile_names() -> None:
    graph = graph_model.from_answer(pipeline_answer())
    dot = graph_export.to_dot(graph)
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    assert '\\"><img' in dot  # the quote is escaped inside the DOT string
    assert '"r-fit" -> "model:xxh3_128:m1";' in dot
    mermaid = graph_export.to_mermaid(graph)
    assert mermaid.startswith("flowchart LR")
    assert "<" not in mermaid and ">" not in mermaid.replace("-->", "")
    assert "#60;script#62;" in mermaid and "#34;#62;#60;img" in mermaid
    assert mermaid.count("-->") == len(graph.edges)
