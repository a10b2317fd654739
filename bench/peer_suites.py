"""Peer suites: scikit-learn's and pandas' own shipped test modules, plain and instrumented.

Each round runs every module twice, plain and with ``pytest --mlspan`` exporting over
OTLP/gRPC to a real ``mlspan collector`` started here (loopback, free ports, a temporary
data folder), alternating which side goes first. Every pytest is its own subprocess
with ``-p no:cacheprovider -q`` and one BLAS/OpenMP thread on both sides; its CPU time
(user + system, from ``os.wait4``: the process and the children it waited for) and wall
time are measured. The report gives, per module and overall: whether the outcomes are
the same test by test (differing node ids are listed), the CPU and wall ratios
instrumented/plain (medians over rounds, and the CPU ratio of each side's fastest runs,
steadier on a shared machine) and the spans the collector received
(``mlspan_spans_received_total``). The exit status is 1 when any outcome differs.

Each library's tests run under its own pytest configuration: pandas' ``pyproject.toml``
shipped in the wheel (every warning an error, strict xfail; data files absent from the
wheel skip, network and database tests deselected), and scikit-learn's options with
``SKLEARN_WARNINGS_AS_ERRORS=1`` as in its CI (pytest's own removal warnings ignored:
scikit-learn's filters would otherwise fail collection under pytest 9).

Run: .venv/bin/python bench/peer_suites.py [--modules M ...] [--rounds 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from peer_processes import (
    PeerSuiteError,
    Run,
    child_environment,
    pytest_args,
    run_pytest,
    running_collector,
)

MODULES: Final = (
    "sklearn.tests.test_pipeline",
    "sklearn.compose.tests.test_column_transformer",
    "sklearn.model_selection.tests.test_search",
    "sklearn.model_selection.tests.test_validation",
    "sklearn.preprocessing.tests.test_encoders",
    "sklearn.ensemble.tests.test_forest",
    "sklearn.linear_model.tests.test_logistic",
    "sklearn.tests.test_calibration",
    "pandas.tests.io.formats.test_to_csv",
    "pandas.tests.io.parser.test_na_values",
    "pandas.tests.io.json.test_pandas",
    "pandas.tests.io.test_parquet",
)
"""The full list: scikit-learn modules heavy in fits, searches and meta-estimators, and
pandas IO modules (CSV, JSON, Parquet reads and writes)."""

REPO: Final = Path(__file__).resolve().parent.parent


@dataclass
class ModuleRuns:
    """The plain and instrumented runs of one module over the rounds."""

    module: str
    plain: list[Run] = field(default_factory=list)
    instrumented: list[Run] = field(default_factory=list)


def run_rounds(
    modules: Sequence[str], rounds: int, folder: Path, keyword: str | None = None
) -> tuple[list[ModuleRuns], dict[str, float]]:
    """Run every module plain and instrumented per round; return the runs and the
    collector's final counters."""
    env = child_environment()
    results = [ModuleRuns(module) for module in modules]
    with running_collector(folder / "collector") as collector:
        instrumented_flags = ["--mlspan", f"--mlspan-endpoint={collector.grpc_endpoint}"]
        for round_index in range(rounds):
            for position, runs in enumerate(results):
                base = folder / f"round{round_index}" / runs.module
                base.mkdir(parents=True)
                args, extra_env = pytest_args(runs.module, base, keyword)
                first_plain = (round_index + position) % 2 == 0
                for side in ("plain", "instrumented") if first_plain else ("instrumented", "plain"):
                    if side == "plain":
                        run = run_pytest(args, env | extra_env, base / side)
                        runs.plain.append(run)
                    else:
                        service = {"OTEL_SERVICE_NAME": f"peer-{runs.module}"}
                        before = collector.spans_received()
                        run = run_pytest(
                            [*args, *instrumented_flags], env | extra_env | service, base / side
                        )
                        run = Run(
                            run.cpu_s, run.wall_s, run.outcomes, collector.spans_received() - before
                        )
                        runs.instrumented.append(run)
                    print(
                        f"round {round_index + 1}/{rounds} {runs.module} {side}: "
                        f"CPU {run.cpu_s:.1f} s, wall {run.wall_s:.1f} s, "
                        f"{len(run.outcomes)} tests, {run.spans} spans",
                        file=sys.stderr,
                        flush=True,
                    )
        counters = collector.counters()
    return results, counters


def compare(
    plain: Sequence[Run], instrumented: Sequence[Run]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Differences test by test, and node ids whose plain outcome itself varied.

    A test differs when an instrumented run gave an outcome no plain run gave (a test
    missing from a run counts as the outcome ``absent``). A test whose plain runs
    disagree among themselves and whose instrumented outcomes are among them is
    unstable, not different.
    """
    nodeids = sorted({n for run in [*plain, *instrumented] for n in run.outcomes})
    differing: list[dict[str, Any]] = []
    unstable: list[str] = []
    for nodeid in nodeids:
        seen_plain = {run.outcomes.get(nodeid, "absent") for run in plain}
        seen_instrumented = {run.outcomes.get(nodeid, "absent") for run in instrumented}
        if not seen_instrumented <= seen_plain:
            differing.append(
                {
                    "nodeid": nodeid,
                    "plain": sorted(seen_plain),
                    "instrumented": sorted(seen_instrumented),
                }
            )
        elif seen_instrumented != seen_plain:
            unstable.append(nodeid)
    return differing, unstable


def summarize(
    results: Sequence[ModuleRuns], counters: dict[str, float], commit: str
) -> dict[str, Any]:
    """The report as a JSON-ready document (see the module docstring).

    Besides each module and the overall figures, ``packages`` gives the ratios of each
    library's modules together (the overhead goal is stated for scikit-learn's).
    """
    modules: list[dict[str, Any]] = []
    for runs in results:
        differing, unstable = compare(runs.plain, runs.instrumented)
        counts: dict[str, int] = {}
        for outcome in runs.plain[0].outcomes.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        modules.append(
            {
                "module": runs.module,
                "tests": len(runs.plain[0].outcomes),
                "plain_outcomes": dict(sorted(counts.items())),
                "identical": not differing,
                "differing": differing,
                "unstable": unstable,
                **figures([runs]),
                "spans_per_run": int(statistics.median(r.spans for r in runs.instrumented)),
            }
        )
    packages: dict[str, dict[str, Any]] = {}
    for package in dict.fromkeys(_package(runs.module) for runs in results):
        members = [m for m in modules if _package(m["module"]) == package]
        packages[package] = {
            "identical": all(m["identical"] for m in members),
            "tests": sum(m["tests"] for m in members),
            **figures([runs for runs in results if _package(runs.module) == package]),
        }
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "rounds": len(results[0].plain) if results else 0,
        "modules": modules,
        "packages": packages,
        "identical": all(m["identical"] for m in modules),
        "tests": sum(m["tests"] for m in modules),
        **figures(results),
        "spans_received": int(counters.get("mlspan_spans_received_total", 0.0)),
        "requests_rejected": int(counters.get("mlspan_requests_rejected_total", 0.0)),
        "spans_dropped": int(counters.get("mlspan_spans_dropped_total", 0.0)),
    }


def figures(group: Sequence[ModuleRuns]) -> dict[str, float]:
    """CPU and wall figures of a group of modules run together in each round.

    ``cpu_ratio`` and ``wall_ratio`` are medians over rounds of the paired ratios of
    the group's totals; ``cpu_ratio_of_minima`` divides the sums of each module's
    fastest instrumented and fastest plain run. On a shared machine other work only
    adds time, so the minima are the steadier estimate when rounds disagree.
    """
    rounds = range(len(group[0].plain))
    plain = [sum(runs.plain[i].cpu_s for runs in group) for i in rounds]
    instrumented = [sum(runs.instrumented[i].cpu_s for runs in group) for i in rounds]
    plain_wall = [sum(runs.plain[i].wall_s for runs in group) for i in rounds]
    instrumented_wall = [sum(runs.instrumented[i].wall_s for runs in group) for i in rounds]
    fastest_plain = sum(min(r.cpu_s for r in runs.plain) for runs in group)
    fastest_instrumented = sum(min(r.cpu_s for r in runs.instrumented) for runs in group)
    return {
        "cpu_plain_s": float(statistics.median(plain)),
        "cpu_instrumented_s": float(statistics.median(instrumented)),
        "cpu_ratio": _median_ratio(plain, instrumented),
        "cpu_ratio_of_minima": fastest_instrumented / fastest_plain,
        "wall_ratio": _median_ratio(plain_wall, instrumented_wall),
    }


def _package(module: str) -> str:
    return module.partition(".")[0]


def _median_ratio(plain: Sequence[float], instrumented: Sequence[float]) -> float:
    """Median over rounds of instrumented / plain (rounds paired in order)."""
    return float(statistics.median(i / p for p, i in zip(plain, instrumented, strict=True)))


def _commit() -> str:
    """The repository's HEAD, with ``+dirty`` when the working tree has changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def format_report(report: dict[str, Any]) -> str:
    """The report as a table, then the differing node ids."""
    lines = [
        f"{'module':<46} {'tests':>5} {'same':>4} {'CPU plain':>9} {'CPU ratio':>9} "
        f"{'(minima)':>8} {'wall ratio':>10} {'spans/run':>9}  plain outcomes"
    ]
    rows = [(m["module"], m, f"{m['spans_per_run']:>9,}") for m in report["modules"]]
    rows.append(("overall", report, f"{report['spans_received']:>9,}  (total received)"))
    rows += [(f"overall {name}", p, "") for name, p in report["packages"].items()]
    for name, row, tail in rows:
        outcomes = ", ".join(f"{n} {k}" for k, n in row.get("plain_outcomes", {}).items())
        line = (
            f"{name:<46} {row['tests']:>5} {'yes' if row['identical'] else 'NO':>4} "
            f"{row['cpu_plain_s']:>7.1f} s {row['cpu_ratio']:>9.3f} "
            f"{row['cpu_ratio_of_minima']:>8.3f} {row['wall_ratio']:>10.3f} {tail}"
        )
        lines.append(f"{line}  {outcomes}" if outcomes else line.rstrip())
    lines.append(
        f"rounds {report['rounds']}, commit {report['commit']}, {report['date']}; collector: "
        f"{report['requests_rejected']} requests rejected, {report['spans_dropped']} spans dropped"
    )
    for m in report["modules"]:
        for d in m["differing"]:
            lines.append(
                f"DIFFERS {d['nodeid']}: plain {'/'.join(d['plain'])}, "
                f"instrumented {'/'.join(d['instrumented'])}"
            )
        for nodeid in m["unstable"]:
            lines.append(f"unstable in plain runs (not counted): {nodeid}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison; exit status 1 when any outcome differs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--modules", nargs="+", default=list(MODULES), help="dotted test modules")
    parser.add_argument("--rounds", type=int, default=3, help="plain/instrumented pairs (3)")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression (both sides)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (logs)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=False)
        folder = args.keep.resolve()
    else:
        folder = Path(tempfile.mkdtemp(prefix="mlspan-peer-"))
    try:
        started_at = _commit()
        results, counters = run_rounds(args.modules, args.rounds, folder, args.keyword)
        ended_at = _commit()
    except PeerSuiteError as exc:
        print(f"peer suites: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    commit = started_at if started_at == ended_at else f"{started_at} -> {ended_at}"
    report = summarize(results, counters, commit)
    print(format_report(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0 if report["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
