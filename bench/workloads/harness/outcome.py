"""One program's outcome: its runs, the output comparison, delivery, lineage and ratios."""

from __future__ import annotations

import difflib
import statistics
from dataclasses import dataclass, field
from typing import Any

from harness.delivery import Delivery
from harness.execution import Mode, RunResult
from harness.lineage import LineageCheck

DIFF_LINES = 12


def output_problems(reference: RunResult, runs: list[RunResult]) -> list[str]:
    """Failed runs, and runs whose stdout differs from the reference (first plain) run."""
    problems = []
    numbers: dict[Mode, int] = {}
    for run in [reference, *runs]:
        numbers[run.mode] = numbers.get(run.mode, 0) + 1
        label = f"{run.mode.value} run {numbers[run.mode]}"
        if run.timed_out:
            problems.append(f"{label} timed out")
        elif run.returncode != 0:
            problems.append(f"{label} exited with {run.returncode}:\n{run.stderr_tail()}")
        elif run is not reference and run.stdout != reference.stdout:
            diff = difflib.unified_diff(
                reference.stdout.splitlines(),
                run.stdout.splitlines(),
                "plain run 1",
                label,
                lineterm="",
                n=0,
            )
            excerpt = "\n".join(list(diff)[:DIFF_LINES])
            problems.append(f"{label}: output differs from plain run 1\n{excerpt}")
    return problems


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


@dataclass
class ProgramOutcome:
    """Everything the runner measured and checked for one program."""

    name: str
    reference: RunResult
    plain: list[RunResult] = field(default_factory=list)
    instrumented: list[RunResult] = field(default_factory=list)
    counted: RunResult | None = None
    delivery: Delivery = field(default_factory=Delivery)
    runs: dict[str, Any] = field(default_factory=dict)
    """Runs the delivery round stored, by run id (the lineage check's starting points)."""
    lineage: LineageCheck = field(default_factory=LineageCheck)

    def output_problems(self) -> list[str]:
        counted = [self.counted] if self.counted else []
        return output_problems(self.reference, [*self.plain, *self.instrumented, *counted])

    def wall(self, mode: Mode) -> float | None:
        runs = self.plain if mode is Mode.PLAIN else self.instrumented
        return _median([run.wall_s for run in runs])

    def cpu(self, mode: Mode) -> float | None:
        runs = self.plain if mode is Mode.PLAIN else self.instrumented
        return _median([run.cpu_s for run in runs])

    @property
    def wall_ratio(self) -> float | None:
        return _ratio(self.wall(Mode.INSTRUMENTED), self.wall(Mode.PLAIN))

    @property
    def cpu_ratio(self) -> float | None:
        return _ratio(self.cpu(Mode.INSTRUMENTED), self.cpu(Mode.PLAIN))

    def problems(self) -> list[str]:
        return [*self.output_problems(), *self.delivery.problems(), *self.lineage.problems()]

    def as_json(self) -> dict[str, Any]:
        def figures(runs: list[RunResult]) -> dict[str, list[float]]:
            return {
                "wall_s": [round(run.wall_s, 3) for run in runs],
                "cpu_s": [round(run.cpu_s, 3) for run in runs],
            }

        output = self.output_problems()
        return {
            "plain": figures(self.plain),
            "instrumented": figures(self.instrumented),
            "counted": figures([self.counted] if self.counted else []),
            "reference": figures([self.reference]),
            "wall_ratio": self.wall_ratio,
            "cpu_ratio": self.cpu_ratio,
            "output": {"identical": not output, "problems": output},
            "delivery": self.delivery.as_json(),
            "lineage": self.lineage.as_json(),
            "problems": self.problems(),
            "ok": not self.problems(),
        }
