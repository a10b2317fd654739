"""The ``mlspan`` pytest plugin, run as a user would: real pytest subprocesses.

Without ``--mlspan`` the plugin is loaded (entry point ``pytest11``) but inert: no SDK
imported, nothing instrumented. ``--mlspan-outcomes`` writes one outcome per node id
for every kind of result. With ``--mlspan`` (or ``MLSPAN_PYTEST=1``) a suite run under
``-W error`` keeps its outcomes and its spans arrive at a real OTLP receiver.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlspan.semconv import OPERATION_NAME
from mlspan.semconv.values import OperationName
from tests.support.otlp_sink import OtlpSink

SERVICE = "peer-plugin-test"

OUTCOME_TESTS = """\
import pytest


@pytest.fixture
def broken_setup():
    raise RuntimeError("setup")


@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown")


def test_passes():
    pass


def test_fails():
    assert False


def test_skips():
    pytest.skip("skipped inside")


@pytest.mark.skip(reason="marked")
def test_marked_skip():
    pass


@pytest.mark.xfail(strict=False)
def test_xfails():
    assert False


@pytest.mark.xfail(strict=False)
def test_xpasses():
    pass


@pytest.mark.xfail(strict=True)
def test_xpasses_strict():
    pass


@pytest.mark.xfail(run=False)
def test_xfail_not_run():
    pass


def test_setup_error(broken_setup):
    pass


def test_teardown_error(broken_teardown):
    pass


@pytest.mark.parametrize("value", [1, 2])
def test_param(value):
    assert value == 1
"""

EXPECTED_OUTCOMES = {
    "test_outcomes.py::test_passes": "passed",
    "test_outcomes.py::test_fails": "failed",
    "test_outcomes.py::test_skips": "skipped",
    "test_outcomes.py::test_marked_skip": "skipped",
    "test_outcomes.py::test_xfails": "xfailed",
    "test_outcomes.py::test_xpasses": "xpassed",
    "test_outcomes.py::test_xpasses_strict": "failed",
    "test_outcomes.py::test_xfail_not_run": "xfailed",
    "test_outcomes.py::test_setup_error": "error",
    "test_outcomes.py::test_teardown_error": "error",
    "test_outcomes.py::test_param[1]": "passed",
    "test_outcomes.py::test_param[2]": "failed",
}

INERT_TEST = """\
import sys


def test_plugin_loaded_but_inert():
    assert "mlspan.instrumentation.pytest_plugin" in sys.modules
    assert "opentelemetry.sdk.trace" not in sys.modules
    assert "mlspan.instrumentation.sklearn" not in sys.modules
"""

INSTRUMENTED_TESTS = """\
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def test_read_fit_score(tmp_path):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 4))
    frame = pd.DataFrame(features, columns=list("abcd")).assign(y=(features[:, 0] > 0).astype(int))
    frame.to_csv(tmp_path / "train.csv", index=False)
    read = pd.read_csv(tmp_path / "train.csv")
    model = make_pipeline(StandardScaler(), LogisticRegression())
    model.fit(read[list("abcd")], read["y"])
    assert model.score(read[list("abcd")], read["y"]) > 0.9


def test_predict_one_row():
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    assert model.predict([[2.5]]).tolist() == [1]
"""


def run_pytest(
    folder: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run pytest in ``folder`` (an empty ini keeps this project's config out)."""
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    outcomes = folder / "outcomes.json"
    child_env = {k: v for k, v in os.environ.items() if k != "MLSPAN_PYTEST"} | (env or {})
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args]
    completed = subprocess.run(
        [*command, f"--mlspan-outcomes={outcomes.name}"],
        cwd=folder,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert outcomes.is_file(), completed.stdout + completed.stderr
    document: dict[str, Any] = json.loads(outcomes.read_text(encoding="utf-8"))
    return completed, document


def test_outcomes_file_has_one_outcome_per_test(tmp_path: Path) -> None:
    (tmp_path / "test_outcomes.py").write_text(OUTCOME_TESTS, encoding="utf-8")
    completed, document = run_pytest(tmp_path)
    assert completed.returncode == 1, completed.stdout
    assert document == {"format": 1, "exitstatus": 1, "outcomes": EXPECTED_OUTCOMES}


def test_a_module_that_fails_to_import_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "test_broken.py").write_text("import no_such_module_here\n", encoding="utf-8")
    completed, document = run_pytest(tmp_path)
    assert completed.returncode == 2, completed.stdout
    assert document["outcomes"] == {"test_broken.py": "error"}


def test_without_the_flag_the_plugin_is_inert(tmp_path: Path) -> None:
    (tmp_path / "test_inert.py").write_text(INERT_TEST, encoding="utf-8")
    completed, document = run_pytest(tmp_path)
    assert document["outcomes"] == {"test_inert.py::test_plugin_loaded_but_inert": "passed"}
    assert completed.returncode == 0


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    with OtlpSink() as receiver:
        yield receiver


@pytest.mark.slow
@pytest.mark.parametrize("switch", ["flags", "environment"])
def test_instrumented_run_keeps_outcomes_and_exports_spans(
    tmp_path: Path, sink: OtlpSink, switch: str
) -> None:
    (tmp_path / "test_instrumented.py").write_text(INSTRUMENTED_TESTS, encoding="utf-8")
    if switch == "flags":
        args = ["--mlspan", f"--mlspan-endpoint=http://{sink.grpc_endpoint}"]
        args.append(f"--mlspan-service-name={SERVICE}")
        env: dict[str, str] = {}
    else:
        args = []
        env = {
            "MLSPAN_PYTEST": "1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{sink.grpc_endpoint}",
            "OTEL_SERVICE_NAME": SERVICE,
        }
    completed, document = run_pytest(tmp_path, "-W", "error", *args, env=env)

    assert document["outcomes"] == {
        "test_instrumented.py::test_read_fit_score": "passed",
        "test_instrumented.py::test_predict_one_row": "passed",
    }, completed.stdout
    assert completed.returncode == 0
    spans = sink.received_spans()  # the provider was shut down (flushed) before exit
    assert {span.resource.get("service.name") for span in spans} == {SERVICE}
    operations = {span.attributes.get(OPERATION_NAME) for span in spans}
    assert {OperationName.FIT.value, OperationName.READ.value} <= operations


def test_an_unusable_configuration_stops_the_run(tmp_path: Path) -> None:
    (tmp_path / "test_inert.py").write_text("def test_nothing():\n    pass\n", encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--mlspan"],
        cwd=tmp_path,
        env=os.environ | {"OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 4  # pytest's usage error
    assert "--mlspan: could not configure mlspan" in completed.stderr
