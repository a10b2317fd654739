"""JSON-ready views of runs and artifacts, and how a user's reference finds them.

A reference is what people type: a run id, an artifact id, a file path or name an
artifact was known by (``mlspan.dataset.source``), or a unique prefix of an id.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Final

from mlspan.collector.store import Artifact, RunRecord, Store

MIN_PREFIX: Final = 4
"""Shortest id prefix accepted, so a stray character does not match everything."""


class UnknownReferenceError(LookupError):
    """Nothing matches the reference; the message says what was tried."""


class AmbiguousReferenceError(ValueError):
    """An id prefix matches several runs or artifacts; the message lists some."""


@dataclass(frozen=True)
class Resolved:
    """What a reference points at: exactly one of ``run`` and ``artifact``."""

    run: RunRecord | None = None
    artifact: Artifact | None = None
    matched_by: str = "id"
    """``id``, ``name`` or ``prefix``."""
    alternatives: tuple[str, ...] = ()
    """Other artifacts known by the same name, most recent first."""


def resolve(store: Store, reference: str) -> Resolved:
    """Find the run or artifact ``reference`` means (see the module docstring)."""
    reference = reference.strip()
    if not reference:
        raise UnknownReferenceError("empty reference")
    runs = store.runs([reference])
    if reference in runs:
        return Resolved(run=runs[reference])
    artifacts = store.artifacts([reference])
    if reference in artifacts:
        return Resolved(artifact=artifacts[reference])
    named = store.artifacts_named(reference)
    if named:
        others = tuple(a.artifact_id for a in named[1:])
        return Resolved(artifact=named[0], matched_by="name", alternatives=others)
    if len(reference) >= MIN_PREFIX:
        run_ids, artifact_ids = store.ids_with_prefix(reference, 6)
        found = [*run_ids, *artifact_ids]
        if len(found) == 1:
            if run_ids:
                return Resolved(run=store.runs(run_ids)[run_ids[0]], matched_by="prefix")
            return Resolved(
                artifact=store.artifacts(artifact_ids)[artifact_ids[0]], matched_by="prefix"
            )
        if found:
            shown = ", ".join(found[:5])
            raise AmbiguousReferenceError(
                f"'{reference}' matches several ids ({shown}{', ...' if len(found) > 5 else ''}); "
                "give more characters"
            )
    raise UnknownReferenceError(
        f"no run or artifact matches '{reference}' (tried run id, artifact id, "
        "file path or name, and id prefix)"
    )


def resolve_run(store: Store, reference: str) -> RunRecord:
    """Like ``resolve`` but the reference must name a run."""
    found = resolve(store, reference)
    if found.run is None:
        raise UnknownReferenceError(f"'{reference}' is an artifact, not a run")
    return found.run


def resolve_artifact(store: Store, reference: str) -> Resolved:
    """Like ``resolve`` but the reference must name an artifact."""
    found = resolve(store, reference)
    if found.artifact is None:
        raise UnknownReferenceError(f"'{reference}' is a run, not an artifact")
    return found


def _params(text: str) -> Any:
    """Stored hyperparameter JSON as a value strict JSON can carry: the text itself when
    it is not JSON or nests too deep to parse, and the strings ``"NaN"``/``"Infinity"``
    for non-finite numbers (runs stored before values were clamped on receipt)."""
    try:
        value = json.loads(text, parse_constant=str, parse_float=_finite_float)
    except (ValueError, RecursionError):
        return text
    try:
        json.dumps(value, allow_nan=False)
    except (ValueError, RecursionError):
        return text
    return value


def _finite_float(literal: str) -> float | str:
    value = float(literal)
    return value if math.isfinite(value) else ("Infinity" if value > 0 else "-Infinity")


def run_view(run: RunRecord) -> dict[str, Any]:
    """A run as JSON."""
    params: Any = run.params
    if run.params:
        params = _params(run.params)  # not JSON, too deep or non-finite: see _params
    return {
        "run_id": run.run_id,
        "trace_id": run.trace_id,
        "parent_id": run.parent_id,
        "service": run.service,
        "name": run.name,
        "operation": run.operation,
        "component": run.component,
        "start_ns": run.start_ns,
        "end_ns": run.end_ns,
        "duration_ms": max(0, run.end_ns - run.start_ns) / 1e6,
        "status": run.status,
        "status_message": run.status_message,
        "code_commit": run.code_commit,
        "code_digest": run.code_digest,
        "params": params or None,
        "model_class": run.model_class,
        "model_name": run.model_name,
        "model_version": run.model_version,
    }


def artifact_view(artifact: Artifact) -> dict[str, Any]:
    """An artifact as JSON."""
    return {
        "artifact_id": artifact.artifact_id,
        "kind": artifact.kind,
        "names": list(artifact.names),
        "flagged": artifact.flagged,
    }


def resolved_view(found: Resolved) -> dict[str, Any]:
    """What a reference resolved to, as JSON."""
    view: dict[str, Any] = {"matched_by": found.matched_by}
    if found.run is not None:
        view["run"] = run_view(found.run)
    if found.artifact is not None:
        view["artifact"] = artifact_view(found.artifact)
    if found.alternatives:
        view["alternatives"] = list(found.alternatives)
    return view
