"""Peer suites in CI: scikit-learn's and pandas' own tests keep their outcomes instrumented.

The CI subset runs ``sklearn.tests.test_pipeline`` and pandas' ``to_csv`` tests through
``bench/peer_suites.py`` (the runner ``make peer-bench`` uses on the full list): once
plain, once with ``pytest --mlspan`` exporting to a real ``mlspan collector``. Every
outcome must match test by test, and the collector must have received spans from each
module (so the instrumented side really was instrumented). A second run shows that the
runner notices a difference and names the test.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "bench" / "peer_suites.py"
CI_MODULES = ("sklearn.tests.test_pipeline", "pandas.tests.io.formats.test_to_csv")

PROBE_TESTS = """\
import sys


def test_unaffected():
    pass


def test_sees_the_instrumentation():
    assert "mlspan.instrumentation.sklearn" not in sys.modules
"""


def run_runner(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run the peer-suite runner with one round and return its JSON report."""
    report_path = tmp_path / "report.json"
    completed = subprocess.run(
        [sys.executable, str(RUNNER), "--rounds", "1", "--json", str(report_path), *args],
        cwd=tmp_path,
        env=os.environ | (env or {}),
        capture_output=True,
        text=True,
        timeout=270,
        check=False,
    )
    assert report_path.is_file(), completed.stdout + completed.stderr
    report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    return completed, report


@pytest.mark.slow
def test_ci_subset_keeps_every_outcome_and_exports_spans(tmp_path: Path) -> None:
    completed, report = run_runner(tmp_path, "--modules", *CI_MODULES)

    differing = [d for module in report["modules"] for d in module["differing"]]
    assert differing == [], completed.stdout
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert [m["module"] for m in report["modules"]] == list(CI_MODULES)
    for module in report["modules"]:
        assert module["identical"]
        assert module["tests"] > 100
        assert module["plain_outcomes"].get("passed", 0) > 100
        assert module["spans_per_run"] > 0, f"{module['module']}: no spans reached the collector"
        assert min(module["cpu_ratio"], module["cpu_ratio_of_minima"], module["wall_ratio"]) > 0
    assert {package: figures["identical"] for package, figures in report["packages"].items()} == {
        "sklearn": True,
        "pandas": True,
    }
    assert report["spans_received"] == sum(m["spans_per_run"] for m in report["modules"])
    assert report["requests_rejected"] == 0
    assert "DIFFERS" not in completed.stdout


@pytest.mark.slow
def test_runner_names_a_test_whose_outcome_differs(tmp_path: Path) -> None:
    package = tmp_path / "peerprobe"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "test_probe.py").write_text(PROBE_TESTS, encoding="utf-8")

    completed, report = run_runner(
        tmp_path, "--modules", "peerprobe.test_probe", env={"PYTHONPATH": str(tmp_path)}
    )

    assert completed.returncode == 1, completed.stdout + completed.stderr
    (module,) = report["modules"]
    assert not module["identical"] and not report["identical"]
    assert [(d["plain"], d["instrumented"]) for d in module["differing"]] == [
        (["passed"], ["failed"])
    ]
    assert module["differing"][0]["nodeid"].endswith("test_probe.py::test_sees_the_instrumentation")
    assert "DIFFERS" in completed.stdout


@pytest.fixture
def peer_suites(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(RUNNER.parent))
    return importlib.import_module("peer_suites")


def test_compare_tells_differences_from_instability(peer_suites: ModuleType) -> None:
    def run(**outcomes: str) -> Any:
        return peer_suites.Run(1.0, 1.0, outcomes)

    plain = [run(a="passed", b="passed", c="failed"), run(a="passed", b="failed", c="failed")]
    instrumented = [run(a="failed", b="passed", c="failed"), run(a="passed", b="passed")]

    differing, unstable = peer_suites.compare(plain, instrumented)

    assert differing == [
        {"nodeid": "a", "plain": ["passed"], "instrumented": ["failed", "passed"]},
        {"nodeid": "c", "plain": ["failed"], "instrumented": ["absent", "failed"]},
    ]
    assert unstable == ["b"]
