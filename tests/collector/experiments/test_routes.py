"""The experiment routes on the API router: declaring (201, 200, 409, 400), reading
(one, all, 404), forgetting (API-declared only) and the OpenAPI description."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlspan.collector.api.router import Router
from mlspan.collector.experiments.config import ExperimentsConfig, parse_experiment
from mlspan.collector.experiments.processor import ExperimentsProcessor
from mlspan.collector.experiments.routes import register_experiment_routes
from mlspan.collector.pipeline.factory import Host

CONFIGURED = {"name": "configured", "arms": [{"name": "a"}, {"name": "b"}]}
DECLARED = {
    "name": "declared",
    "metric": "mae",
    "minimum_detectable_effect": 0.5,
    "arms": [
        {"name": "v1", "version": "churn v1", "share": 1},
        {"name": "v2", "version": "model:xxh3_128:" + "2" * 32, "share": 3},
    ],
}


def router_for(tmp_path: Path) -> Router:
    config = ExperimentsConfig(experiments=(parse_experiment(CONFIGURED),), max_experiments=2)
    processor = ExperimentsProcessor(config, Host(data_dir=tmp_path), None, None)
    processor.start()
    router = Router()
    register_experiment_routes(router, processor)
    return router


def call(router: Router, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    raw = b"" if body is None else json.dumps(body).encode()
    response = router.dispatch(method, path, raw, {"content-type": "application/json"})
    return response.status, json.loads(response.body)


def test_declare_read_and_forget(tmp_path: Path) -> None:
    router = router_for(tmp_path)
    status, created = call(router, "POST", "/api/v1/experiments", DECLARED)
    assert status == 201 and created["origin"] == "api"
    arms = {arm["name"]: arm for arm in created["arms"]}
    assert arms["v1"]["resolved"] is None  # NAME vN waits for the registry
    assert arms["v2"]["resolved"] == DECLARED["arms"][1]["version"]  # type: ignore[index]
    assert [arm["expected_share"] for arm in created["arms"]] == [0.25, 0.75]
    assert created["verdict"] == ["v2 vs v1 on mae: not yet decided: no outcomes in both arms yet"]
    assert call(router, "POST", "/api/v1/experiments", DECLARED)[0] == 200
    changed = {**DECLARED, "alpha": 0.01}
    status, error = call(router, "POST", "/api/v1/experiments", changed)
    assert status == 409 and "already exists" in error["error"]["message"]
    status, error = call(router, "POST", "/api/v1/experiments", {**CONFIGURED, "name": "third"})
    assert status == 409 and "max_experiments" in error["error"]["message"]

    status, listing = call(router, "GET", "/api/v1/experiments")
    assert status == 200
    assert [e["name"] for e in listing["experiments"]] == ["configured", "declared"]
    assert call(router, "GET", "/api/v1/experiments/declared")[1]["metric"] == "mae"
    status, error = call(router, "GET", "/api/v1/experiments/nope")
    assert status == 404 and "configured, declared" in error["error"]["message"]

    assert call(router, "DELETE", "/api/v1/experiments/configured")[0] == 409
    assert call(router, "DELETE", "/api/v1/experiments/declared") == (
        200,
        {"deleted": "declared"},
    )
    assert call(router, "DELETE", "/api/v1/experiments/declared")[0] == 404


def test_bad_declarations_name_the_field(tmp_path: Path) -> None:
    router = router_for(tmp_path)
    cases = [
        ({"name": "x"}, "arms"),
        ({**CONFIGURED, "name": "bad name"}, "name"),
        ({**CONFIGURED, "name": "n", "arms": [{"name": "a"}]}, "between 2 and 10"),
        ({**CONFIGURED, "name": "n", "metric": "f1"}, "metric"),
        ({**CONFIGURED, "name": "n", "control": "c"}, "control"),
        ({**CONFIGURED, "name": "n", "alpha": 0.7}, "alpha"),
        ({**CONFIGURED, "name": "n", "minimum_detectable_effect": -1}, "minimum_detectable"),
        ({**CONFIGURED, "name": "n", "arms": {"a": "v1"}}, "expected a list"),
        ({**CONFIGURED, "name": "n", "colour": "red"}, "unknown key 'colour'"),
        (
            {"name": "n", "arms": [{"name": "a", "version": "v"}, {"name": "b"}]},
            "every arm by version or none",
        ),
        ([1, 2], "JSON object"),
    ]
    for body, message in cases:
        status, error = call(router, "POST", "/api/v1/experiments", body)
        assert status == 400, body
        assert message in error["error"]["message"], (body, error)


def test_routes_are_described_in_openapi(tmp_path: Path) -> None:
    paths = router_for(tmp_path).openapi()["paths"]
    assert set(paths["/api/v1/experiments"]) == {"get", "post"}
    assert set(paths["/api/v1/experiments/{name}"]) == {"get", "delete"}
