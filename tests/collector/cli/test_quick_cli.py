"""The query commands answer quickly: they import only what they need.

Against a real collector process, ``mlspan recent``, ``trace`` and ``drift`` run under
``python -X importtime``: none of the heavy modules (scipy, numpy, the collector's
service, store and pipeline, the server stack, the instrumentation) is imported, and
the imports add up to little. A wall-clock check with generous slack for a shared,
loaded machine runs each command several times next to a bare interpreter start.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from mlspan.collector.cli.main import COMMANDS, build_parser
from tests.collector.api.collector_process import (
    RunningCollector,
    fit_span,
    running_collector,
)

pytestmark = pytest.mark.slow

ARTIFACT = "model:quick:1"
HEAVY = (
    "scipy",
    "numpy",
    "sklearn",
    "pandas",
    "grpc",
    "google.protobuf",
    "opentelemetry",
    "prometheus_client",
    "sqlite3",
    "yaml",
    "pydantic",
    "starlette",
    "uvicorn",
    "jinja2",
    "mlspan.instrumentation",
    "mlspan.collector.service",
    "mlspan.collector.store",
    "mlspan.collector.pipeline",
    "mlspan.collector.drift",
    "mlspan.collector.lineage.processor",
    "mlspan.collector.api.server",
)
"""Modules (and their submodules) a query command must not import."""
IMPORT_BUDGET_S = 0.15
"""Most the imports of a query command may add up to beyond the interpreter's own, as
``-X importtime`` counts them, least of three runs (about 0.04 s on an idle machine),
scaled like the wall-clock goal on a loaded machine."""
MODULE_BUDGET = 150
"""Most modules a query command imports beyond the interpreter's own (about 110 now:
argparse, json, urllib, http.client, ssl and the command's module)."""
WALL_GOAL_S = 0.3
"""A query answers within this on an idle machine."""
BARE_IDLE_S = 0.04
WALL_SLACK_S = 0.3
"""On a machine shared with others, the goal is scaled by how much slower a bare
interpreter starts than on an idle one (``BARE_IDLE_S``), plus this slack. Importing
the collector, as the commands did, took 1.6-2.6 s idle and 6-12 s loaded."""


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCollector]:
    with running_collector(tmp_path_factory.mktemp("quick-cli")) as running:
        running.send([fit_span(1, '{"C": 1.0}', outputs=(ARTIFACT,))])
        running.wait_for_runs(1)
        yield running


def commands(api: str) -> dict[str, list[str]]:
    return {
        "recent": ["recent", "--api", api],
        "trace": ["trace", ARTIFACT, "--api", api],
        "drift": ["drift", "--api", api],
    }


def run(arguments: list[str], *flags: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLSPAN_")}
    return subprocess.run(
        [sys.executable, *flags, "-m", "mlspan.collector.cli.main", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def imports(stderr: str) -> dict[str, float]:
    """Module -> seconds of its own import, from ``-X importtime`` lines."""
    found: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _cumulative, name = line.removeprefix("import time:").split("|")
        found[name.strip()] = int(own) / 1e6
    return found


def load_factor() -> float:
    """How much slower than on an idle machine a bare interpreter starts now (>= 1)."""
    walls = []
    for _ in range(5):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=60)
        walls.append(time.perf_counter() - began)
    return max(1.0, statistics.median(walls) / BARE_IDLE_S)


def startup_modules() -> set[str]:
    """Modules a bare interpreter imports before running anything."""
    bare = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "pass"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(imports(bare.stderr))


@pytest.mark.parametrize("name", ["recent", "trace", "drift"])
def test_query_commands_import_nothing_heavy(collector: RunningCollector, name: str) -> None:
    bare = startup_modules()
    load = load_factor()
    totals = []
    for _ in range(3):  # the least of three: a loaded machine only ever adds time
        answered = run(commands(collector.api_url)[name], "-X", "importtime")
        assert answered.returncode == 0, answered.stderr[-2000:]
        loaded = imports(answered.stderr)
        assert "mlspan.collector.api.client" in loaded
        heavy = sorted(
            module
            for module in loaded
            if any(module.split(".")[: len(h.split("."))] == h.split(".") for h in HEAVY)
        )
        assert heavy == [], heavy
        own = {module: seconds for module, seconds in loaded.items() if module not in bare}
        assert len(own) < MODULE_BUDGET, sorted(own)
        totals.append(sum(own.values()))
    assert min(totals) < IMPORT_BUDGET_S * load, (totals, load)


def test_query_commands_answer_quickly(collector: RunningCollector) -> None:
    runs = commands(collector.api_url)
    walls: dict[str, list[float]] = {name: [] for name in [*runs, "python"]}
    for _ in range(5):
        for name, arguments in runs.items():
            began = time.perf_counter()
            assert run(arguments).returncode == 0
            walls[name].append(time.perf_counter() - began)
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=60)
        walls["python"].append(time.perf_counter() - began)
    medians = {name: statistics.median(values) for name, values in walls.items()}
    load = max(1.0, medians["python"] / BARE_IDLE_S)
    allowed = WALL_GOAL_S * load + WALL_SLACK_S
    slow = {name: round(m, 3) for name, m in medians.items() if m > allowed}
    assert not slow, (slow, medians)


def test_top_level_help_imports_no_command_module() -> None:
    answered = run(["--help"], "-X", "importtime")
    assert answered.returncode == 0
    loaded = imports(answered.stderr)
    modules = {f"mlspan.collector.cli.{module}" for module, _ in COMMANDS.values()}
    assert not modules & set(loaded)
    for name in COMMANDS:
        assert name in answered.stdout


def test_every_command_in_the_table_is_registered_by_its_module() -> None:
    parser = build_parser()
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        registered = set(getattr(action, "choices", {}) or {})
        assert set(COMMANDS) <= registered
        for name, sub in action.choices.items():
            assert sub.get_default("func") is not None, name


def test_a_command_runs_in_process_too(
    collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlspan.collector.cli.main import main

    assert main(["recent", "--api", collector.api_url]) == 0
    assert "train" in capsys.readouterr().out
