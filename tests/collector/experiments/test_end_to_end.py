"""End to end: an A/B test of two model versions and a router's A/B test, in a real
collector process fed over OTLP by real scikit-learn calls and the real outcomes API.

Four versions of ``churn`` are trained (``churn v1``: a stump, ``churn v2``: a deeper
tree; v3 and v4 the same on other data). The collector config declares ``churn-ab``
with arms ``churn v1`` (control) and ``churn v2``, resolved through the model registry;
``router-ab`` is declared through ``POST /api/v1/experiments`` with arms named by the
application's router, whose ``treatment`` serves the weaker v4 against v3. Traffic is
split 50/50 by entity id, each arm's model predicts its rows (instrumented predict
spans), predictions are logged with their ids (and arm, for the router), and labels
arrive in batches (one look per batch). The verdicts come back
through the API, the CLI and ``/metrics``; the worse treatment fires the experiment
alert; a restarted collector still knows both experiments and their totals.
"""

from __future__ import annotations

import re
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.tree import DecisionTreeClassifier

from mlspan.collector.cli.main import main as mlspan_main
from mlspan.instrumentation.component import component
from mlspan.instrumentation.outcomes import OutcomeRecorder
from mlspan.semconv import DATASET_ROWS, EXPERIMENT_ARM
from tests.collector.models.collector import ModelsCollector, instrumented
from tests.support.otlp_sink import free_port
from tests.support.processes import background_process, poll

pytestmark = pytest.mark.slow

FEATURES = ["a", "b", "c", "d"]
ROWS = 8000
BATCH = 1000
CONFIGURED = {
    "name": "churn-ab",
    "metric": "accuracy",
    "minimum_detectable_effect": 0.03,
    "control": "v1",
    "arms": [{"name": "v1", "version": "churn v1"}, {"name": "v2", "version": "churn v2"}],
}
ROUTER = {
    "name": "router-ab",
    "metric": "accuracy",
    "minimum_detectable_effect": 0.03,
    "arms": [{"name": "control"}, {"name": "treatment"}],
}


def frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(rows, len(FEATURES)))
    signal = data[:, 0] + 0.8 * np.sign(data[:, 1]) * (data[:, 2] > 0) + rng.normal(0, 0.5, rows)
    out = pd.DataFrame(data, columns=FEATURES)
    out["y"] = (signal > 0).astype(int)
    return out


@contextmanager
def experiments_collector(folder: Path) -> Iterator[ModelsCollector]:
    """``mlspan collector`` with the models, performance, experiments and alerts
    processors and ``churn-ab`` in its config, on free ports."""
    api_port, http_port = free_port(), free_port()
    processors = ["lineage", "models", "performance", "experiments", "alerts"]
    config = {
        "data_dir": str(folder / "data"),
        "api": {"endpoint": f"127.0.0.1:{api_port}"},
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{http_port}"}}}},
        "processors": {
            "lineage": {},
            "models": {},
            "performance": {},
            "experiments": {"experiments": [CONFIGURED]},
            "alerts": {},
        },
        "service": {
            "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": processors, "exporters": []}
            }
        },
    }
    path = folder / "collector.yaml"
    path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "mlspan.collector.cli.main", "collector"]
    command += ["--config", str(path)]
    api_url = f"http://127.0.0.1:{api_port}"
    with background_process("collector", command, folder, f"{api_url}/openapi.json"):
        yield ModelsCollector(api_url, f"127.0.0.1:{http_port}", folder / "data")


def train(collector: ModelsCollector) -> dict[str, Any]:
    """``churn v1`` (a stump), ``v2`` (depth 6), ``v3`` (depth 6) and ``v4`` (a stump)
    on other data, fitted in that order."""
    provider = collector.provider("churn-train")
    step = component("train", model_name="churn", tracer_provider=provider)
    models = {}
    with instrumented(provider):
        for label, depth, seed in (("v1", 1, 1), ("v2", 6, 1), ("v3", 6, 3), ("v4", 1, 3)):
            data = frame(4000, seed)
            with step as run:
                model = DecisionTreeClassifier(max_depth=depth, random_state=0)
                model.fit(data[FEATURES], data["y"])
                run.add_output(model)
            models[label] = model
    return models


def serve_and_label(collector: ModelsCollector, models: dict[str, Any], folder: Path) -> None:
    """Split traffic 50/50 by id, predict per arm, log predictions, then label in batches."""
    provider = collector.provider("churn-api")
    tracer = provider.get_tracer("router")
    recorder = OutcomeRecorder(folder / "predictions.sqlite", tracer_provider=provider)
    data = frame(ROWS, 2)
    ids = np.arange(ROWS)
    in_b = (ids * 2654435761 % 2**32) % 2 == 1  # the router's hash split
    routed = ids + ROWS  # the router's own entities
    # churn-ab: arm by version; router-ab: the treatment serves the weaker v4
    plans = (
        (~in_b, models["v1"], "control", models["v3"]),
        (in_b, models["v2"], "treatment", models["v4"]),
    )
    with instrumented(provider):
        for rows, version_model, router_arm, router_model in plans:
            x = data.loc[rows, FEATURES]
            recorder.log_predictions(version_model, ids[rows], version_model.predict(x))
            with tracer.start_as_current_span("route") as span:
                span.set_attribute(EXPERIMENT_ARM, router_arm)
                span.set_attribute(DATASET_ROWS, int(rows.sum()))
                predicted = router_model.predict(x)
            recorder.log_predictions(router_model, routed[rows], predicted, arm=router_arm)
        assert recorder.flush()
        truth = data["y"].to_numpy()
        for start in range(0, ROWS, BATCH):
            part = slice(start, start + BATCH)
            recorder.record_outcomes(ids[part], truth[part])
            recorder.record_outcomes(routed[part], truth[part])
            assert recorder.flush()
    recorder.close()


def wait_for(collector: ModelsCollector, name: str, outcomes: int) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        body: dict[str, Any] = collector.get_json(f"/api/v1/experiments/{name}")
        return body if body["outcomes"] >= outcomes else None

    return poll(f"{outcomes} outcomes of {name}", ready, timeout=60)


def run_cli(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = mlspan_main(arguments)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_verdicts_through_the_api_cli_metrics_and_alerts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with experiments_collector(tmp_path) as collector:
        assert collector.status_of("POST", "/api/v1/experiments", ROUTER)[0] == 201
        assert collector.status_of("POST", "/api/v1/experiments", ROUTER)[0] == 200
        clash = {**ROUTER, "alpha": 0.01}
        assert collector.status_of("POST", "/api/v1/experiments", clash)[0] == 409
        status, error = collector.status_of("POST", "/api/v1/experiments", {"name": "x"})
        assert status == 400 and "arms" in error["error"]["message"]
        status, _ = collector.status_of("DELETE", "/api/v1/experiments/churn-ab")
        assert status == 409  # configured experiments live in the config

        models = train(collector)
        poll(
            "churn v4 in the registry",
            lambda: collector.get_json("/api/v1/models/churn")["versions"][3:] or None,
            timeout=60,
        )
        serve_and_label(collector, models, tmp_path)
        result = wait_for(collector, "churn-ab", ROWS)
        router = wait_for(collector, "router-ab", ROWS)

        arms = {arm["name"]: arm for arm in result["arms"]}
        assert arms["v1"]["resolved"] and arms["v2"]["resolved"]
        assert arms["v1"]["outcomes"] + arms["v2"]["outcomes"] == ROWS
        assert arms["v1"]["assigned"] == arms["v1"]["outcomes"]  # the predict spans' rows
        (comparison,) = result["comparisons"]
        assert comparison["status"] == "better"
        verdict = comparison["verdict"]
        assert re.fullmatch(
            r"v2 better than v1 on accuracy: \+\d+\.\d pts \[\d+\.\d, \d+\.\d\],"
            r" decided after [\d,]+ outcomes",
            verdict,
        ), verdict
        assert comparison["decided_at"] <= ROWS
        assert not result["srm"]["mismatch"]

        (worse,) = router["comparisons"]
        assert worse["status"] == "worse"
        assert [a["assigned"] for a in router["arms"]] == [
            a["outcomes"] for a in router["arms"]
        ]  # one router span per arm, counting its rows

        listing = run_cli(["experiment", "--api", collector.api_url], capsys)
        assert verdict in listing and worse["verdict"] in listing
        detail = run_cli(["experiment", "churn-ab", "--api", collector.api_url], capsys)
        assert "v1 (control)" in detail and "better" in detail and verdict in detail
        assert mlspan_main(["experiment", "nope", "--api", collector.api_url]) == 1

        with urllib.request.urlopen(collector.api_url + "/metrics", timeout=30) as response:
            metrics = response.read().decode()
        assert (
            'mlspan_experiment_verdict{arm="v2",experiment="churn-ab",verdict="better"} 1.0'
            in metrics
        )
        with urllib.request.urlopen(collector.api_url + "/ui/experiments", timeout=30) as page:
            html = page.read().decode()
        assert verdict in html and worse["verdict"] in html
        assert html.count('class="status-better"') == 1
        assert html.count('class="status-worse"') == 1
        assert "sample ratio mismatch" not in html

        def experiment_alert() -> dict[str, Any] | None:
            alerts = collector.get_json("/api/v1/alerts")["firing"]
            found = [a for a in alerts if a["name"] == "ExperimentAlert"]
            return found[0] if found else None

        alert = poll("the experiment alert", experiment_alert, timeout=30)
        assert alert["labels"]["experiment"] == "router-ab"
        assert alert["labels"]["arm"] == "treatment"
        assert alert["labels"]["reason"] == "worse"

    with experiments_collector(tmp_path) as collector:
        again = collector.get_json("/api/v1/experiments/churn-ab")
        assert again["outcomes"] == ROWS
        assert again["comparisons"][0]["decided_at"] == comparison["decided_at"]
        assert collector.get_json("/api/v1/experiments/router-ab")["origin"] == "api"
        assert collector.status_of("DELETE", "/api/v1/experiments/router-ab")[0] == 200
        names = [e["name"] for e in collector.get_json("/api/v1/experiments")["experiments"]]
        assert names == ["churn-ab"]
