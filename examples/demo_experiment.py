"""The demo's model-experimentation part: three churn versions, an A/B test of two.

After the demo's scoring jobs, ``run`` trains ``churn v1``-``v3`` (``churn_experiment.py
train``), waits until the collector's model registry has all three (the experiment's
arms name versions, which resolve to digests once registered), serves v2 and v3 side by
side with their labels arriving an hour later (``churn_experiment.py serve``), waits
until the experiment has counted every labelled outcome, then prints the registry's
models, the versions table, the diff of the two served versions and the experiment's
verdict, whatever the collector decided (``not yet decided`` is printed as such).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import churn_experiment
import demo_collector
from demo_collector import DemoSettings

EXAMPLES = Path(__file__).resolve().parent
WAIT_TIMEOUT_S = 60.0

RunJob = Callable[[list[str], dict[str, str]], None]
Show = Callable[[DemoSettings, str, Sequence[str]], None]


def _answer(settings: DemoSettings, *args: str) -> Any:
    """The JSON of ``mlspan <args> --json``, or None while the collector cannot answer."""
    command = [*demo_collector.mlspan_command(), *args, "--api", settings.api, "--json"]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    if result.returncode != 0:
        return None
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        return None


def _wait(settings: DemoSettings, args: Sequence[str], ready: Callable[[Any], bool]) -> bool:
    """Poll ``mlspan <args> --json`` until ``ready`` holds for its answer."""
    deadline = time.monotonic() + WAIT_TIMEOUT_S
    while time.monotonic() < deadline:
        answer = _answer(settings, *args)
        if isinstance(answer, dict) and ready(answer):
            return True
        time.sleep(0.5)
    return False


def _all_versions(answer: dict[str, Any]) -> bool:
    return len(answer.get("versions") or []) >= len(churn_experiment.VERSIONS)


def _all_outcomes(answer: dict[str, Any]) -> bool:
    return int(answer.get("outcomes") or 0) >= churn_experiment.ROWS


def run(
    settings: DemoSettings,
    work: Path,
    env: dict[str, str],
    run_job: RunJob,
    show: Show,
    step: Callable[[str], None],
) -> None:
    """Train the versions, serve the A/B split, then print the four views."""
    job_env = {**env, "OMP_NUM_THREADS": "1"}  # small boosters: threads only contend
    job = [sys.executable, str(EXAMPLES / "churn_experiment.py")]
    options = ["--data-dir", str(work), "--instrument", "--endpoint", settings.otlp_grpc]
    step("model experimentation: three churn versions differing in learning rate")
    run_job([*job, "train", *options], job_env)
    name = churn_experiment.MODEL_NAME
    if not _wait(settings, ["model", name], _all_versions):
        step(f"the registry does not list {len(churn_experiment.VERSIONS)} {name} versions")
    control, challenger = churn_experiment.ARMS
    step(f"A/B test {churn_experiment.EXPERIMENT}: {control} and {challenger} split 50/50")
    step("  by a hash of the customer id; the labels arrive an hour later")
    run_job([*job, "serve", *options], job_env)
    experiment = churn_experiment.EXPERIMENT
    if not _wait(settings, ["experiment", experiment], _all_outcomes):
        step(f"{experiment} has not counted every outcome after {WAIT_TIMEOUT_S:.0f} s")
    show(settings, "Models in the registry", ["models"])
    show(settings, f"Versions of {name}", ["model", name])
    show(
        settings,
        f"What changed from {control} to {challenger}",
        ["model", "diff", name, control, challenger],
    )
    show(settings, f"Experiment {experiment}", ["experiment", experiment])
