"""Nothing the checks accept can crash the native code: replayed in child processes.

A native crash kills the process it happens in, so each probe runs in its own Python
process (``tests.collector.drift.native_probe``): a crash shows up here as a non-zero
exit with a signal, a test failure, instead of a dead test runner.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.collector.drift.test_kll_format import CRASHERS

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


def _probe(*args: str, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLSPAN_", "OTEL_"))}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "tests.collector.drift.native_probe", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _counts(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        pytest.fail(f"the probe died with {name}: {done.stderr[-2000:]}")
    assert done.returncode == 0, done.stderr[-2000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(counts, dict)
    return counts


def test_the_crashing_blobs_kill_an_unguarded_process() -> None:
    """The control: the same bytes, deserialized without the checks, do crash."""
    deaths = [_probe("unguarded", "--blob", blob, timeout=60).returncode for blob in CRASHERS]
    if not any(code < 0 for code in deaths):
        pytest.skip(f"this datasketches build survived the blobs unguarded: {deaths}")
    assert all(code in (0, 1, -signal.SIGSEGV, -signal.SIGBUS, -signal.SIGABRT) for code in deaths)


def test_the_fuzzers_crash_cases_are_refused_before_native_code() -> None:
    args = ["headers", "--count", "5000", "--seed", "1"]
    for blob in CRASHERS:
        args += ["--blob", blob]
    counts = _counts(_probe(*args))
    assert counts == {"mutants": 5000 + len(CRASHERS), "accepted": 0, "errors": []}


@pytest.mark.parametrize(
    ("what", "count"), [("kll", 4000), ("frequent", 4000), ("summaries", 3000)]
)
def test_accepted_mutants_are_safe_and_exact_in_native_code(what: str, count: int) -> None:
    counts = _counts(_probe(what, "--count", str(count), "--seed", "21"))
    assert counts["errors"] == []
    accepted = counts["accepted"]
    assert isinstance(accepted, int) and 0 < accepted < count
