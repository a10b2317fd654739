"""End to end: real scikit-learn fits, scores, searches and predictions sent over OTLP to
a real collector process; the registry answers through the API, the CLI and /metrics.

Four versions of ``churn`` are trained inside a ``train`` component: v1 (max_depth 3),
v2 (max_depth 8), v3 (max_depth 8, min_samples_leaf 20) on one training file and v4
(max_depth 3) on a file whose feature ``a`` is shifted; v1 is fitted twice. v2 serves
predictions from another service.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV
from sklearn.tree import DecisionTreeClassifier

from mlspan.collector.cli.main import main as mlspan_main
from mlspan.instrumentation.component import component
from tests.collector.models.collector import ModelsCollector, instrumented, models_collector
from tests.support.processes import poll

pytestmark = pytest.mark.slow

FEATURES = ["a", "b", "c", "d"]
TRAIN_SERVICE = "churn-train"
SERVING_SERVICE = "churn-api"


def frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(rows, len(FEATURES)))
    target = (data[:, 0] + 0.5 * data[:, 1] - 0.3 * data[:, 2] + rng.normal(0, 0.8, rows)) > 0
    out = pd.DataFrame(data, columns=FEATURES)
    out["a"] = out["a"] + shift
    out["y"] = target.astype(int)
    return out


def train_versions(collector: ModelsCollector, folder: Path) -> dict[str, Any]:
    """Fit the four versions (v1 twice); the fitted models by label."""
    train, shifted, valid = folder / "train.csv", folder / "train_shifted.csv", folder / "valid.csv"
    frame(3000, 1).to_csv(train, index=False)
    frame(3000, 2, shift=1.5).to_csv(shifted, index=False)
    frame(2000, 3).to_csv(valid, index=False)
    provider = collector.provider(TRAIN_SERVICE)
    step = component("train", model_name="churn", tracer_provider=provider)
    models: dict[str, Any] = {}
    plan = [
        ("v1", train, {"max_depth": 3}),
        ("v2", train, {"max_depth": 8}),
        ("v3", train, {"max_depth": 8, "min_samples_leaf": 20}),
        ("v1", train, {"max_depth": 3}),
        ("v4", shifted, {"max_depth": 3}),
    ]
    with instrumented(provider):
        for label, path, params in plan:
            with step as run:
                run.add_input(str(path))
                data = pd.read_csv(path)
                held_out = pd.read_csv(valid)
                model = DecisionTreeClassifier(random_state=0, **params)
                model.fit(data[FEATURES], data["y"])
                model.score(held_out[FEATURES], held_out["y"])
                run.add_output(model)
                predicted = model.predict(held_out[FEATURES])
                run.log_metric("f1", f1_score(held_out["y"], predicted), rows=len(held_out))
            models[label] = model
    return models


def serve(collector: ModelsCollector, model: Any) -> None:
    provider = collector.provider(SERVING_SERVICE)
    with instrumented(provider):
        for seed in range(3):
            model.predict(frame(150, 10 + seed)[FEATURES])


def wait_for_versions(collector: ModelsCollector, count: int) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        models = collector.get_json("/api/v1/models")["models"]
        churn = [m for m in models if m["model"] == "churn"]
        return churn[0] if churn and churn[0]["versions"] >= count else None

    return poll(f"{count} versions of churn", ready, timeout=60)


def run_cli(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = mlspan_main(arguments)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_versions_diff_effects_recipe_and_tags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with models_collector(tmp_path) as collector:
        models = train_versions(collector, tmp_path)
        listed = wait_for_versions(collector, 4)
        assert listed["service"] == TRAIN_SERVICE
        assert listed["key_metric"]["metric"] == "accuracy"
        serve(collector, models["v2"])
        table = poll(
            "v2 serving",
            lambda: (
                body
                if SERVING_SERVICE
                in (body := collector.get_json("/api/v1/models/churn"))["versions"][1]["serving"]
                else None
            ),
            timeout=30,
        )
        versions = {v["version"]: v for v in table["versions"]}
        assert list(versions) == ["v1", "v2", "v3", "v4"]
        assert versions["v1"]["fits"] == 2
        assert versions["v2"]["serving"] == [SERVING_SERVICE, TRAIN_SERVICE]
        assert versions["v3"]["serving"] == [TRAIN_SERVICE]  # its validation predictions
        assert versions["v1"]["params"]["max_depth"] == 3
        accuracy = {
            label: next(m for m in v["metrics"] if m["label"] == "accuracy")
            for label, v in versions.items()
        }
        assert accuracy["v1"]["rows"] == 2000
        value = accuracy["v1"]["value"]
        assert accuracy["v1"]["stderr"] == pytest.approx(np.sqrt(value * (1 - value) / 2000))
        assert any(m["label"] == "logged:f1" for m in versions["v2"]["metrics"])
        best = max(accuracy, key=lambda label: accuracy[label]["value"])
        assert [label for label, v in versions.items() if v["best"]] == [best]
        assert table["best"] == best

        effects = collector.get_json("/api/v1/models/churn/effects")
        texts = [e["text"] for e in effects["versions"]]
        delta = accuracy["v2"]["value"] - accuracy["v1"]["value"]
        assert any(t.startswith(f"max_depth 3 -> 8: accuracy {delta:+.4g} ± ") for t in texts), (
            texts
        )
        assert any(
            t.startswith("min_samples_leaf (absent)") or "min_samples_leaf" in t for t in texts
        )

        diff = collector.get_json("/api/v1/models/churn/diff?a=v1&b=v2")
        assert diff["params"] == [{"name": "max_depth", "a": 3, "b": 8, "change": "changed"}]
        assert diff["data"]["same"] is True
        assert diff["code"]["same"] is True
        (acc,) = [m for m in diff["metrics"] if m["label"] == "accuracy"]
        assert acc["delta"] == pytest.approx(delta)
        assert acc["half_width"] == pytest.approx(
            1.959963984540054 * np.hypot(accuracy["v1"]["stderr"], accuracy["v2"]["stderr"])
        )
        shifted = collector.get_json("/api/v1/models/churn/diff?a=v1&b=v4")
        assert shifted["params"] == []
        drift = shifted["data"]["drift"]
        assert shifted["data"]["same"] is False and drift["compared"] is True
        drifted = {f["feature"] for f in drift["features"] if f["drifted"]}
        assert drifted == {"a"}, drift["features"]

        shown = collector.get_json("/api/v1/models/churn/versions/v2")
        assert shown["digest"] == table["versions"][1]["digest"]
        assert shown["code"]["digest"].startswith("code:xxh3_128:")
        assert shown["code"]["component"] == "train"
        assert {f["name"] for f in shown["features"]} >= set(FEATURES)
        assert shown["libraries"]["scikit-learn"]
        prefix = shown["digest"].rsplit(":", 1)[-1][:10]
        assert collector.get_json(f"/api/v1/models/churn/versions/{prefix}")["version"] == "v2"

        recipe = collector.get_json("/api/v1/models/churn/versions/v2/recipe")
        files = [i for i in recipe["inputs"] if i["kind"] == "file"]
        assert [i["paths"] for i in files] == [[str(tmp_path / "train.csv")]]
        out = run_cli(
            ["model", "show", "churn", "v2", "--recipe", "--api", collector.api_url], capsys
        )
        assert "[unchanged]" in out and "scikit-learn" in out, out
        with (tmp_path / "train.csv").open("a") as handle:
            handle.write("0,0,0,0,1\n")
        out = run_cli(
            ["model", "show", "churn", "v2", "--recipe", "--api", collector.api_url], capsys
        )
        assert "[CHANGED:" in out, out

        status, body = collector.status_of(
            "POST", "/api/v1/models/churn/versions/v2/tags", {"add": ["production", "reviewed"]}
        )
        assert status == 200 and body["tags"] == ["production", "reviewed"]
        status, body = collector.status_of(
            "POST", "/api/v1/models/churn/versions/v3/tags", {"add": ["production"]}
        )
        assert body["tags"] == ["production"]
        after = {
            v["version"]: v["tags"] for v in collector.get_json("/api/v1/models/churn")["versions"]
        }
        assert after["v2"] == ["reviewed"] and after["v3"] == ["production"]
        (churn,) = collector.get_json("/api/v1/models")["models"]
        assert churn["stages"] == {"production": "v3"}
        status, body = collector.status_of(
            "POST", "/api/v1/models/churn/versions/v9/tags", {"add": ["x"]}
        )
        assert status == 404 and "v1..v4" in body["error"]["message"]
        status, body = collector.status_of(
            "POST", "/api/v1/models/churn/versions/v2/tags", {"add": ["bad tag"]}
        )
        assert status == 400

        out = run_cli(["models", "--api", collector.api_url], capsys)
        assert re.search(r"churn\s+churn-train\s+DecisionTreeClassifier\s+4\s+v4", out), out
        out = run_cli(["model", "churn", "--api", collector.api_url], capsys)
        assert f"best {best}" in out and "max_depth 3 -> 8: accuracy" in out, out
        assert re.search(rf"\*\s+{best}\s", out), out
        out = run_cli(["model", "diff", "churn", "v1", "v4", "--api", collector.api_url], capsys)
        assert "parameters: identical" in out and "a:" in out and "drift" in out, out
        with urllib.request.urlopen(collector.api_url + "/metrics", timeout=30) as response:
            metrics = response.read().decode()
        assert 'mlspan_model_versions{model="churn",service="churn-train"} 4.0' in metrics
    with models_collector(tmp_path) as collector:
        again = collector.get_json("/api/v1/models/churn")
        assert [v["digest"] for v in again["versions"]] == [v["digest"] for v in table["versions"]]
        assert again["versions"][2]["tags"] == ["production"]
        assert again["versions"][1]["serving"] == [SERVING_SERVICE, TRAIN_SERVICE]


def test_a_search_gives_marginal_effects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = frame(1500, 5)
    with models_collector(tmp_path) as collector:
        provider = collector.provider(TRAIN_SERVICE)
        with instrumented(provider):
            grid = {"max_depth": [2, 6], "min_samples_leaf": [1, 50]}
            search = GridSearchCV(DecisionTreeClassifier(random_state=0), grid, cv=3)
            search.fit(data[FEATURES], data["y"])
        listed = poll(
            "the search's version",
            lambda: (
                [
                    m
                    for m in collector.get_json("/api/v1/models")["models"]
                    if m["model"] == "GridSearchCV"
                ]
                or None
            ),
            timeout=60,
        )
        assert listed[0]["key_metric"]["source"] == "search"
        shown = collector.get_json("/api/v1/models/GridSearchCV/versions/v1")
        cv = next(m for m in shown["metrics"] if m["source"] == "search")
        assert cv["value"] == pytest.approx(search.best_score_)
        best = search.best_index_
        std = search.cv_results_["std_test_score"][best]
        assert cv["stderr"] == pytest.approx(std / np.sqrt(3))
        assert shown["search"]["candidates"] == 4
        effects = shown["search"]["effects"]
        assert any(
            e.startswith("max_depth 2 -> 6: score ") and "(2 pairs)" in e for e in effects
        ), effects
        means = search.cv_results_["mean_test_score"]
        params = search.cv_results_["params"]
        pairs = [
            means[j] - means[i]
            for i, p in enumerate(params)
            for j, q in enumerate(params)
            if p["max_depth"] == 2
            and q["max_depth"] == 6
            and p["min_samples_leaf"] == q["min_samples_leaf"]
        ]
        expected = f"max_depth 2 -> 6: score {np.mean(pairs):+.3g} ± "
        assert any(e.startswith(expected) for e in effects), (expected, effects)
        out = run_cli(["model", "GridSearchCV", "--api", collector.api_url], capsys)
        assert "marginal effects" in out, out


def test_online_performance_joins_the_version(tmp_path: Path) -> None:
    from mlspan.instrumentation.outcomes import evaluate

    data = frame(2000, 7)
    with models_collector(tmp_path) as collector:
        provider = collector.provider(TRAIN_SERVICE)
        with instrumented(provider):
            model = DecisionTreeClassifier(max_depth=4, random_state=0)
            model.fit(data[FEATURES][:1500], data["y"][:1500])
        served = collector.provider(SERVING_SERVICE)
        predicted = model.predict(data[FEATURES][1500:])
        evaluate(model, data["y"][1500:], predicted, tracer_provider=served)
        served.shutdown()
        expected = float(np.mean(predicted == data["y"][1500:].to_numpy()))

        def online() -> dict[str, Any] | None:
            shown = collector.get_json("/api/v1/models/DecisionTreeClassifier/versions/v1")
            found = [m for m in shown["metrics"] if m["source"] == "online"]
            return {m["metric"]: m for m in found} or None

        metrics = poll("online metrics of v1", online, timeout=60)
        assert metrics["accuracy"]["value"] == pytest.approx(expected)
        assert metrics["accuracy"]["rows"] == 500
        assert metrics["accuracy"]["stderr"] == pytest.approx(
            np.sqrt(expected * (1 - expected) / 500)
        )


def test_tag_writes_follow_api_writes(tmp_path: Path) -> None:
    with models_collector(tmp_path, writes=False) as collector:
        status, body = collector.status_of(
            "POST", "/api/v1/models/churn/versions/v1/tags", {"add": ["production"]}
        )
        assert status == 403, body
        status, body = collector.status_of("GET", "/api/v1/models/churn")
        assert status == 404 and "no model 'churn'" in body["error"]["message"]
