"""The workload corpus in CI: every program, quick, plain and instrumented through the runner.

``bench/workloads/run.py --quick --check-only`` starts a real ``mlspan collector`` and
runs each program of the corpus once plain and once under ``opentelemetry-instrument``
(through the span-counting launcher). For every program the output must be identical,
every span created must have reached the collector (and every ML span be a stored run
of its service), and its lineage answers must be free of loops and of other services'
runs. A probe program shows that the runner notices a changed output and lost spans.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.launcher import clean_environment

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "bench" / "workloads" / "run.py"
PROGRAMS = (
    "search_pipeline_digits",
    "feature_union_search",
    "column_transformer",
    "classifier_comparison",
    "cross_validate_loop",
    "pandas_etl",
    "online_predicts",
)

PROBE = """\
import os
import sys

from opentelemetry import trace

tracer = trace.get_tracer("probe")
for step in range(10):
    with tracer.start_as_current_span(f"step {step}"):
        pass
print("tracing:", type(trace.get_tracer_provider()).__name__ != "ProxyTracerProvider")
sys.stdout.flush()
os._exit(0)  # before the SDK's exit hook exports the batch
"""


@dataclass(frozen=True)
class Report:
    completed: subprocess.CompletedProcess[str]
    figures: dict[str, Any]

    def program(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.figures["programs"][name]
        return found

    @property
    def log(self) -> str:
        return self.completed.stdout[-6000:] + self.completed.stderr[-3000:]


def run_runner(folder: Path, *arguments: str, timeout: float) -> Report:
    report = folder / "report.json"
    environment = clean_environment()
    completed = subprocess.run(
        [sys.executable, str(RUNNER), "--check-only", "--json", str(report), *arguments],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert report.is_file(), completed.stdout + completed.stderr
    return Report(completed, json.loads(report.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Report:
    folder = tmp_path_factory.mktemp("workloads")
    return run_runner(folder, "--quick", "--work-dir", str(folder / "work"), timeout=280)


def test_the_runner_ran_every_program_once_each_way(corpus: Report) -> None:
    assert list(corpus.figures["programs"]) == list(PROGRAMS), corpus.log
    assert corpus.figures["collector_exit_status"] == 0, corpus.log
    for name in PROGRAMS:
        figures = corpus.program(name)
        assert len(figures["reference"]["wall_s"]) == 1
        assert len(figures["counted"]["wall_s"]) == 1
        assert figures["plain"]["wall_s"] == [] and figures["wall_ratio"] is None


@pytest.mark.parametrize("name", PROGRAMS)
def test_output_is_identical_instrumented(corpus: Report, name: str) -> None:
    output = corpus.program(name)["output"]
    assert output["problems"] == [], "\n".join(output["problems"])
    assert output["identical"]


@pytest.mark.parametrize("name", PROGRAMS)
def test_every_span_reaches_the_collector(corpus: Report, name: str) -> None:
    delivery = corpus.program(name)["delivery"]
    assert delivery["spans_created"] > 0, delivery  # the instrumented side really traced
    assert delivery["spans_received"] == delivery["spans_created"], delivery
    assert delivery["ml_spans"] > 0
    assert delivery["runs_missing"] == 0 and delivery["runs_unexpected"] == 0, delivery
    assert delivery["runs_stored"] == delivery["ml_spans"]
    assert delivery["complete"], delivery


@pytest.mark.parametrize("name", PROGRAMS)
def test_lineage_has_no_loops_and_no_other_service(corpus: Report, name: str) -> None:
    lineage = corpus.program(name)["lineage"]
    assert lineage["queries"] > 0 and lineage["roots"] > 0, lineage
    assert lineage["errors"] == [], lineage["errors"]
    assert lineage["loops"] == [], lineage["loops"][:2]
    assert lineage["foreign_runs"] == {}, lineage["foreign_examples"]
    assert lineage["foreign_staleness"] == [], lineage["foreign_staleness"][:2]


def test_the_runner_exit_status_says_all_checks_passed(corpus: Report) -> None:
    assert corpus.figures["summary"]["programs_failed"] == [], corpus.log
    assert corpus.completed.returncode == 0, corpus.log
    assert "all checks passed" in corpus.completed.stdout


def test_the_runner_reports_a_changed_output_and_lost_spans(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    report = run_runner(tmp_path, "--program", str(probe), timeout=120)

    assert report.completed.returncode == 1, report.log
    figures = report.program("probe")
    assert not figures["output"]["identical"]
    assert any("tracing: True" in problem for problem in figures["output"]["problems"])
    delivery = figures["delivery"]
    assert delivery["spans_created"] == 10 and delivery["spans_received"] == 0, delivery
    assert not delivery["complete"]
    assert report.figures["summary"]["programs_failed"] == ["probe"]
    assert "10 spans created, 0 received by the collector" in report.completed.stdout
