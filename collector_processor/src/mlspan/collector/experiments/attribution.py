"""Which arm of an experiment an outcome or a routed prediction belongs to.

An experiment declared by model version takes the outcomes and predictions of the
version each arm resolved to; one declared by arm name takes those whose
``mlspan.experiment.arm`` names one of its arms (and whose ``mlspan.experiment.name``,
when set, names the experiment). ``service``, ``start`` and ``end`` of the declaration
narrow both: an outcome counts when its prediction window overlaps [start, end), a
prediction when it was made in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mlspan.collector.experiments.config import ExperimentConfig
from mlspan.collector.experiments.extract import Assignment, Outcome
from mlspan.collector.experiments.metrics import METRICS, outcome_sums
from mlspan.collector.experiments.state import ArmTotals, ExperimentRecord


def arm_of(
    config: ExperimentConfig,
    resolved: dict[str, str],
    service: str,
    version: str | None,
    arm: str | None,
    experiment: str | None,
) -> str | None:
    """The arm a span belongs to, or None."""
    if config.service and service != config.service:
        return None
    if config.by_version:
        if not version:
            return None
        for name, digest in resolved.items():
            if digest == version:
                return name
        return None
    if arm is None or (experiment is not None and experiment != config.name):
        return None
    return arm if any(a.name == arm for a in config.arms) else None


def attribute(
    record: ExperimentRecord, outcomes: Sequence[Outcome], assignments: Sequence[Assignment]
) -> tuple[ExperimentRecord, bool]:
    """``record`` with the batch's outcomes and predictions added, and whether outcomes
    were added (a look is due)."""
    config = record.config
    spec = METRICS[config.metric]
    arms = dict(record.arms)
    refused = record.refused
    added = False
    for outcome in outcomes:
        if outcome.end <= config.start or (config.end and outcome.start >= config.end):
            continue
        name = arm_of(
            config,
            record.resolved,
            outcome.service,
            outcome.version,
            outcome.arm,
            outcome.experiment,
        )
        if name is None:
            continue
        sums = outcome_sums(spec, outcome.summary)
        if sums is None:
            refused += 1
            continue
        if sums[0] <= 0:
            continue
        arms[name] = arms.get(name, ArmTotals()).add_outcomes(*sums)
        added = True
    for assignment in assignments:
        if assignment.time < config.start or (config.end and assignment.time >= config.end):
            continue
        name = arm_of(
            config,
            record.resolved,
            assignment.service,
            assignment.version,
            assignment.arm,
            assignment.experiment,
        )
        if name is None or assignment.rows <= 0:
            continue
        arms[name] = arms.get(name, ArmTotals()).add_assigned(assignment.rows)
    if arms == record.arms and refused == record.refused:
        return record, False
    return replace(record, arms=arms, refused=refused), added
