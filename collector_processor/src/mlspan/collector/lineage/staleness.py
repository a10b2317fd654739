"""Staleness warnings for the runs upstream of a result.

Two reasons make an upstream run stale, as in mltrace and beyond it:

* age: it finished more than ``threshold`` before the run that used its output
  (the reference run) started;
* superseded: its component has run again since, and that newer run is not part of
  this lineage, so the result was built from an older version.

A component is identified by its service and its name: a same-named component of
another service is a different component and never supersedes. A run that failed and
produced nothing supersedes nothing (the store leaves it out of ``latest_runs``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from mlspan.collector.store import RunRecord, Store

NS_PER_DAY: Final = 86_400 * 10**9


def warnings(
    store: Store, reference: RunRecord | None, upstream: Iterable[RunRecord], threshold_ns: int
) -> list[dict[str, Any]]:
    """One warning per stale upstream run and reason, oldest upstream run first."""
    runs = sorted(upstream, key=lambda r: (r.start_ns, r.run_id))
    if not runs:
        return []
    in_lineage = {run.run_id for run in runs}
    if reference is not None:
        in_lineage.add(reference.run_id)
    latest = store.latest_runs((run.service, run.component) for run in runs)
    found: list[dict[str, Any]] = []
    for run in runs:
        if reference is not None and run.run_id != reference.run_id:
            age = reference.start_ns - run.end_ns
            if age > threshold_ns:
                found.append(
                    {
                        "reason": "old",
                        "run_id": run.run_id,
                        "service": run.service,
                        "component": run.component,
                        "age_days": round(age / NS_PER_DAY, 2),
                        "message": (
                            f"{run.component} run {run.run_id} finished "
                            f"{age / NS_PER_DAY:.1f} days before {reference.component} "
                            f"run {reference.run_id} used its output "
                            f"(threshold {threshold_ns / NS_PER_DAY:g} days)"
                        ),
                    }
                )
        newest = latest.get((run.service, run.component))
        if (
            newest is not None
            and newest.run_id not in in_lineage
            and newest.start_ns > run.start_ns
        ):
            found.append(
                {
                    "reason": "superseded",
                    "run_id": run.run_id,
                    "service": run.service,
                    "component": run.component,
                    "newer_run_id": newest.run_id,
                    "message": (
                        f"{run.component} has a newer run {newest.run_id} than run "
                        f"{run.run_id} used here"
                    ),
                }
            )
    return found
