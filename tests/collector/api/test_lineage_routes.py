"""Lineage routes over a real socket: every query, 404/400 messages, OpenAPI validity."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from mlspan.collector.api import lineage_models as models
from tests.collector.lineage.served import Served, served_pipeline

pytestmark = pytest.mark.slow


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Served]:
    with served_pipeline(tmp_path) as served:
        yield served


def call(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None or method not in ("GET", "HEAD"):
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.load(exc)


def test_trace_by_path_with_staleness(api: Served) -> None:
    status, body = call(f"{api.url}/api/v1/trace/out%2Fpredictions.csv")
    assert status == 200
    assert body["root"]["matched_by"] == "name"
    assert {r["component"]: r["depth"] for r in body["runs"]} == {
        "predict": 1,
        "train": 2,
        "clean": 3,
        "load": 4,
    }
    assert [w["reason"] for w in body["warnings"]] == ["superseded"]
    assert body["warnings"][0]["newer_run_id"] == api.run_id("clean2")


def test_impact_show_history_recent(api: Served) -> None:
    status, body = call(f"{api.url}/api/v1/impact/{api.run_id('clean')}")
    assert status == 200
    assert {r["component"] for r in body["runs"]} == {"clean", "train", "predict"}
    status, shown = call(f"{api.url}/api/v1/runs/{api.run_id('train')}")
    assert status == 200
    assert [a["artifact_id"] for a in shown["inputs"]] == ["data:x:clean"]
    assert shown["inputs"][0]["produced_by"] == [api.run_id("clean")]
    assert shown["outputs"][0]["consumed_by"] == [api.run_id("predict")]
    status, history = call(f"{api.url}/api/v1/components/clean/runs?limit=1")
    assert [r["run_id"] for r in history["runs"]] == [api.run_id("clean2")]
    since = api.spans["clean2"].start_time_unix_nano / 1e9
    _, older = call(f"{api.url}/api/v1/components/clean/runs?until={since}")
    assert [r["run_id"] for r in older["runs"]] == [api.run_id("clean")]
    pages: list[str] = []
    cursor = ""
    while True:
        _, page = call(f"{api.url}/api/v1/runs?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        pages.extend(r["component"] for r in page["runs"])
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert pages == ["clean", "predict", "train", "clean", "load"]


def test_flag_review_tags_notes(api: Served) -> None:
    status, flagged = call(
        f"{api.url}/api/v1/artifacts/out%2Fpredictions.csv/flag", "POST", {"reason": "bad"}
    )
    assert status == 200 and flagged["flagged"] is True
    _, review = call(f"{api.url}/api/v1/review")
    assert review["flagged"] == 1
    assert {e["run"]["component"] for e in review["runs"]} == {"predict", "train", "clean", "load"}
    status, tags = call(
        f"{api.url}/api/v1/components/train/tags", "POST", {"add": ["prod", "v1"], "remove": []}
    )
    assert (status, tags["tags"]) == (200, ["prod", "v1"])
    _, tags = call(f"{api.url}/api/v1/components/train/tags", "POST", {"remove": ["v1"]})
    assert tags["tags"] == ["prod"]
    status, note = call(
        f"{api.url}/api/v1/runs/{api.run_id('train')}/notes", "POST", {"text": "retrain"}
    )
    assert status == 200 and note["text"] == "retrain"
    _, shown = call(f"{api.url}/api/v1/runs/{api.run_id('train')}")
    assert [n["text"] for n in shown["notes"]] == ["retrain"]
    assert shown["component_tags"] == ["prod"]
    status, _ = call(f"{api.url}/api/v1/artifacts/out%2Fpredictions.csv/flag", "DELETE")
    assert status == 200
    assert call(f"{api.url}/api/v1/flags")[1] == {"flags": []}


@pytest.mark.parametrize(
    ("method", "path", "body", "fragment"),
    [
        ("GET", "/api/v1/trace/nothing-here", None, "no run or artifact matches 'nothing-here'"),
        ("GET", "/api/v1/runs/data:x:raw", None, "is an artifact, not a run"),
        ("GET", "/api/v1/components/ghost/runs", None, "no component named 'ghost'"),
        ("POST", "/api/v1/artifacts/nope/flag", {}, "no run or artifact matches 'nope'"),
        ("POST", "/api/v1/runs/ffffffffffffffff/notes", {"text": "x"}, "matches 'ffffffff"),
    ],
)
def test_unknown_ids_are_404_with_message(
    api: Served, method: str, path: str, body: Any, fragment: str
) -> None:
    status, answer = call(api.url + path, method, body)
    assert status == 404
    assert fragment in answer["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "body", "fragment"),
    [
        ("GET", "/api/v1/runs?cursor=zzz", None, "malformed cursor"),
        ("GET", "/api/v1/runs?limit=0", None, "must be >= 1"),
        ("GET", "/api/v1/trace/data:x:", None, "matches several ids"),
        (
            "POST",
            "/api/v1/components/train/tags",
            {"add": "x"},
            "add: Input should be a valid list",
        ),
        ("POST", "/api/v1/components/train/tags", {"add": [""]}, "add.0: String should have at"),
        ("POST", "/api/v1/components/train/notes", {"text": " "}, "text: Value error, must be a"),
        ("POST", "/api/v1/components/train/notes", {"text": 5}, "text: Input should be a valid st"),
    ],
)
def test_bad_requests_are_400_with_message(
    api: Served, method: str, path: str, body: Any, fragment: str
) -> None:
    status, answer = call(api.url + path, method, body)
    assert status == 400
    assert fragment in answer["error"]["message"]


def test_openapi_documents_every_lineage_route(api: Served) -> None:
    status, document = call(f"{api.url}/openapi.json")
    assert status == 200
    validate(document)
    expected = {
        "/api/v1/trace/{ref}",
        "/api/v1/impact/{ref}",
        "/api/v1/runs",
        "/api/v1/runs/{run_id}",
        "/api/v1/components/{component}/runs",
        "/api/v1/artifacts/{ref}/flag",
        "/api/v1/flags",
        "/api/v1/review",
        "/api/v1/runs/{run_id}/tags",
        "/api/v1/components/{component}/notes",
    }
    assert expected <= set(document["paths"])
    assert set(document["paths"]["/api/v1/artifacts/{ref}/flag"]) == {"post", "delete"}
    assert "404" in document["paths"]["/api/v1/runs/{run_id}"]["get"]["responses"]


def test_answers_match_their_typed_models(api: Served) -> None:
    """Real answers of every lineage route validate against the models the OpenAPI
    document is generated from (extra keys are allowed, missing or mistyped ones not)."""
    train, flagged = api.run_id("train"), "out%2Fpredictions.csv"
    call(f"{api.url}/api/v1/artifacts/{flagged}/flag", "POST", {"reason": "bad"})
    call(f"{api.url}/api/v1/runs/{train}/notes", "POST", {"text": "checked"})
    answers: list[tuple[Any, str, str, Any]] = [
        (models.LineageGraph, "GET", f"/api/v1/trace/{flagged}", None),
        (models.LineageGraph, "GET", f"/api/v1/impact/{api.run_id('clean')}", None),
        (models.RunsPage, "GET", "/api/v1/runs?limit=2", None),
        (models.RunDetail, "GET", f"/api/v1/runs/{train}", None),
        (models.ComponentHistory, "GET", "/api/v1/components/clean/runs", None),
        (models.Flags, "GET", "/api/v1/flags", None),
        (models.Review, "GET", "/api/v1/review", None),
        (models.Notes, "GET", f"/api/v1/runs/{train}/notes", None),
        (models.Tags, "POST", "/api/v1/components/train/tags", {"add": ["prod"]}),
        (models.Note, "POST", "/api/v1/components/train/notes", {"text": "n"}),
        (models.Artifact, "DELETE", f"/api/v1/artifacts/{flagged}/flag", None),
    ]
    for model, method, path, body in answers:
        status, answer = call(api.url + path, method, body)
        assert status == 200, (path, answer)
        model.model_validate(answer)
    assert models.Flags.model_validate(call(f"{api.url}/api/v1/flags")[1]).flags == []


def test_openapi_schemas_come_from_the_models(api: Served) -> None:
    _, document = call(f"{api.url}/openapi.json")
    validate(document)
    assert document["openapi"].startswith("3.1")
    schemas = document["components"]["schemas"]
    assert {"Run", "LineageGraph", "RunsPage", "NoteBody", "TagsBody", "Error"} <= set(schemas)
    assert schemas["Run"]["properties"]["start_ns"]["type"] == "integer"
    trace = document["paths"]["/api/v1/trace/{ref}"]["get"]
    answer = trace["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/LineageGraph"}
    note = document["paths"]["/api/v1/runs/{run_id}/notes"]["post"]["requestBody"]
    assert note["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NoteBody"
    }
    assert schemas["NoteBody"]["required"] == ["text"]
