"""``mlspan drift`` and ``mlspan validate``: drift and validation results of a collector.

Both read the collector's query API (``--api``, default ``$MLSPAN_API`` or
http://127.0.0.1:4319) and print one row per feature or check with its one-line
insight, or the API's JSON with ``--json``. Each model's header says which window is
shown: a closed one, or the open one evaluated now (while none has closed) with the
time or row count at which it closes. ``mlspan drift --close`` closes the open windows
first, as a batch job does when it ends.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Final

from mlspan.collector.api.client import ApiClient, ApiError, ApiUnreachableError, open_api_url
from mlspan.collector.cli.progress import waiting

DEFAULT_API: Final = "http://127.0.0.1:4319"
API_ENV: Final = "MLSPAN_API"
WINDOWS: Final = ("latest", "current", "history")
TABLE_METRICS: Final = (
    ("wasserstein_sigma", "W/SIGMA"),
    ("js", "JS"),
    ("psi", "PSI"),
    ("ks", "KS"),
)


def register(subparsers: Any) -> None:
    """Add the ``drift`` and ``validate`` subcommands."""
    drift = subparsers.add_parser(
        "drift",
        help="per-feature drift of a running collector",
        description="Per-feature drift metrics, decision and insight for each model.",
    )
    _common(drift)
    drift.add_argument(
        "--close",
        action="store_true",
        help="close the selected models' open windows now and show their results",
    )
    drift.set_defaults(func=run_drift)
    validate = subparsers.add_parser(
        "validate",
        help="data-validation results of a running collector",
        description="Schema checks and summary-metric benchmarks with their insights.",
    )
    _common(validate)
    validate.add_argument("--failed", action="store_true", help="show failed checks only")
    validate.set_defaults(func=run_validate)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--service", help="service name (default: every service)")
    parser.add_argument("--model", help="model name (default: every model)")
    parser.add_argument("--version", help="model version (default: every version)")
    parser.add_argument(
        "--window",
        choices=WINDOWS,
        default="latest",
        help="latest window per model (default: the latest closed one, else the open one"
        " evaluated now), the open window evaluated now, or the history",
    )
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    parser.add_argument(
        "--api",
        default=os.environ.get(API_ENV, DEFAULT_API),
        help=f"query API base URL (default ${API_ENV} or {DEFAULT_API})",
    )


def fetch(args: argparse.Namespace, path: str, extra: Mapping[str, str] | None = None) -> Any:
    """GET ``path`` with the model/version/window filters; None after printing an error."""
    params = {"window": args.window, **(extra or {})}
    if args.service:
        params["service"] = args.service
    if args.model:
        params["model"] = args.model
    if args.version:
        params["version"] = args.version
    return get_api_json(args.api, path, params)


def get_api_json(api: str, path: str, params: Mapping[str, str]) -> Any:
    """GET ``path`` with ``params`` from the query API at ``api``; None after printing
    the API's error message (or why it could not be reached) on stderr."""
    url = f"{api.rstrip('/')}{path}?{urllib.parse.urlencode(params)}"
    try:
        with waiting("mlspan"), open_api_url(url, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        try:
            message = json.load(exc)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {exc.code}"
        finally:
            exc.close()
        print(f"mlspan: {message}", file=sys.stderr)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"mlspan: cannot reach the collector at {api}: {reason}", file=sys.stderr)
    return None


def results_or_exit(
    args: argparse.Namespace, path: str, empty: str, extra: Mapping[str, str] | None = None
) -> list[Mapping[str, Any]] | int:
    """The API's results to render, or the exit code when there is nothing to render
    (unreachable API, ``--json`` printed, or no results)."""
    body = fetch(args, path, extra)
    if body is None:
        return 1
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    results: list[Mapping[str, Any]] = body.get("results", [])
    if not results:
        print(empty)
        return 0
    return results


NO_RESULTS: Final = (
    "no drift results yet: no feature summaries of a scoring call have reached the"
    " collector (its drift connector compares predict-time summaries with the fit's)"
)


def run_drift(args: argparse.Namespace) -> int:
    """Print ``/api/v1/drift`` as one table per model window (``--close``: close the
    open windows first and print what they gave)."""
    if args.close:
        return _close(args)
    results = results_or_exit(args, "/api/v1/drift", NO_RESULTS)
    if isinstance(results, int):
        return results
    print("\n\n".join(render_drift(result) for result in results))
    return 0


def _close(args: argparse.Namespace) -> int:
    client = ApiClient(args.api, timeout=30)
    params = {"service": args.service, "model": args.model, "version": args.version}
    try:
        with waiting("mlspan drift --close"):
            body = client.request("POST", "/api/v1/drift/windows/close", params)
    except (ApiError, ApiUnreachableError) as exc:
        print(f"mlspan: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    results = body.get("results", [])
    if not results:
        print("no open drift window to close")
        return 0
    print("\n\n".join(render_drift(result) for result in results))
    return 0


def render_drift(result: Mapping[str, Any], now: datetime | None = None) -> str:
    """The header lines of one model window and its per-feature table."""
    start = _time(result.get("window_start"))
    end = _time(result.get("window_end"))
    head = (
        f"{result['service']} / {result['model']} {result['version']}  "
        f"{_window_words(result, now)} {start} .. {end}\n"
        f"{result['insight']}"
    )
    header = ("FEATURE", "ORIGIN", "ROWS", *(label for _, label in TABLE_METRICS), "P", "DECISION")
    rows: list[tuple[str, ...]] = [header]
    insights = ["INSIGHT"]
    for feature in result.get("features", []):
        metrics = {m["name"]: m for m in feature.get("metrics", [])}
        p_values = [m["p_value"] for m in metrics.values() if m.get("p_value") is not None]
        rows.append(
            (
                str(feature["feature"]),
                str(feature["origin"]),
                f"{feature['current_count']}/{feature['baseline_count']}",
                *(_metric(metrics.get(name)) for name, _ in TABLE_METRICS),
                f"{min(p_values):.3g}" if p_values else "-",
                "DRIFT" if feature["drifted"] else "ok",
            )
        )
        insights.append(str(feature["insight"]))
    return head + "\n" + table(rows, insights)


def run_validate(args: argparse.Namespace) -> int:
    """Print ``/api/v1/validation`` as a table; exit code 2 when a check failed."""
    empty = "no failed checks" if args.failed else "no validation results"
    failed_only = {"failed_only": str(args.failed).lower()}
    results = results_or_exit(args, "/api/v1/validation", empty, failed_only)
    if isinstance(results, int):
        return results
    rows: list[tuple[str, ...]] = [("MODEL", "FEATURE", "CHECK", "RESULT")]
    insights = ["INSIGHT"]
    for check in results:
        rows.append(
            (
                f"{check['model']} {check['version']}",
                str(check["feature"]) or "-",
                str(check["check"]),
                "pass" if check["passed"] else "FAIL",
            )
        )
        insights.append(str(check["insight"]))
    print(table(rows, insights))
    return 2 if any(not c["passed"] for c in results) else 0


def table(rows: Sequence[tuple[str, ...]], last: Sequence[str]) -> str:
    """Left-aligned columns with a free-width last column."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=True)), tail]).rstrip()
        for row, tail in zip(rows, last, strict=True)
    ]
    return "\n".join(lines)


def _metric(metric: Mapping[str, Any] | None) -> str:
    if metric is None or metric.get("value") is None:
        return "-"
    mark = "*" if metric.get("drifted") else ""
    return f"{metric['value']:.3f}{mark}"


def _window_words(result: Mapping[str, Any], now: datetime | None) -> str:
    """ "closed window", or "open window (evaluated now; closes at ...)"."""
    if result.get("window_state") != "open":
        return "closed window"
    closes_at = result.get("closes_at")
    rows = result.get("closes_after_rows")
    if isinstance(closes_at, (int, float)) and closes_at > 0:
        moment = now or datetime.now(tz=timezone.utc)
        left = max(0, int(closes_at - moment.timestamp()))
        when = f"closes at {_time(closes_at)} (in {left // 60}m {left % 60:02d}s)"
    elif isinstance(rows, int):
        when = f"closes after {rows:,} rows"
    else:
        when = "closes with its time or row limit"
    return f"open window (evaluated now; {when}; `mlspan drift --close` closes it)"


def _time(value: Any) -> str:
    if not isinstance(value, (int, float)) or value <= 0:
        return "-"
    return datetime.fromtimestamp(value, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
