"""Layered drawing positions for a DAG: longest-path layers, barycenter ordering.

The Sugiyama scheme in its plainest useful form: every node gets the layer one past its
furthest predecessor (data flows left to right), an edge that spans several layers is
routed through virtual points, one per layer it crosses, and a few down-and-up sweeps
order each layer by the mean position of its neighbours in the layer before (then
after), which removes most crossings of a pipeline's lineage. An edge that would point
backwards (only a cycle makes one; lineage walks return DAGs) is drawn but not used for
layering or ordering. Pure Python, linear in nodes plus edges per sweep.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Final

NODE_WIDTH: Final = 210.0
NODE_HEIGHT: Final = 46.0
GAP_X: Final = 70.0
GAP_Y: Final = 22.0
MARGIN: Final = 12.0
SWEEPS: Final = 4

Point = tuple[float, float]


@dataclass
class Layout:
    """Top-left corner of every node, the points each edge passes, the drawing's size."""

    positions: dict[str, Point] = field(default_factory=dict)
    layers: dict[str, int] = field(default_factory=dict)
    routes: list[tuple[str, str, list[Point]]] = field(default_factory=list)
    """(source, target, points from the source's right side to the target's left side)."""
    width: float = 0.0
    height: float = 0.0


def assign_layers(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering; nodes on a cycle are taken in input order as it breaks."""
    index = {node: i for i, node in enumerate(nodes)}
    preds: dict[str, list[str]] = {node: [] for node in nodes}
    succs: dict[str, list[str]] = {node: [] for node in nodes}
    for source, target in edges:
        if source in index and target in index and source != target:
            preds[target].append(source)
            succs[source].append(target)
    remaining = {node: len(set(preds[node])) for node in nodes}
    layer: dict[str, int] = {}
    ready = deque(node for node in nodes if remaining[node] == 0)
    while len(layer) < len(nodes):
        if not ready:  # a cycle: start from its earliest node
            ready.append(min((n for n in nodes if n not in layer), key=index.__getitem__))
        while ready:
            node = ready.popleft()
            if node in layer:
                continue
            layer[node] = max((layer[p] + 1 for p in preds[node] if p in layer), default=0)
            for succ in dict.fromkeys(succs[node]):
                if succ in layer:
                    continue
                remaining[succ] -= 1
                if remaining[succ] == 0:
                    ready.append(succ)
    return layer


def layout(nodes: Sequence[str], edges: Sequence[tuple[str, str]], sweeps: int = SWEEPS) -> Layout:
    """Positions of ``nodes`` and routes of ``edges`` (see the module docstring)."""
    if not nodes:
        return Layout(width=2 * MARGIN, height=2 * MARGIN)
    layer = assign_layers(nodes, edges)
    depth = max(layer.values()) + 1
    rows: list[list[str]] = [[] for _ in range(depth)]
    for node in nodes:
        rows[layer[node]].append(node)
    # Forward edges become chains through one virtual point per crossed layer.
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    chains: list[tuple[str, str, list[str]]] = []
    backward: list[tuple[str, str]] = []
    for number, (source, target) in enumerate(dict.fromkeys(edges)):
        if source not in layer or target not in layer or source == target:
            continue
        if layer[target] <= layer[source]:
            backward.append((source, target))
            continue
        chain = [source]
        for crossed in range(layer[source] + 1, layer[target]):
            virtual = f"\x00{number}:{crossed}"
            rows[crossed].append(virtual)
            chain.append(virtual)
        chain.append(target)
        for a, b in pairwise(chain):
            down.setdefault(a, []).append(b)
            up.setdefault(b, []).append(a)
        chains.append((source, target, chain))
    _order(rows, up, down, sweeps)
    tallest = max(len(row) for row in rows)
    full = tallest * (NODE_HEIGHT + GAP_Y) - GAP_Y
    result = Layout(layers=dict(layer))
    centres: dict[str, Point] = {}
    for number, row in enumerate(rows):
        x = MARGIN + number * (NODE_WIDTH + GAP_X)
        top = MARGIN + (full - (len(row) * (NODE_HEIGHT + GAP_Y) - GAP_Y)) / 2
        for slot, node in enumerate(row):
            y = top + slot * (NODE_HEIGHT + GAP_Y)
            centres[node] = (x + NODE_WIDTH / 2, y + NODE_HEIGHT / 2)
            if not node.startswith("\x00"):
                result.positions[node] = (x, y)
    half = NODE_WIDTH / 2
    for source, target, chain in chains:
        points = [(centres[source][0] + half, centres[source][1])]
        points += [centres[v] for v in chain[1:-1]]
        points.append((centres[target][0] - half, centres[target][1]))
        result.routes.append((source, target, points))
    for source, target in backward:
        result.routes.append(
            (source, target, [centres[source], (centres[target][0] - half, centres[target][1])])
        )
    result.width = 2 * MARGIN + depth * (NODE_WIDTH + GAP_X) - GAP_X
    result.height = 2 * MARGIN + full
    return result


def _order(
    rows: list[list[str]], up: dict[str, list[str]], down: dict[str, list[str]], sweeps: int
) -> None:
    """Reorder each layer in place by barycenters, sweeping down then up ``sweeps`` times."""
    position: dict[str, float] = {}
    for row in rows:
        position.update({node: float(i) for i, node in enumerate(row)})

    def sort(row: list[str], neighbours: dict[str, list[str]]) -> None:
        def centre(node: str) -> float:
            linked = neighbours.get(node)
            if not linked:
                return position[node]
            return sum(position[n] for n in linked) / len(linked)

        row.sort(key=lambda node: (centre(node), position[node]))
        position.update({node: float(i) for i, node in enumerate(row)})

    for _ in range(sweeps):
        for row in rows[1:]:
            sort(row, up)
        for row in reversed(rows[:-1]):
            sort(row, down)
