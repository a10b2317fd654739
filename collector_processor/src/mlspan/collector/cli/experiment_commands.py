"""``mlspan experiment [NAME]``: A/B/n experiments of a running collector and their verdicts.

Reads the collector's query API (``--api``, default ``$MLSPAN_API`` or
http://127.0.0.1:4319). Without a name: one block per experiment with its verdict lines
(``v4 better than v3 on accuracy: +1.8 pts [0.6, 3.0], decided after 12,400
outcomes``, or ``not yet decided``) and a warning when its split is off its design.
With a name: the arms (predictions, outcomes, metric with its interval), the
comparisons with the control (difference, always-valid interval, always-valid p-value
after Holm's correction, the fixed-horizon test beside it, sample sizes), the split
check and the verdict. ``--json`` prints the API's JSON. Exits 1 when the collector
cannot be asked or has no such experiment.

Only the standard library and the API client are imported: the statistics ran in the
collector.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.parse
from collections.abc import Mapping
from typing import Any

from mlspan.collector.cli.drift_commands import API_ENV, DEFAULT_API, get_api_json

NO_EXPERIMENTS = (
    "no experiments: declare one in the collector config (processors.experiments) or with"
    " POST /api/v1/experiments (see docs/experiments.md)"
)


def register(subparsers: Any) -> None:
    """Add the ``experiment`` subcommand."""
    parser = subparsers.add_parser(
        "experiment",
        help="A/B/n experiments: per-arm metrics, comparisons and verdicts",
        description="Without NAME, every experiment's verdict; with NAME, its arms,"
        " comparisons with the control, sample sizes and split check.",
    )
    parser.add_argument("name", nargs="?", help="experiment name (default: every experiment)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    parser.add_argument(
        "--api",
        default=os.environ.get(API_ENV, DEFAULT_API),
        help=f"query API base URL (default ${API_ENV} or {DEFAULT_API})",
    )
    parser.set_defaults(func=run_experiment)


def run_experiment(args: argparse.Namespace) -> int:
    """Print the experiments' results; 1 when the collector cannot be asked."""
    if args.name:
        path = "/api/v1/experiments/" + urllib.parse.quote(args.name, safe="")
    else:
        path = "/api/v1/experiments"
    body = get_api_json(args.api, path, {})
    if body is None:
        return 1
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    if args.name:
        print(render_detail(body))
        return 0
    experiments: list[Mapping[str, Any]] = body.get("experiments", [])
    if not experiments:
        print(NO_EXPERIMENTS)
        return 0
    print("\n\n".join(render_summary(experiment) for experiment in experiments))
    return 0


def render_summary(experiment: Mapping[str, Any]) -> str:
    """An experiment's header, verdict lines and split warning."""
    lines = [_header(experiment)]
    lines += [f"  {line}" for line in experiment.get("verdict", [])]
    warning = srm_warning(experiment)
    if warning:
        lines.append(f"  {warning}")
    return "\n".join(lines)


def render_detail(experiment: Mapping[str, Any]) -> str:
    """Everything about one experiment."""
    definition = experiment["definition"]
    pts = experiment["metric"] in ("accuracy", "error_rate")
    lines = [
        _header(experiment),
        f"  alpha {definition['alpha']:g} over {max(1, len(experiment['arms']) - 1)}"
        f" comparison(s), minimum detectable effect {_effect(definition, pts)},"
        f" no decision before {definition['min_outcomes_per_arm']:,} outcomes per arm",
        "",
        f"  {'ARM':<16} {'VERSION':<24} {'SHARE':>6} {'PREDICTIONS':>12} {'OUTCOMES':>10}"
        f"  {experiment['metric'].upper()}",
    ]
    control_name = definition.get("control") or experiment["arms"][0]["name"]
    for arm in experiment["arms"]:
        control = " (control)" if arm["name"] == control_name else ""
        version = arm["version"] or "-"
        lines.append(
            f"  {arm['name'] + control:<16} {version[:24]:<24} {arm['expected_share']:>6.0%}"
            f" {arm['assigned']:>12,} {arm['outcomes']:>10,}"
            f"  {_value(arm['value'], pts)} [{_value(arm['low'], pts)}, {_value(arm['high'], pts)}]"
        )
    lines += [
        "",
        f"  {'CHALLENGER':<16} {'DIFF (PTS)' if pts else 'DIFFERENCE':>11}"
        f" {'ALWAYS-VALID INTERVAL':>24} {'P (HOLM)':>9}"
        f" {'FIXED P':>9} {'NEEDED':>9}  STATUS",
    ]
    for comparison in experiment["comparisons"]:
        fixed = comparison.get("fixed") or {}
        interval = (
            f"[{_value(comparison['low'], pts, True)}, {_value(comparison['high'], pts, True)}]"
        )
        needed = comparison.get("sequential_sample_size")
        lines.append(
            f"  {comparison['arm']:<16} {_value(comparison['difference'], pts, True):>11}"
            f" {interval:>24} {_p(comparison['p_adjusted']):>9} {_p(fixed.get('p_adjusted')):>9}"
            f" {_count(needed):>9}  {comparison['status']}"
        )
    lines += [
        "",
        "  NEEDED: challenger outcomes at which the always-valid interval would decide the"
        " minimum detectable effect; FIXED P: the fixed-horizon test, valid only once at its"
        " planned sample size.",
    ]
    warning = srm_warning(experiment)
    srm = experiment["srm"]
    if warning:
        lines.append(f"  {warning}")
    elif srm.get("p_value") is not None:
        lines.append(
            f"  split of {srm['unit']} matches its design (chi-square p = {srm['p_value']:.3g})"
        )
    lines += ["", *(f"  {line}" for line in experiment.get("verdict", []))]
    return "\n".join(lines)


def srm_warning(experiment: Mapping[str, Any]) -> str:
    """The sample-ratio-mismatch warning, or empty."""
    srm = experiment.get("srm") or {}
    if not srm.get("mismatch"):
        return ""
    arms = [arm["name"] for arm in experiment.get("arms", [])]
    observed = ", ".join(f"{a} {n:,}" for a, n in zip(arms, srm["observed"], strict=False))
    designed = ", ".join(f"{a} {s:.0%}" for a, s in zip(arms, srm["expected_shares"], strict=False))
    return (
        f"WARNING sample ratio mismatch: {srm['unit']} split {observed}, designed {designed}"
        f" (chi-square p = {srm['p_value']:.2g}); the assignment or its logging is broken,"
        " do not trust the comparisons"
    )


def _header(experiment: Mapping[str, Any]) -> str:
    state = "decided" if experiment.get("decided") else "running"
    return (
        f"experiment {experiment['name']} ({experiment['origin']}): {experiment['metric']},"
        f" {len(experiment['arms'])} arms, {experiment['outcomes']:,} outcomes, {state}"
    )


def _value(value: object, pts: bool, signed: bool = False) -> str:
    if not isinstance(value, int | float):
        return "-"
    if pts:
        return f"{value * 100:+.1f}" if signed else f"{value * 100:.1f}%"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def _effect(definition: Mapping[str, Any], pts: bool) -> str:
    effect = definition["minimum_detectable_effect"]
    if not pts:
        return f"{effect:g}"
    return f"{effect * 100:g} pt" + ("" if effect == 0.01 else "s")


def _p(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, int | float) else "-"


def _count(value: object) -> str:
    return f"{round(value):,}" if isinstance(value, int | float) else "-"
