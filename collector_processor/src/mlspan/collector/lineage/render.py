"""Text renderings of lineage query answers for the terminal: trees and tables.

Each function takes the JSON the query API returns, so the CLI prints exactly what a
script would receive with ``--json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

_BRANCH = ("├── ", "│   ")
_LAST = ("└── ", "    ")


def when(ns: int) -> str:
    """Nanoseconds since the epoch as a UTC timestamp."""
    if not ns:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def duration(ms: float) -> str:
    """A duration for people."""
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def run_line(run: Mapping[str, Any]) -> str:
    """One line describing a run."""
    model = f" model={run['model_version']}" if run.get("model_version") else ""
    status = "" if run["status"] != "error" else " ERROR"
    return (
        f"run {run['run_id']}  {run['component']} [{run['operation'] or '-'}]  "
        f"{run['service']}  {when(run['start_ns'])}  {duration(run['duration_ms'])}"
        f"{status}{model}"
    )


def artifact_line(artifact: Mapping[str, Any]) -> str:
    """One line describing an artifact."""
    names = f"  ({', '.join(artifact['names'])})" if artifact.get("names") else ""
    flagged = "  [FLAGGED]" if artifact.get("flagged") else ""
    return f"{artifact['artifact_id']}{names}{flagged}"


def graph_tree(result: Mapping[str, Any], downstream: bool) -> str:
    """A trace or impact answer as a tree from the root; repeated nodes are referenced."""
    runs = {r["run_id"]: r for r in result["runs"]}
    artifacts = {a["artifact_id"]: a for a in result["artifacts"]}
    children: dict[str, list[str]] = {}
    for edge in result["edges"]:
        # upstream: a node's children are where its data came from; downstream: where it went
        parent, child = (edge["from"], edge["to"]) if downstream else (edge["to"], edge["from"])
        children.setdefault(parent, []).append(child)
    root = result["root"]
    root_id = root["run"]["run_id"] if "run" in root else root["artifact"]["artifact_id"]
    lines: list[str] = []
    shown: set[str] = set()

    def label(node: str) -> str:
        if node in runs:
            return run_line(runs[node])
        if node in artifacts:
            return artifact_line(artifacts[node])
        return node

    def visit(node: str, prefix: str, marks: tuple[str, str] | None) -> None:
        head = prefix + (marks[0] if marks else "")
        if node in shown and children.get(node):
            lines.append(f"{head}{label(node)}  (see above)")
            return
        shown.add(node)
        lines.append(head + label(node))
        below = children.get(node, [])
        inner = prefix + (marks[1] if marks else "")
        for index, child in enumerate(below):
            visit(child, inner, _LAST if index == len(below) - 1 else _BRANCH)

    visit(root_id, "", None)
    if root.get("alternatives"):
        lines.append(f"(also known by this name: {', '.join(root['alternatives'])})")
    if result.get("truncated"):
        lines.append("(truncated: raise --depth to see more)")
    lines.extend(warning_lines(result.get("warnings", [])))
    return "\n".join(lines)


def warning_lines(warnings: Sequence[Mapping[str, Any]]) -> list[str]:
    """Staleness warnings, one per line."""
    return [f"warning: {w['message']}" for w in warnings]


def table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns sized to their widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def runs_table(runs: Sequence[Mapping[str, Any]], counts: Sequence[int] | None = None) -> str:
    """Runs as a table; ``counts`` adds review's FLAGGED column first."""
    header = ["RUN", "STARTED", "COMPONENT", "OPERATION", "SERVICE", "STATUS", "DURATION"]
    rows = [(["FLAGGED", *header] if counts is not None else header)]
    for index, run in enumerate(runs):
        row = [
            run["run_id"],
            when(run["start_ns"]),
            run["component"],
            run["operation"] or "-",
            run["service"] or "-",
            run["status"],
            duration(run["duration_ms"]),
        ]
        rows.append([str(counts[index]), *row] if counts is not None else row)
    return table(rows)


def show_text(result: Mapping[str, Any]) -> str:
    """A run's details, inputs, outputs, family, tags, notes and warnings."""
    run = result["run"]
    fields = [
        ("run", run["run_id"]),
        ("component", run["component"]),
        ("name", run["name"]),
        ("operation", run["operation"] or "-"),
        ("service", run["service"] or "-"),
        ("trace", run["trace_id"]),
        ("started", when(run["start_ns"])),
        ("duration", duration(run["duration_ms"])),
        ("status", run["status"] + (f": {run['status_message']}" if run["status_message"] else "")),
        ("code", " ".join(x for x in (run["code_commit"], run["code_digest"]) if x) or "-"),
    ]
    if run["model_version"] or run["model_class"]:
        model = " ".join(x for x in (run["model_class"], run["model_name"]) if x)
        fields.append(("model", f"{model} {run['model_version']}".strip()))
    if run["params"] is not None:
        fields.append(("params", str(run["params"])))
    if result["tags"] or result["component_tags"]:
        fields.append(("tags", ", ".join([*result["tags"], *result["component_tags"]])))
    lines = [f"{key:<10} {value}" for key, value in fields]
    for title, key, linked, arrow in (
        ("inputs", "inputs", "produced_by", "<-"),
        ("outputs", "outputs", "consumed_by", "->"),
    ):
        lines.append(f"{title}:" if result[key] else f"{title}: none")
        for artifact in result[key]:
            via = artifact.get(linked) or []
            suffix = f"  {arrow} run {', '.join(via)}" if via else ""
            text = artifact_line(artifact) if "kind" in artifact else artifact["artifact_id"]
            lines.append(f"  {text}{suffix}")
    if result["parent"]:
        lines.append(f"parent: {run_line(result['parent'])}")
    for child in result["children"]:
        lines.append(f"child:  {run_line(child)}")
    for note in result["notes"]:
        lines.append(f"note ({when(note['created_ns'])}): {note['text']}")
    lines.extend(warning_lines(result["warnings"]))
    return "\n".join(lines)
