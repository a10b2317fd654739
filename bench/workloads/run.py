"""Run the workload corpus plain and under zero-code instrumentation, and check it.

    .venv/bin/python bench/workloads/run.py [--only NAME] [--rounds 5] [--quick]
        [--check-only] [--threads 1] [--json OUT] [--work-dir DIR] [--program FILE]

The runner starts a real ``mlspan collector`` (loopback, free ports, a data folder of
its own). For each program: one plain warm-up run whose output is the reference, then
``--rounds`` alternating rounds (plain then instrumented, instrumented then plain, ...)
of ``python prog.py`` and ``opentelemetry-instrument python prog.py`` with
``OTEL_SERVICE_NAME=<program>``, the OTLP endpoint of that collector and
``OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none`` (defaults otherwise), and the
same thread settings on both sides; after each instrumented run the runner waits until
the collector is idle, so its ingest work does not land in the next run. Then one
delivery round through ``count_spans.py`` compares the spans created with the spans
the collector received (``harness/delivery.py``). When every program has run, the
lineage of each is checked through the query API (``harness/lineage.py``).

It prints a table (median wall and CPU ratios instrumented/plain; CPU is the program's
own, the collector's is not included) and the problems found; ``--json OUT`` writes the
figures. The exit status is 1 when an output differs or a run fails, a span is missing,
or a lineage check fails; ratios are reported against the goals (median <= 1.10, worst
<= 1.25) but never fail the run. ``--check-only`` skips the timed rounds: one plain and
one (counted) instrumented run per program, as the CI test runs it with ``--quick``.
``--program FILE`` runs that program (service name: its file name) instead of the corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

from harness.collector import CollectorProcess
from harness.delivery import settle
from harness.execution import (
    COUNTS_ENV,
    WORKLOADS,
    Mode,
    RunResult,
    base_environment,
    instrumented_environment,
    run_program,
)
from harness.lineage import check_lineage
from harness.outcome import ProgramOutcome
from harness.report import revision, summary, text

PROGRAMS: Final = (
    "search_pipeline_digits",
    "feature_union_search",
    "column_transformer",
    "classifier_comparison",
    "cross_validate_loop",
    "pandas_etl",
    "online_predicts",
)
QUICK_ENV: Final = "MLSPAN_WORKLOAD_QUICK"


def options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run bench/workloads plain and instrumented; check outputs, delivery, lineage."
    )
    parser.add_argument("--only", action="append", choices=PROGRAMS, help="run this program only")
    parser.add_argument(
        "--program", action="append", type=Path, help="run this file instead of the corpus"
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating timed rounds")
    parser.add_argument(
        "--quick", action="store_true", help=f"programs in quick mode (also ${QUICK_ENV}=1)"
    )
    parser.add_argument(
        "--check-only", action="store_true", help="no timed rounds: one plain, one counted run"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="OMP/OpenBLAS/MKL threads on both sides (0: leave the environment's)",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--work-dir", type=Path, help="keep outputs and logs here")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    args.quick = args.quick or os.environ.get(QUICK_ENV) == "1"
    return args


class Runner:
    """Runs the programs one after another against one collector."""

    def __init__(self, args: argparse.Namespace, folder: Path, collector: CollectorProcess):
        self.args = args
        self.folder = folder
        self.collector = collector
        self.base = base_environment(args.threads or None)

    def run(
        self, program: Path, mode: Mode, label: str, extra: dict[str, str] | None = None
    ) -> RunResult:
        name = program.stem
        environment = self.base
        if mode is not Mode.PLAIN:
            environment = instrumented_environment(self.base, name, self.collector.otlp_endpoint)
        result = run_program(
            mode,
            program,
            ["--quick"] if self.args.quick else [],
            environment | (extra or {}),
            self.folder / "runs" / name / label,
            self.args.timeout,
        )
        if mode is not Mode.PLAIN:
            self.collector.wait_idle()
        print(f"  {label:<16} {result.wall_s:7.2f} s wall {result.cpu_s:7.2f} s CPU", flush=True)
        return result

    def measure(self, program: Path) -> ProgramOutcome:
        name = program.stem
        print(f"{name}:", flush=True)
        outcome = ProgramOutcome(name, self.run(program, Mode.PLAIN, "reference"))
        if not self.args.check_only:
            for index in range(self.args.rounds):
                order = (Mode.PLAIN, Mode.INSTRUMENTED)
                for mode in order if index % 2 == 0 else reversed(order):
                    result = self.run(program, mode, f"{mode.value}-{index + 1}")
                    (outcome.plain if mode is Mode.PLAIN else outcome.instrumented).append(result)
        counts = self.folder / "runs" / name / "counts"
        counts.mkdir(parents=True, exist_ok=True)
        before = self.collector.metrics()
        since_ns = time.time_ns()
        outcome.counted = self.run(program, Mode.COUNTED, "delivery", {COUNTS_ENV: str(counts)})
        outcome.delivery, outcome.runs = settle(self.collector, name, counts, before, since_ns)
        print(
            f"  delivery: {outcome.delivery.spans_created} spans created, "
            f"{outcome.delivery.spans_received} received",
            flush=True,
        )
        return outcome


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    repository = WORKLOADS.parent.parent
    started = revision(repository)
    changed = len(started["uncommitted_library_files"])
    print(f"commit {started['commit']} (+{changed} uncommitted library files)", flush=True)
    programs = [path.resolve() for path in args.program or []] or [
        WORKLOADS / f"{name}.py" for name in PROGRAMS if not args.only or name in args.only
    ]
    with tempfile.TemporaryDirectory(prefix="mlspan-workloads-") as scratch:
        folder = args.work_dir or Path(scratch)
        with CollectorProcess(folder / "collector") as collector:
            runner = Runner(args, folder, collector)
            outcomes = [runner.measure(program) for program in programs]
            for outcome in outcomes:
                outcome.lineage = check_lineage(collector, outcome.name, outcome.runs)
            collector_status = collector.stop()
    figures = summary(outcomes)
    ended = revision(repository)
    print()
    print(text(outcomes, figures))
    if ended != started:
        print(
            f"\nthe tree changed during the run: now at {ended['commit']} "
            f"(+{len(ended['uncommitted_library_files'])} uncommitted library files)"
        )
    if collector_status != 0:
        print(f"\nmlspan collector exited with {collector_status} (log: {folder / 'collector'})")
    if args.json:
        document = {
            "revision": started,
            "revision_at_end": ended,
            "settings": {
                "rounds": 0 if args.check_only else args.rounds,
                "quick": args.quick,
                "threads": args.threads or "environment",
                "python": sys.version.split()[0],
                "cpus": os.cpu_count(),
            },
            "summary": figures,
            "collector_exit_status": collector_status,
            "programs": {outcome.name: outcome.as_json() for outcome in outcomes},
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    failed = bool(figures["programs_failed"]) or collector_status != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
