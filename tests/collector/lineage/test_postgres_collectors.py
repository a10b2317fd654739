"""Two collector processes on one PostgreSQL database give the answers one would.

Half of a pipeline's spans go to each collector over OTLP/HTTP; each collector's query
API then traces the final output through runs the other one stored, and a flag set
through one API shows in the other's answer at once.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.collector.lineage.collector_process import CollectorProcess, lineage_config
from tests.collector.lineage.otlp import Pipeline, request_bytes
from tests.support.otlp_client import http_post
from tests.support.postgres_server import fresh_schema_url

pytestmark = pytest.mark.slow


def _call(url: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _trace(api: str, ref: str) -> dict[str, Any]:
    answer: dict[str, Any] = _call(f"{api}/api/v1/trace/{ref}")
    return answer


@pytest.fixture
def collectors(tmp_path: Path, postgres_url: str) -> Iterator[list[CollectorProcess]]:
    url = fresh_schema_url(postgres_url)
    started: list[CollectorProcess] = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            document = lineage_config(tmp_path / name, api=True)
            document["storage"] = {"url": url}
            collector = CollectorProcess(tmp_path / name, document)
            collector.start()
            started.append(collector)
        yield started
    finally:
        for collector in started:
            collector.close()


def test_halves_of_a_pipeline_sent_to_two_collectors_trace_as_one(
    collectors: list[CollectorProcess],
) -> None:
    first, second = collectors
    p = Pipeline()
    clean = p.span("clean", ["file:raw.csv"], ["data:x:clean"])
    features = p.span("features", ["data:x:clean"], ["data:x:features"])
    train = p.span("train", ["data:x:features"], ["model:x:m"])
    score = p.span("score", ["model:x:m", "data:x:features"], ["data:x:scores"])
    for collector, spans in ((first, [clean, features]), (second, [train, score])):
        assert http_post(collector.http_endpoint, request_bytes("svc", spans)).status == 200
    expected = {"clean", "features", "train", "score"}
    deadline = time.monotonic() + 30
    seen: list[set[str]] = []
    while time.monotonic() < deadline:
        try:
            seen = [
                {run["component"] for run in _trace(c.api_url, "data:x:scores")["runs"]}
                for c in collectors
            ]
        except urllib.error.HTTPError:
            seen = []
        if seen and all(components == expected for components in seen):
            break
        time.sleep(0.2)
    assert seen == [expected, expected]
    assert _trace(first.api_url, "data:x:scores") == _trace(second.api_url, "data:x:scores")

    _call(f"{first.api_url}/api/v1/artifacts/data:x:clean/flag", "POST", {"reason": "dupes"})
    flagged = [_call(f"{c.api_url}/api/v1/flags") for c in collectors]
    assert flagged[0] == flagged[1]
    assert "data:x:clean" in json.dumps(flagged[1])
