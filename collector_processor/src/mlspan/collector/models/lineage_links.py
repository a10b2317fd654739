"""What the lineage store knows about a version: the code that fitted it, where its
data came from, and the runs that produced its inputs.

The fit span itself carries no code version: the component around it does, and its
span ends (and arrives) after the fit's. These look-ups therefore walk the lineage
store at query time, never at ingest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from mlspan.collector.store import RunRecord, Store

MAX_PARENTS: Final = 32


@dataclass(frozen=True)
class CodeVersion:
    """The code version of the nearest enclosing run that recorded one."""

    commit: str
    digest: str
    component: str
    run_id: str


def code_version(
    store: Store | None, run_id: str, trace_id: str, parent_id: str
) -> CodeVersion | None:
    """The fit's own run, then its parents, up to the first with a commit or digest."""
    if store is None:
        return None
    wanted = run_id
    for _ in range(MAX_PARENTS):
        if not wanted:
            return None
        run = store.runs([wanted]).get(wanted)
        if run is None:
            if wanted == run_id and parent_id:
                wanted = parent_id
                continue
            return None
        if run.trace_id == trace_id and (run.code_commit or run.code_digest):
            return CodeVersion(run.code_commit, run.code_digest, run.component, run.run_id)
        wanted = run.parent_id
    return None


def names(store: Store | None, artifact_ids: list[str]) -> dict[str, list[str]]:
    """Known paths or names of each artifact (absent ids map to an empty list)."""
    wanted = [a for a in artifact_ids if a]
    if store is None or not wanted:
        return {a: [] for a in wanted}
    found = store.artifacts(wanted)
    return {a: list(found[a].names) if a in found else [] for a in wanted}


def producers(store: Store | None, artifact_id: str) -> list[RunRecord]:
    """The runs that produced ``artifact_id`` (e.g. the read of a training frame)."""
    if store is None or not artifact_id:
        return []
    run_ids = store.artifact_runs([artifact_id], "out").get(artifact_id, [])
    return list(store.runs(run_ids).values())


def run_brief(run: RunRecord) -> dict[str, Any]:
    """A run as the registry's views show it."""
    return {
        "run_id": run.run_id,
        "name": run.name,
        "operation": run.operation,
        "component": run.component,
        "service": run.service,
        "start": run.start_ns / 1e9,
        "code_commit": run.code_commit or None,
        "code_digest": run.code_digest or None,
    }
