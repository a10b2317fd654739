"""Running one workload program, plain or under ``opentelemetry-instrument``.

Both sides get the same environment apart from the OpenTelemetry settings: the
runner's own environment without ``OTEL_*`` and ``MLSPAN_WORKLOAD_*`` variables, the
same thread settings, and a fresh output folder per run. Wall time is measured around
the child process; CPU time is the child's rusage (user + system, its reaped children
such as joblib workers included).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Final

WORKLOADS: Final = Path(__file__).resolve().parent.parent
COUNT_SPANS: Final = WORKLOADS / "count_spans.py"
OUTPUT_DIR_ENV: Final = "MLSPAN_WORKLOAD_OUTPUT_DIR"
COUNTS_ENV: Final = "MLSPAN_WORKLOAD_SPAN_COUNTS"
THREAD_VARIABLES: Final = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class Mode(str, Enum):
    """How a program is run."""

    PLAIN = "plain"
    INSTRUMENTED = "instrumented"
    COUNTED = "counted"
    """Instrumented through the span-counting launcher (the delivery round)."""


@dataclass(frozen=True)
class RunResult:
    """One run of one program."""

    mode: Mode
    wall_s: float
    cpu_s: float
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False

    def stderr_tail(self, lines: int = 15) -> str:
        return "\n".join(self.stderr.splitlines()[-lines:])


def base_environment(threads: int | None) -> dict[str, str]:
    """The runner's environment without OpenTelemetry or workload settings of its own."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "MLSPAN_WORKLOAD_"))
    }
    if threads is not None:
        environment.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
    return environment


def instrumented_environment(
    base: dict[str, str], service: str, otlp_endpoint: str
) -> dict[str, str]:
    """``opentelemetry-instrument`` defaults, pointed at the runner's collector."""
    return base | {
        "OTEL_SERVICE_NAME": service,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }


def opentelemetry_instrument() -> str:
    launcher = Path(sys.executable).parent / "opentelemetry-instrument"
    if not launcher.exists():
        raise SystemExit(f"{launcher} not found: install opentelemetry-instrumentation")
    return str(launcher)


def command(mode: Mode, program: Path, arguments: list[str]) -> list[str]:
    """The command line of one run."""
    if mode is Mode.PLAIN:
        return [sys.executable, str(program), *arguments]
    if mode is Mode.INSTRUMENTED:
        return [opentelemetry_instrument(), sys.executable, str(program), *arguments]
    return [opentelemetry_instrument(), sys.executable, str(COUNT_SPANS), str(program), *arguments]


def run_program(
    mode: Mode,
    program: Path,
    arguments: list[str],
    environment: dict[str, str],
    folder: Path,
    timeout_s: float,
) -> RunResult:
    """Run ``program`` once in ``folder`` (its working and output folder) and measure it."""
    folder.mkdir(parents=True, exist_ok=True)
    environment = environment | {OUTPUT_DIR_ENV: str(folder / "output")}
    stdout_path, stderr_path = folder / "stdout.txt", folder / "stderr.txt"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    timed_out = False
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(
            command(mode, program, arguments),
            stdout=stdout,
            stderr=stderr,
            env=environment,
            cwd=folder,
            start_new_session=True,  # its own process group: a timeout stops its workers too
        )
        try:
            returncode = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)
            returncode = process.wait()
        wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return RunResult(
        mode,
        wall,
        cpu,
        returncode,
        stdout_path.read_text(encoding="utf-8", errors="replace"),
        stderr_path.read_text(encoding="utf-8", errors="replace"),
        timed_out,
    )
