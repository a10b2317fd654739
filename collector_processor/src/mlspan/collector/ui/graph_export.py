"""Lineage graphs as SVG (the UI's drawing and its export), Graphviz DOT and Mermaid.

Every string that came from a span (component, file and model names, ids) is escaped
for the target syntax: XML entities in SVG, quoted and backslash-escaped DOT strings,
and Mermaid labels in quotes with its entity codes. Only the standard library is
imported, so ``mlspan trace --format dot|mermaid`` stays quick.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape
from typing import Final

from mlspan.collector.ui.graph_layout import NODE_HEIGHT, NODE_WIDTH, Layout, layout
from mlspan.collector.ui.graph_model import MAX_LABEL, RUN, LineageGraph, Node

Link = Callable[[Node], str]
"""The URL a node's drawing links to ("" for none)."""

SVG_STYLE: Final = """
.node rect{stroke-width:1.5}
.run rect{fill:#e8f0fe;stroke:#3367d6}
.artifact rect{fill:#f1f8e9;stroke:#689f38}
.artifact.kind-model rect{fill:#fff8e1;stroke:#f9a825}
.artifact.kind-data rect{fill:#f5f5f5;stroke:#9e9e9e;stroke-dasharray:4 3}
.node.stale rect{stroke:#ef6c00;stroke-width:3;stroke-dasharray:6 3}
.node.flagged rect{fill:#ffebee;stroke:#c62828;stroke-width:3}
.node.failed rect{stroke:#c62828}
.node.root rect{stroke-width:3.5}
.node text{font:12px sans-serif;fill:#212121}
.node text.detail{font-size:10px;fill:#616161}
.node text.mark{font-size:10px;font-weight:bold;fill:#c62828}
.node.stale text.mark{fill:#ef6c00}
.edge{fill:none;stroke:#757575;stroke-width:1.3}
"""


def _clip(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _classes(node: Node) -> str:
    names = ["node", node.kind]
    if node.kind != RUN:
        names.append(f"kind-{re.sub(r'[^a-z0-9-]', '', node.artifact_kind.lower()) or 'other'}")
    names += [flag for flag in ("stale", "flagged", "failed", "root") if getattr(node, flag)]
    return " ".join(names)


def _mark(node: Node) -> str:
    marks = [m for m, on in (("FLAGGED", node.flagged), ("STALE", node.stale)) if on]
    if node.failed:
        marks.append("FAILED")
    return " ".join(marks)


def to_svg(graph: LineageGraph, link: Link | None = None, drawn: Layout | None = None) -> str:
    """The graph as a standalone SVG document (links on nodes when ``link`` is given)."""
    placed = drawn or layout(list(graph.nodes), graph.edges)
    width, height = max(placed.width, 120.0), max(placed.height, 60.0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="lineage graph">',
        f"<style>{SVG_STYLE}</style>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" '
        'fill="#757575"/></marker></defs>',
    ]
    for source, target, points in placed.routes:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(
            f'<polyline class="edge" points="{path}" marker-end="url(#arrow)" '
            f'data-from="{escape(source)}" data-to="{escape(target)}"/>'
        )
    for node_id, (x, y) in placed.positions.items():
        node = graph.nodes[node_id]
        href = link(node) if link is not None else ""
        radius = 6 if node.kind == RUN else 18
        body = [
            f'<g class="{_classes(node)}" data-id="{escape(node_id)}" '
            f'transform="translate({x:.1f},{y:.1f})">',
            f"<title>{escape(node.title)}</title>",
            f'<rect width="{NODE_WIDTH:.0f}" height="{NODE_HEIGHT:.0f}" rx="{radius}"/>',
            f'<text class="label" x="10" y="19">{escape(_clip(node.label))}</text>',
            f'<text class="detail" x="10" y="35">{escape(_clip(node.detail, 36))}</text>',
        ]
        mark = _mark(node)
        if mark:
            body.append(
                f'<text class="mark" x="{NODE_WIDTH - 6:.0f}" y="12" '
                f'text-anchor="end">{escape(mark)}</text>'
            )
        body.append("</g>")
        element = "".join(body)
        if href:
            element = f'<a href="{escape(href)}">{element}</a>'
        out.append(element)
    out.append("</svg>")
    return "\n".join(out)


def _dot_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def to_dot(graph: LineageGraph) -> str:
    """The graph in Graphviz DOT: runs as boxes, artifacts as ellipses (notes for files)."""
    lines = [
        "digraph lineage {",
        "  rankdir=LR;",
        '  node [fontname="sans-serif", fontsize=11];',
    ]
    for node_id, node in graph.nodes.items():
        label_text = _dot_string(node.label + (f"\n{node.detail}" if node.detail else ""))
        attributes = [f"label={label_text}", f"tooltip={_dot_string(node.title)}"]
        fill = "#ffebee" if node.flagged else "#e8f0fe" if node.kind == RUN else "#f1f8e9"
        if node.kind == RUN:
            attributes += ["shape=box", 'style="rounded,filled"']
        else:
            shape = {"file": "note", "model": "component"}.get(node.artifact_kind, "ellipse")
            style = "dashed,filled" if node.artifact_kind == "data" else "filled"
            attributes += [f"shape={shape}", f'style="{style}"']
        attributes.append(f'fillcolor="{fill}"')
        if node.flagged:
            attributes += ['color="#c62828"', "penwidth=3"]
        elif node.stale:
            attributes += ['color="#ef6c00"', "penwidth=3"]
        if node.root:
            attributes.append("peripheries=2")
        lines.append(f"  {_dot_string(node_id)} [{', '.join(attributes)}];")
    for source, target in graph.edges:
        lines.append(f"  {_dot_string(source)} -> {_dot_string(target)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    """Mermaid label text in double quotes: its entity codes for quote and markup."""
    out = []
    for char in text:
        if char in '"<>&#`\\' or ord(char) < 32:
            out.append(f"#{ord(char)};")
        else:
            out.append(char)
    return "".join(out)


def to_mermaid(graph: LineageGraph) -> str:
    """The graph as a Mermaid flowchart (left to right); ids are replaced by n0, n1..."""
    ids = {node_id: f"n{number}" for number, node_id in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for node_id, node in graph.nodes.items():
        text = _mermaid_text(node.label + (f" · {node.detail}" if node.detail else ""))
        opening, closing = ("[", "]") if node.kind == RUN else ("([", "])")
        lines.append(f'  {ids[node_id]}{opening}"{text}"{closing}')
    for source, target in graph.edges:
        lines.append(f"  {ids[source]} --> {ids[target]}")
    styled = {
        "run": [ids[k] for k, n in graph.nodes.items() if n.kind == RUN],
        "artifact": [ids[k] for k, n in graph.nodes.items() if n.kind != RUN],
        "stale": [ids[k] for k, n in graph.nodes.items() if n.stale],
        "flagged": [ids[k] for k, n in graph.nodes.items() if n.flagged],
    }
    lines += [
        "  classDef run fill:#e8f0fe,stroke:#3367d6",
        "  classDef artifact fill:#f1f8e9,stroke:#689f38",
        "  classDef stale stroke:#ef6c00,stroke-width:3px",
        "  classDef flagged fill:#ffebee,stroke:#c62828,stroke-width:3px",
    ]
    for name, members in styled.items():
        if members:
            lines.append(f"  class {','.join(members)} {name}")
    return "\n".join(lines) + "\n"
