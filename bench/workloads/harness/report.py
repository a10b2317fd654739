"""The runner's table, problem list and JSON figures."""

from __future__ import annotations

import statistics
import subprocess
from pathlib import Path
from typing import Any, Final

from harness.execution import Mode
from harness.outcome import ProgramOutcome

GOAL_MEDIAN_WALL: Final = 1.10
GOAL_WORST_WALL: Final = 1.25
LIBRARY_FOLDERS: Final = ("instrumentation", "collector_processor", "semantic_conventions")


def revision(repository: Path) -> dict[str, Any]:
    """The commit checked out, and library files changed in the working tree beyond it.

    Taken at the start and at the end of a run: others may commit or edit meanwhile.
    """

    def git(*arguments: str) -> str:
        try:
            return subprocess.run(
                ["git", *arguments],
                cwd=repository,
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = git("status", "--porcelain", "--", *LIBRARY_FOLDERS).splitlines()
    return {"commit": git("rev-parse", "HEAD").strip(), "uncommitted_library_files": changed}


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(outcomes: list[ProgramOutcome]) -> str:
    header = (
        f"{'program':<24} {'plain s':>8} {'instr s':>8} {'wall x':>7} {'cpu x':>7} "
        f"{'output':<9} {'spans created/received':>22} {'ML spans/runs':>14}  lineage"
    )
    lines = [header, "-" * len(header)]
    for outcome in outcomes:
        delivery = outcome.delivery
        lineage = outcome.lineage
        verdict = "clean" if lineage.clean else "PROBLEMS"
        lines.append(
            f"{outcome.name:<24} {_number(outcome.wall(Mode.PLAIN), 2):>8} "
            f"{_number(outcome.wall(Mode.INSTRUMENTED), 2):>8} "
            f"{_number(outcome.wall_ratio, 3):>7} {_number(outcome.cpu_ratio, 3):>7} "
            f"{'same' if not outcome.output_problems() else 'DIFFERS':<9} "
            f"{f'{delivery.spans_created}/{delivery.spans_received}':>22} "
            f"{f'{delivery.ml_spans}/{delivery.runs_stored}':>14}  "
            f"{verdict} ({lineage.queries} queries, largest trace {lineage.largest_trace} runs)"
        )
    return "\n".join(lines)


def summary(outcomes: list[ProgramOutcome]) -> dict[str, Any]:
    ratios = [o.wall_ratio for o in outcomes if o.wall_ratio is not None]
    cpu = [o.cpu_ratio for o in outcomes if o.cpu_ratio is not None]
    created = sum(o.delivery.spans_created for o in outcomes)
    received = sum(o.delivery.spans_received for o in outcomes)
    return {
        "median_wall_ratio": statistics.median(ratios) if ratios else None,
        "worst_wall_ratio": max(ratios) if ratios else None,
        "median_cpu_ratio": statistics.median(cpu) if cpu else None,
        "goal_median_wall_ratio": GOAL_MEDIAN_WALL,
        "goal_worst_wall_ratio": GOAL_WORST_WALL,
        "spans_created": created,
        "spans_received": received,
        "delivered_share": received / created if created else None,
        "programs_failed": [o.name for o in outcomes if o.problems()],
    }


def text(outcomes: list[ProgramOutcome], figures: dict[str, Any]) -> str:
    """The table, the summary line, then every problem and note by program."""
    parts = [table(outcomes), ""]
    if figures["median_wall_ratio"] is not None:
        parts.append(
            f"wall ratio instrumented/plain: median {figures['median_wall_ratio']:.3f} "
            f"(goal <= {GOAL_MEDIAN_WALL}), worst {figures['worst_wall_ratio']:.3f} "
            f"(goal <= {GOAL_WORST_WALL}); CPU ratio median {figures['median_cpu_ratio']:.3f}"
        )
    share = figures["delivered_share"]
    parts.append(
        f"spans delivered: {figures['spans_received']} of {figures['spans_created']} created"
        + ("" if share is None else f" ({100 * share:.1f} %)")
    )
    for outcome in outcomes:
        found = outcome.problems()
        notes = outcome.delivery.notes()
        if found or notes:
            parts.append(f"\n{outcome.name}:")
            parts += [f"  FAIL {problem}".replace("\n", "\n       ") for problem in found]
            parts += [f"  note {note}" for note in notes]
    verdict = figures["programs_failed"]
    parts.append("\nall checks passed" if not verdict else f"\nfailed: {', '.join(verdict)}")
    return "\n".join(parts)
