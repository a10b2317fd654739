"""``mlspan alerts``: firing alerts (and with ``--all`` the history) of a running collector."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from mlspan.collector.api.client import (
    API_ENV,
    DEFAULT_API,
    ApiClient,
    ApiError,
    ApiUnreachableError,
)
from mlspan.collector.cli.progress import waiting

_DETAIL_LABELS: Final = ("feature", "metric", "check", "reason")
_VERSION_CHARS: Final = 12
"""Model versions that are content digests are shown by their first hex characters."""


def register(subparsers: Any) -> None:
    """Add the ``alerts`` subcommand."""
    parser = subparsers.add_parser(
        "alerts",
        help="show firing alerts of a running collector",
        description="Firing alerts with their one-line insight; --all adds resolved ones.",
    )
    parser.add_argument("--all", action="store_true", help="include the alert history")
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    parser.add_argument("--model", help="only alerts about this model name")
    parser.add_argument("--service", help="only alerts about models of this service")
    parser.add_argument(
        "--limit", type=int, default=100, help="history episodes to show (default 100)"
    )
    parser.add_argument(
        "--api",
        default=os.environ.get(API_ENV, DEFAULT_API),
        help=f"query API base URL (default ${API_ENV} or {DEFAULT_API})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Fetch ``/api/v1/alerts`` and print it as a table or JSON."""
    client = ApiClient(args.api, timeout=10)
    try:
        params = {
            "history": args.all,
            "limit": args.limit,
            "model": args.model,
            "service": args.service,
        }
        with waiting("mlspan alerts"):
            body = client.request("GET", "/api/v1/alerts", params)
    except (ApiError, ApiUnreachableError) as exc:
        print(f"mlspan alerts: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    alerts: list[Mapping[str, Any]] = list(body.get("firing", []))
    if args.all:
        firing = {(a["fingerprint"], a["startsAt"]) for a in alerts}
        alerts += [
            a for a in body.get("history", []) if (a["fingerprint"], a["startsAt"]) not in firing
        ]
    if not alerts:
        print("no alerts firing" if not args.all else "no alerts")
        return 0
    print(render_table(alerts))
    return 0


def render_table(alerts: Sequence[Mapping[str, Any]]) -> str:
    """One row per alert: status, name, severity, since, what it is about, insight."""
    header = ("STATUS", "ALERT", "SEVERITY", "SINCE", "ABOUT", "INSIGHT")
    rows = [header]
    for alert in alerts:
        about = _about(alert.get("labels", {}))
        rows.append(
            (
                str(alert.get("status", "")),
                str(alert.get("name", "")),
                str(alert.get("severity", "")),
                _short_time(str(alert.get("startsAt", ""))),
                about,
                str(alert.get("insight", "")),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def _about(labels: Mapping[str, str]) -> str:
    """``service/model@version`` then the detail labels, e.g. ``shop/churn@3 feature=age``."""
    parts = []
    if labels.get("model"):
        version = labels.get("version", "").rsplit(":", 1)[-1][:_VERSION_CHARS]
        model = f"{labels['model']}@{version}" if version else labels["model"]
        parts.append(f"{labels['service']}/{model}" if labels.get("service") else model)
    parts += [f"{k}={labels[k]}" for k in _DETAIL_LABELS if labels.get(k)]
    return " ".join(parts)


def _short_time(stamp: str) -> str:
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return moment.strftime("%Y-%m-%d %H:%M:%S")
