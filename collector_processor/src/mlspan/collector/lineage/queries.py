"""Lineage queries with mltrace's semantics where they fit, answered as JSON-ready dicts.

``trace``/``impact`` walk the graph (see ``graph``), ``show`` describes one run with its
inputs, outputs, family, tags, notes and staleness, ``history``/``recent`` list runs,
``flag``/``unflag``/``review`` implement mltrace's triage: rank runs by how many flagged
outputs' traces contain them. Unknown references raise ``UnknownReferenceError``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

from mlspan.collector.lineage import staleness
from mlspan.collector.lineage.graph import DOWNSTREAM, UPSTREAM, Graph, walk
from mlspan.collector.lineage.views import (
    Resolved,
    UnknownReferenceError,
    artifact_view,
    resolve,
    resolve_artifact,
    resolve_run,
    resolved_view,
    run_view,
)
from mlspan.collector.store import INPUT, OUTPUT, TARGET_KINDS, RunRecord, Store

DEFAULT_STALE_DAYS: Final = 30.0


class LineageQueries:
    """Every lineage query over one store."""

    def __init__(
        self,
        store: Store,
        stale_after_days: float = DEFAULT_STALE_DAYS,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._store = store
        self._stale_ns = int(stale_after_days * staleness.NS_PER_DAY)
        self._clock = clock

    @property
    def store(self) -> Store:
        """The store queried."""
        return self._store

    def _threshold(self, stale_after_days: float | None) -> int:
        if stale_after_days is None:
            return self._stale_ns
        return int(stale_after_days * staleness.NS_PER_DAY)

    # -- graph queries ---------------------------------------------------------------
    def trace(
        self,
        reference: str,
        max_depth: int | None = None,
        stale_after_days: float | None = None,
    ) -> dict[str, Any]:
        """The upstream DAG of a run or artifact, with staleness warnings."""
        found = resolve(self._store, reference)
        graph = self._walk(found, UPSTREAM, max_depth)
        result = self._graph_view(found, graph)
        runs = self._store.runs(graph.run_depth)
        reference_run = found.run or _newest(runs, graph, depth=1)
        upstream = [r for r in runs.values() if reference_run is None or r != reference_run]
        result["warnings"] = staleness.warnings(
            self._store, reference_run, upstream, self._threshold(stale_after_days)
        )
        return result

    def impact(self, reference: str, max_depth: int | None = None) -> dict[str, Any]:
        """The downstream DAG of a run or artifact: everything built from it."""
        found = resolve(self._store, reference)
        return self._graph_view(found, self._walk(found, DOWNSTREAM, max_depth))

    def _walk(self, found: Resolved, direction: str, max_depth: int | None) -> Graph:
        if found.run is not None:
            return walk(
                self._store, runs=(found.run.run_id,), direction=direction, max_depth=max_depth
            )
        assert found.artifact is not None
        return walk(
            self._store,
            artifacts=(found.artifact.artifact_id,),
            direction=direction,
            max_depth=max_depth,
        )

    def _graph_view(self, found: Resolved, graph: Graph) -> dict[str, Any]:
        runs = self._store.runs(graph.run_depth)
        artifacts = self._store.artifacts(graph.artifact_depth)
        run_views = []
        for run_id, depth in graph.run_depth.items():
            if run_id in runs:
                run_views.append({**run_view(runs[run_id]), "depth": depth})
        artifact_views = []
        for artifact_id, depth in graph.artifact_depth.items():
            known = artifacts.get(artifact_id)
            view = (
                artifact_view(known)
                if known
                else {"artifact_id": artifact_id, "kind": "other", "names": [], "flagged": False}
            )
            artifact_views.append({**view, "depth": depth})
        return {
            "root": resolved_view(found),
            "runs": run_views,
            "artifacts": artifact_views,
            "edges": [{"from": a, "to": b} for a, b in graph.edges],
            "truncated": graph.truncated,
        }

    # -- runs ------------------------------------------------------------------------
    def show(self, reference: str, stale_after_days: float | None = None) -> dict[str, Any]:
        """One run with its inputs, outputs, parent, children, tags, notes and staleness."""
        run = resolve_run(self._store, reference)
        store = self._store
        inputs = store.run_io([run.run_id], INPUT).get(run.run_id, [])
        outputs = store.run_io([run.run_id], OUTPUT).get(run.run_id, [])
        artifacts = store.artifacts([*inputs, *outputs])
        producers = store.artifact_runs(inputs, OUTPUT)
        consumers = store.artifact_runs(outputs, INPUT)

        def io_view(ids: list[str], linked: dict[str, list[str]], key: str) -> list[Any]:
            views = []
            for artifact_id in ids:
                known = artifacts.get(artifact_id)
                view = artifact_view(known) if known else {"artifact_id": artifact_id}
                others = [r for r in linked.get(artifact_id, []) if r != run.run_id]
                views.append({**view, key: others})
            return views

        parent = store.runs([run.parent_id]).get(run.parent_id) if run.parent_id else None
        graph = walk(store, runs=(run.run_id,), direction=UPSTREAM)
        upstream = [r for r in store.runs(graph.run_depth).values() if r.run_id != run.run_id]
        return {
            "run": run_view(run),
            "inputs": io_view(inputs, producers, "produced_by"),
            "outputs": io_view(outputs, consumers, "consumed_by"),
            "parent": run_view(parent) if parent else None,
            "children": [run_view(child) for child in store.child_runs(run.trace_id, run.run_id)],
            "tags": store.tags("run", [run.run_id]).get(run.run_id, []),
            "component_tags": store.tags("component", [run.component]).get(run.component, []),
            "notes": [_note_view(n) for n in store.notes("run", run.run_id)],
            "warnings": staleness.warnings(store, run, upstream, self._threshold(stale_after_days)),
        }

    def history(
        self,
        component: str,
        limit: int = 20,
        since_ns: int | None = None,
        until_ns: int | None = None,
    ) -> dict[str, Any]:
        """A component's runs, newest first, in an optional time range."""
        known = self._store.component(component)
        if known is None:
            raise UnknownReferenceError(f"no component named '{component}'")
        runs = self._store.component_runs(component, limit, since_ns, until_ns)
        return {
            "component": {
                "name": known.name,
                "owner": known.owner,
                "first_seen_ns": known.first_seen_ns,
                "last_seen_ns": known.last_seen_ns,
                "tags": self._store.tags("component", [component]).get(component, []),
                "notes": [_note_view(n) for n in self._store.notes("component", component)],
            },
            "runs": [run_view(run) for run in runs],
        }

    def recent(
        self, limit: int = 20, cursor: str | None = None, component: str | None = None
    ) -> dict[str, Any]:
        """A page of runs, newest first; pass ``next_cursor`` back for the next page."""
        before = _parse_cursor(cursor) if cursor else None
        runs = self._store.recent_runs(limit, before, component)
        last = runs[-1] if len(runs) == limit else None
        return {
            "runs": [run_view(run) for run in runs],
            "next_cursor": f"{last.start_ns}.{last.run_id}" if last else None,
        }

    # -- triage ----------------------------------------------------------------------
    def flag(self, reference: str, reason: str = "") -> dict[str, Any]:
        """Mark an output as wrong."""
        found = resolve_artifact(self._store, reference)
        assert found.artifact is not None
        self._store.set_flag(found.artifact.artifact_id, True, reason, self._clock())
        return self._artifact_now(found.artifact.artifact_id)

    def unflag(self, reference: str) -> dict[str, Any]:
        """Clear an output's flag."""
        found = resolve_artifact(self._store, reference)
        assert found.artifact is not None
        self._store.set_flag(found.artifact.artifact_id, False, "", self._clock())
        return self._artifact_now(found.artifact.artifact_id)

    def _artifact_now(self, artifact_id: str) -> dict[str, Any]:
        return artifact_view(self._store.artifacts([artifact_id])[artifact_id])

    def flags(self) -> dict[str, Any]:
        """Every flagged output."""
        flags = self._store.flags()
        return {
            "flags": [
                {"artifact_id": f.artifact_id, "reason": f.reason, "flagged_ns": f.flagged_ns}
                for f in flags
            ]
        }

    def review(self, limit: int = 20) -> dict[str, Any]:
        """Runs ranked by how many flagged outputs' upstream traces contain them."""
        flags = self._store.flags()
        counts: Counter[str] = Counter()
        outputs: dict[str, list[str]] = {}
        for flag in flags:
            graph = walk(self._store, artifacts=(flag.artifact_id,), direction=UPSTREAM)
            for run_id in graph.run_depth:
                counts[run_id] += 1
                outputs.setdefault(run_id, []).append(flag.artifact_id)
        runs = self._store.runs(counts)
        ranked = sorted(runs.values(), key=lambda r: (-counts[r.run_id], -r.start_ns, r.run_id))[
            :limit
        ]
        return {
            "flagged": len(flags),
            "runs": [
                {
                    "run": run_view(run),
                    "count": counts[run.run_id],
                    "flagged_outputs": outputs[run.run_id],
                }
                for run in ranked
            ],
        }

    # -- annotations -----------------------------------------------------------------
    def _target(self, kind: str, target: str) -> str:
        if kind not in TARGET_KINDS:
            raise UnknownReferenceError(f"unknown target kind '{kind}'")
        if kind == "run":
            return resolve_run(self._store, target).run_id
        if self._store.component(target) is None:
            raise UnknownReferenceError(f"no component named '{target}'")
        return target

    def tag(self, kind: str, target: str, add: list[str], remove: list[str]) -> dict[str, Any]:
        """Add and remove tags on a component or run; answers the tags now."""
        target_id = self._target(kind, target)
        if add:
            self._store.add_tags(kind, target_id, add)
        if remove:
            self._store.remove_tags(kind, target_id, remove)
        tags = self._store.tags(kind, [target_id]).get(target_id, [])
        return {"kind": kind, "target": target_id, "tags": tags}

    def note(self, kind: str, target: str, text: str) -> dict[str, Any]:
        """Attach a note to a component or run."""
        target_id = self._target(kind, target)
        return _note_view(self._store.add_note(kind, target_id, text, self._clock()))

    def notes(self, kind: str, target: str) -> dict[str, Any]:
        """Notes of a component or run."""
        target_id = self._target(kind, target)
        return {"notes": [_note_view(n) for n in self._store.notes(kind, target_id)]}


class BadCursorError(ValueError):
    """A ``recent`` cursor that this API did not produce."""


def _parse_cursor(cursor: str) -> tuple[int, str]:
    start, sep, run_id = cursor.partition(".")
    try:
        if not sep or not run_id:
            raise ValueError(cursor)
        return int(start), run_id
    except ValueError:
        raise BadCursorError(f"malformed cursor '{cursor}'") from None


def _newest(runs: dict[str, RunRecord], graph: Graph, depth: int) -> RunRecord | None:
    candidates = [runs[r] for r, d in graph.run_depth.items() if d == depth and r in runs]
    return max(candidates, key=lambda r: (r.start_ns, r.run_id), default=None)


def _note_view(note: Any) -> dict[str, Any]:
    return {
        "note_id": note.note_id,
        "kind": note.target_kind,
        "target": note.target_id,
        "text": note.text,
        "created_ns": note.created_ns,
    }
