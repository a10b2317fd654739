"""Experiment rule evaluation: which alert instances an experiment's results make active.

An ``experiment`` rule fires, per experiment, for every challenger the always-valid
test has found significantly worse than the control (label ``arm``, ``reason="worse"``,
with the verdict as insight), and once for the experiment while its traffic split is
off its design (``reason="sample_ratio_mismatch"``: the assignment or its logging is
broken, so no comparison can be trusted). ``models`` of the rule, when set, names the
experiments it watches. Pure functions, as in ``rules``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlspan.collector.alerts.config import AlertRuleConfig, RuleKind
from mlspan.collector.alerts.rules import Candidate

if TYPE_CHECKING:
    from mlspan.collector.experiments.results import ExperimentResult


def experiment_candidates(
    rules: Sequence[AlertRuleConfig], result: ExperimentResult
) -> list[Candidate]:
    """Active instances of the experiment rules for one experiment."""
    found: list[Candidate] = []
    name = result.name
    for rule in rules:
        if rule.kind is not RuleKind.EXPERIMENT or (rule.models and name not in rule.models):
            continue
        for comparison in result.comparisons:
            if comparison.status != "worse":
                continue
            found.append(
                _candidate(
                    rule,
                    name,
                    comparison.arm,
                    "worse",
                    f"experiment {name}: {comparison.arm} worse than {comparison.control}"
                    f" on {result.spec.name}",
                    f"experiment {name}: {comparison.verdict}",
                )
            )
        srm = result.srm
        if srm.mismatch and srm.p_value is not None:
            arms = [arm.name for arm in result.arms]
            observed = ", ".join(f"{a} {n:,}" for a, n in zip(arms, srm.observed, strict=True))
            designed = ", ".join(
                f"{a} {s:.0%}" for a, s in zip(arms, srm.expected_shares, strict=True)
            )
            found.append(
                _candidate(
                    rule,
                    name,
                    "",
                    "sample_ratio_mismatch",
                    f"experiment {name}: sample ratio mismatch",
                    f"experiment {name}: the split of {srm.unit} ({observed}) is off its"
                    f" design ({designed}): chi-square p = {srm.p_value:.2g}; the assignment"
                    " or its logging is broken, so its comparisons cannot be trusted",
                )
            )
    return found


def _candidate(
    rule: AlertRuleConfig,
    experiment: str,
    arm: str,
    reason: str,
    summary: str,
    insight: str,
) -> Candidate:
    labels = {
        "alertname": rule.name,
        "severity": rule.severity,
        "experiment": experiment,
        "reason": reason,
    }
    if arm:
        labels["arm"] = arm
    annotations = {"summary": summary, "insight": insight}
    if rule.description:
        annotations["description"] = rule.description
    return Candidate(rule, labels, annotations, insight)
