"""The experiment jobs of ``churn_experiment.py``: three named versions, a stable split.

``train`` must give the registry three versions of one model, ``churn``, that differ in
one parameter; ``serve`` must send every customer to exactly one of v2 and v3 by a hash
of its id, about half each, and predict with that version only. The jobs run after
``train.py`` as the README shows them, exporting to a real OTLP receiver on 127.0.0.1.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from mlspan.semconv import CALL_ROLE, MODEL_NAME, MODEL_VERSION, OPERATION_NAME
from tests.examples.example_modules import EXAMPLES
from tests.support.otlp_sink import OtlpSink, ReceivedSpan


@pytest.fixture
def churn_experiment(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``examples/churn_experiment.py``, which imports its sibling modules by name."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module("churn_experiment")


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    with OtlpSink() as running:
        yield running


def test_the_split_sends_each_customer_to_one_arm_about_half_each(
    churn_experiment: ModuleType,
) -> None:
    customers = pd.Index(range(6_000_000, 6_000_000 + churn_experiment.ROWS))
    arms = churn_experiment.arm_of(customers)

    assert set(arms) == set(churn_experiment.ARMS)
    share = float((arms == churn_experiment.ARMS[1]).mean())
    assert abs(share - 0.5) < 0.01, share
    # By id alone: any subset, in any order, gets the same arms.
    subset = customers[::7][::-1]
    assert list(churn_experiment.arm_of(subset)) == list(arms[::7][::-1])


def _run(data: Path, sink: OtlpSink, *args: str) -> str:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    command = [sys.executable, *args, "--data-dir", str(data)]
    command += ["--instrument", "--endpoint", sink.grpc_endpoint]
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _user_calls(spans: list[ReceivedSpan], operation: str) -> list[ReceivedSpan]:
    return [
        span
        for span in spans
        if span.attributes.get(OPERATION_NAME) == operation
        and span.attributes.get(CALL_ROLE) == "user"
    ]


@pytest.mark.slow
def test_three_churn_versions_then_each_arm_predicts_with_its_own_version(
    sink: OtlpSink, tmp_path: Path, churn_experiment: ModuleType
) -> None:
    _run(tmp_path, sink, str(EXAMPLES / "train.py"))
    before = len(sink.received_spans())
    trained = _run(tmp_path, sink, str(EXAMPLES / "churn_experiment.py"), "train")
    spans = sink.received_spans()[before:]

    accuracy = {
        line.split()[1].rstrip(":"): float(line.split("holdout accuracy ")[1].split()[0])
        for line in trained.splitlines()
    }
    assert list(accuracy) == ["v1", "v2", "v3"]
    assert accuracy["v3"] - accuracy["v2"] > 0.02  # a difference worth an A/B test
    fits = _user_calls(spans, "fit")
    assert [span.attributes.get(MODEL_NAME) for span in fits] == ["churn"] * 3
    versions = [span.attributes[MODEL_VERSION] for span in fits]
    assert len(set(versions)) == 3

    before = len(sink.received_spans())
    served = _run(tmp_path, sink, str(EXAMPLES / "churn_experiment.py"), "serve")
    spans = sink.received_spans()[before:]

    counts = [
        int(line.split(" served ")[1].split()[0].replace(",", ""))
        for line in served.splitlines()
        if " served " in line
    ]
    assert sum(counts) == churn_experiment.ROWS and all(c > 7_500 for c in counts), counts
    assert f"{churn_experiment.ROWS:,} customers" in served  # the labels arrived
    predictions = _user_calls(spans, "predict_proba")
    assert [span.attributes.get(MODEL_VERSION) for span in predictions] == versions[1:]
    assert {span.attributes.get(MODEL_NAME) for span in predictions} == {"churn"}
