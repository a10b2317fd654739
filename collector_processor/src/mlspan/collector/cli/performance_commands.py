"""``mlspan performance``: model performance from labelled outcomes, from a collector.

Reads ``GET /api/v1/performance`` of the collector's query API (``--api``, default
``$MLSPAN_API`` or http://127.0.0.1:4319) and prints, per model version, its headline
metrics over all windows with its label coverage and validation score, its concept-drift
detector's latest decision (or standing alarm), then one row per
prediction window (``--windows``), or the API's JSON with ``--json``. Beside the realised
accuracy, ``EST.`` is the accuracy estimated from the predicted probabilities of every
prediction (before labels arrive; ``-`` when none were summarised).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Final

from mlspan.collector.cli.drift_commands import API_ENV, DEFAULT_API, get_api_json

CLASSIFIER_COLUMNS: Final = (
    ("accuracy", "ACC"),
    ("f1_macro", "F1"),
    ("roc_auc", "AUC"),
    ("log_loss", "LOGLOSS"),
    ("brier", "BRIER"),
    ("calibration_error", "ECE"),
)
REGRESSOR_COLUMNS: Final = (("mae", "MAE"), ("rmse", "RMSE"), ("r2", "R2"))
NO_RESULTS: Final = (
    "no performance results yet: no labels/evaluate spans have reached the collector"
    " (record outcomes with mlspan.instrumentation.outcomes)"
)


def register(subparsers: Any) -> None:
    """Add the ``performance`` subcommand."""
    parser = subparsers.add_parser(
        "performance",
        help="model performance from labelled outcomes",
        description="Per model version: metrics over its labelled predictions, label"
        " coverage and validation score; with --windows, one row per prediction window.",
    )
    parser.add_argument("--service", help="service name (default: every service)")
    parser.add_argument("--model", help="model name (default: every model)")
    parser.add_argument("--version", help="model version (default: every version)")
    parser.add_argument("--windows", action="store_true", help="one row per prediction window")
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    parser.add_argument(
        "--api",
        default=os.environ.get(API_ENV, DEFAULT_API),
        help=f"query API base URL (default ${API_ENV} or {DEFAULT_API})",
    )
    parser.set_defaults(func=run_performance)


def run_performance(args: argparse.Namespace) -> int:
    """Print the performance results; 1 when the collector cannot be asked."""
    params = {"windows": "true" if args.windows or args.json else "false"}
    for name in ("service", "model", "version"):
        if getattr(args, name):
            params[name] = getattr(args, name)
    body = get_api_json(args.api, "/api/v1/performance", params)
    if body is None:
        return 1
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    results: list[Mapping[str, Any]] = body.get("results", [])
    if not results:
        print(NO_RESULTS)
        return 0
    for result in results:
        print(_render(result, args.windows))
    return 0


def _reference(result: Mapping[str, Any]) -> str | None:
    reference = result.get("reference")
    if not isinstance(reference, Mapping) or result.get("predicted") is None:
        return None
    source = reference.get("source")
    if source == "none":
        calibrated = "probabilities taken as calibrated (no labelled reference yet)"
    else:
        calibrated = f"calibrated on {source} ({reference.get('rows', 0):,} labelled)"
    return f"  estimated from {result['predicted']:,} predictions' probabilities, {calibrated}"


def _render(result: Mapping[str, Any], windows: bool) -> str:
    columns = CLASSIFIER_COLUMNS if result["task"] == "classifier" else REGRESSOR_COLUMNS
    validation = result.get("validation_score")
    lines = [
        f"{result['service']}/{result['model']} version {result['version']}"
        f" ({result['task']}): {result['count']} labelled,"
        f" coverage {_share(result.get('label_coverage'))},"
        f" validation score {_number(validation)}"
    ]
    concept = result.get("concept_drift")
    if isinstance(concept, Mapping):
        alarm = concept.get("alarm")
        shown = alarm if isinstance(alarm, Mapping) else concept["latest"]
        state = "CONCEPT DRIFT" if isinstance(alarm, Mapping) else "no concept drift"
        lines.append(f"  {state}: {shown['insight']}")
    reference = _reference(result)
    if reference is not None:
        lines.append(reference)
    titles = [title for _, title in columns]
    if result["task"] == "classifier":
        titles.insert(1, "EST.")
    header = f"  {'WINDOW':<32} {'LABELLED':>9} {'COVERAGE':>8} " + " ".join(
        f"{title:>8}" for title in titles
    )
    lines.append(header)
    lines.append(_row("all", result, columns))
    if windows:
        for window in result.get("windows", []):
            lines.append(_row(_span(window["start"], window["end"]), window, columns))
    return "\n".join(lines)


def _row(label: str, values: Mapping[str, Any], columns: tuple[tuple[str, str], ...]) -> str:
    metrics = values.get("metrics", {})
    shown = [_number(metrics.get(name)) for name, _ in columns]
    if columns is CLASSIFIER_COLUMNS:
        estimated = values.get("estimated")
        guess = estimated.get("accuracy") if isinstance(estimated, Mapping) else None
        shown.insert(1, _number(guess))
    cells = " ".join(f"{cell:>8}" for cell in shown)
    coverage = _share(values.get("label_coverage"))
    return f"  {label:<32} {values['count']:>9} {coverage:>8} {cells}"


def _span(start: float, end: float) -> str:
    def at(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")

    return f"{at(start)} - {at(end)[11:]}"


def _number(value: object) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.4g}"


def _share(value: object) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.1%}"
