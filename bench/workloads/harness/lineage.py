"""Lineage sanity of a program's runs, through the collector's query API.

For the runs a program's delivery round stored, the user's own calls are the runs
without a stored parent. For the last few of them (and the first one), the runner asks
``show`` for their outputs, then ``trace`` for each output and for the run itself, and
``impact`` for the first run. Every answer must be

* free of loops: the answer lists each run and artifact once, with data-flow edges
  between them; an artifact or run reachable from itself along the edges is a loop
  (e.g. training labels "produced" by the fit's own child);
* within the program's service: no run of another service in the graph, and no
  staleness warning pointing at another service's newer run.
"""

from __future__ import annotations

import urllib.error
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.collector import CollectorProcess, api_error, reference_path

LAST_ROOTS = 6
"""The user's calls whose outputs are traced, newest first (plus the first call)."""
MAX_TRACES = 16
"""Trace queries per program at most."""
EXAMPLES = 3


@dataclass
class LineageCheck:
    """What the lineage queries of one program found."""

    queries: int = 0
    roots: int = 0
    loops: list[list[str]] = field(default_factory=list)
    foreign_runs: dict[str, int] = field(default_factory=dict)
    """Runs of other services in this program's answers, by service."""
    foreign_examples: list[str] = field(default_factory=list)
    foreign_staleness: list[str] = field(default_factory=list)
    largest_trace: int = 0
    """Most runs in one trace answer."""
    errors: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.loops or self.foreign_runs or self.foreign_staleness or self.errors)

    def problems(self) -> list[str]:
        found = [f"loop in {loop[0]}: {' -> '.join(loop[1:])}" for loop in self.loops[:EXAMPLES]]
        if len(self.loops) > EXAMPLES:
            found.append(f"... {len(self.loops)} answers with loops in all")
        if self.foreign_runs:
            found.append(
                f"runs of other services in its lineage: {self.foreign_runs} "
                f"(e.g. {'; '.join(self.foreign_examples)})"
            )
        found += [f"staleness across services: {s}" for s in self.foreign_staleness[:EXAMPLES]]
        found += [f"query failed: {error}" for error in self.errors[:EXAMPLES]]
        return found

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"clean": self.clean}


def find_loop(answer: dict[str, Any]) -> list[str]:
    """One cycle along the answer's edges (node ids, first repeated at the end), or []."""
    following: dict[str, list[str]] = {}
    for edge in answer.get("edges", []):
        following.setdefault(edge["from"], []).append(edge["to"])
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for start in following:
        if state.get(start):
            continue
        path = [start]
        branches = [iter(following.get(start, []))]
        state[start] = 1
        while branches:
            node = next(branches[-1], None)
            if node is None:
                state[path.pop()] = 2
                branches.pop()
            elif state.get(node) == 1:
                return [*path[path.index(node) :], node]
            elif not state.get(node):
                state[node] = 1
                path.append(node)
                branches.append(iter(following.get(node, [])))
    return []


def roots_of(runs: dict[str, Any]) -> list[dict[str, Any]]:
    """Runs whose parent is not among ``runs`` (the user's own calls), oldest first."""
    roots = [run for run in runs.values() if run.get("parent_id") not in runs]
    return sorted(roots, key=lambda run: (run["start_ns"], run["run_id"]))


class _Checker:
    def __init__(self, collector: CollectorProcess, service: str) -> None:
        self.collector = collector
        self.service = service
        self.check = LineageCheck()
        self._services: dict[str, str] = {}

    def query(self, path: str) -> dict[str, Any] | None:
        self.check.queries += 1
        try:
            answer: dict[str, Any] = self.collector.get(path)
        except (OSError, urllib.error.URLError, ValueError) as exc:
            self.check.errors.append(f"{path}: {api_error(exc)}")
            return None
        return answer

    def service_of(self, run_id: str) -> str:
        if run_id not in self._services:
            shown = self.query(f"/api/v1/runs/{reference_path(run_id)}")
            self._services[run_id] = shown["run"]["service"] if shown else self.service
        return self._services[run_id]

    def inspect(self, what: str, answer: dict[str, Any]) -> None:
        loop = find_loop(answer)
        if loop:
            names = {
                run["run_id"]: f"run '{run['name']}' {run['run_id']}" for run in answer["runs"]
            }
            self.check.loops.append([what, *(names.get(node, node) for node in loop)])
        runs = answer.get("runs", [])
        self.check.largest_trace = max(self.check.largest_trace, len(runs))
        for run in runs:
            self._services[run["run_id"]] = run["service"]
            if run["service"] != self.service:
                other = run["service"]
                self.check.foreign_runs[other] = self.check.foreign_runs.get(other, 0) + 1
                if len(self.check.foreign_examples) < EXAMPLES:
                    self.check.foreign_examples.append(f"{what}: '{run['name']}' of {other}")
        self.staleness(what, answer.get("warnings", []))

    def staleness(self, what: str, warnings: list[dict[str, Any]]) -> None:
        for warning in warnings:
            newer = warning.get("newer_run_id")
            if newer and self.service_of(newer) != self.service:
                self.check.foreign_staleness.append(
                    f"{what}: {warning.get('message', '')} (newer run of {self.service_of(newer)})"
                )


def check_lineage(collector: CollectorProcess, service: str, runs: dict[str, Any]) -> LineageCheck:
    """Trace the outputs of ``service``'s last calls (and its first); see the module doc."""
    checker = _Checker(collector, service)
    roots = roots_of(runs)
    checker.check.roots = len(roots)
    if not roots:
        return checker.check
    chosen = list(reversed(roots[-LAST_ROOTS:]))
    if roots[0] not in chosen:
        chosen.append(roots[0])
    traced: set[str] = set()
    for run in chosen:
        label = f"{run['name']} {run['run_id']}"
        shown = checker.query(f"/api/v1/runs/{reference_path(run['run_id'])}")
        if shown is None:
            continue
        checker.staleness(f"show {label}", shown.get("warnings", []))
        references = [run["run_id"]] + [output["artifact_id"] for output in shown["outputs"]]
        for reference in references:
            if reference in traced or len(traced) >= MAX_TRACES:
                continue
            traced.add(reference)
            answer = checker.query(f"/api/v1/trace/{reference_path(reference)}")
            if answer is not None:
                checker.inspect(f"trace {reference} (from {label})", answer)
    first = roots[0]
    answer = checker.query(f"/api/v1/impact/{reference_path(first['run_id'])}")
    if answer is not None:
        checker.inspect(f"impact {first['name']} {first['run_id']}", answer)
    return checker.check
