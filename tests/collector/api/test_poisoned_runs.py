"""Stored runs whose parameters JSON cannot carry still give valid answers.

A model's ``mlspan.model.params`` is whatever the estimator held: scikit-learn's
``missing_values=nan`` puts ``NaN`` there, and nothing stops a user's object from
nesting 50,000 levels deep. Such runs are sent over OTLP/HTTP to a real collector; every
query route that shows them, and the ``mlspan`` CLI, must answer with valid JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from mlspan.collector.api.json_safe import MAX_DEPTH
from mlspan.collector.cli.main import main
from tests.collector.api.collector_process import (
    RunningCollector,
    fit_span,
    run_id,
    running_collector,
    write_raw_runs,
)
from tests.support.launcher import clean_environment

pytestmark = pytest.mark.slow

NON_FINITE = 1
DEEP = 2
NESTED_300 = 3
PLAIN = 4
POISONED_PARAMS = {
    NON_FINITE: '{"C": NaN, "max_iter": Infinity, "tol": -Infinity, "penalty": "l2"}',
    DEEP: "[" * 50_000 + "]" * 50_000,
    NESTED_300: '{"a":' * 300 + "1" + "}" * 300,
    PLAIN: '{"C": 1.0, "penalty": "l2"}',
}


@pytest.fixture(scope="module", params=["sent_over_otlp", "stored_verbatim"])
def collector(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningCollector]:
    """The poisoned runs sent as spans through the collector's pipeline (which may
    clean parameters on write), or already in the store as an older collector wrote
    them (what the API must still render)."""
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "stored_verbatim":
        write_raw_runs(folder / "data", POISONED_PARAMS)
    with running_collector(folder) as running:
        if request.param == "sent_over_otlp":
            running.send(
                [
                    fit_span(number, params, outputs=(f"model:test:{number}",))
                    for number, params in POISONED_PARAMS.items()
                ]
            )
        running.wait_for_runs(len(POISONED_PARAMS))
        yield running


def depth(value: Any) -> int:
    """Nesting depth of arrays and objects, without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item)
    return deepest


def test_every_route_showing_the_runs_answers_valid_json(collector: RunningCollector) -> None:
    pages = [
        collector.get_json("/api/v1/runs"),
        collector.get_json("/api/v1/runs?component=train&limit=2"),
        collector.get_json("/api/v1/components/train/runs"),
        collector.get_json("/api/v1/review"),
    ]
    for number in POISONED_PARAMS:
        pages.append(collector.get_json(f"/api/v1/runs/{run_id(number)}"))
        pages.append(collector.get_json(f"/api/v1/trace/{run_id(number)}"))
        pages.append(collector.get_json(f"/api/v1/impact/model:test:{number}"))
    listed = {run["run_id"] for run in pages[0]["runs"]}
    assert {run_id(n) for n in POISONED_PARAMS} <= listed
    assert all(depth(page) <= MAX_DEPTH + 2 for page in pages)


def test_non_finite_parameters_are_strings_and_the_rest_is_kept(
    collector: RunningCollector,
) -> None:
    params = collector.get_json(f"/api/v1/runs/{run_id(NON_FINITE)}")["run"]["params"]
    assert params["penalty"] == "l2"
    # The API's documented choice: the spelling Python's json module reads back.
    # (A store that cleans parameters on write may already hold null or strings.)
    for key, spelled in (("C", "NaN"), ("max_iter", "Infinity"), ("tol", "-Infinity")):
        assert params[key] in (spelled, None), params
    plain = collector.get_json(f"/api/v1/runs/{run_id(PLAIN)}")["run"]["params"]
    assert plain == {"C": 1.0, "penalty": "l2"}


def test_deep_parameters_are_bounded(collector: RunningCollector) -> None:
    deep = collector.get_json(f"/api/v1/runs/{run_id(DEEP)}")["run"]["params"]
    assert depth(deep) <= MAX_DEPTH
    nested = collector.get_json(f"/api/v1/runs/{run_id(NESTED_300)}")["run"]["params"]
    assert depth(nested) <= MAX_DEPTH  # cut when answered, or dropped when stored


def test_mlspan_recent_process_exits_0(collector: RunningCollector) -> None:
    recent = subprocess.run(
        [sys.executable, "-m", "mlspan.collector.cli.main", "recent", "--api", collector.api_url],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_environment(),
        check=False,
    )
    assert recent.returncode == 0, recent.stderr
    for number in POISONED_PARAMS:
        assert run_id(number) in recent.stdout


def test_cli_commands_show_the_poisoned_runs(
    collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    def mlspan(*arguments: str) -> str:
        code = main([*arguments, "--api", collector.api_url])
        out, err = capsys.readouterr()
        assert code == 0, (arguments, err)
        return out

    assert len(json.loads(mlspan("recent", "--json"))["runs"]) == len(POISONED_PARAMS)
    assert run_id(NON_FINITE) in mlspan("history", "train")
    for number in POISONED_PARAMS:
        assert run_id(number) in mlspan("show", run_id(number))
        assert json.loads(mlspan("show", run_id(number), "--json"))["run"]["run_id"] == run_id(
            number
        )
        assert run_id(number) in mlspan("trace", run_id(number))
