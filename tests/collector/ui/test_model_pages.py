"""The models and experiments pages against a real collector running the model
registry, fed with spans recorded from the instrumented churn pipeline (two copies:
two versions of each model)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from tests.collector.models.collector import models_collector
from tests.collector.ui.test_pages_and_formats import fetch, parsed
from tests.support.instrumented_spans import record_pipeline, replay
from tests.support.otlp_client import http_post
from tests.support.processes import poll

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("ui-models")
    with models_collector(folder, processors=("lineage", "models", "experiments")) as collector:
        url, http_address = collector.api_url, collector.http_address
        recorded = record_pipeline()
        spans = sum(len(s.spans) for r in recorded.resource_spans for s in r.scope_spans)
        for seed in (1, 2):
            answer = http_post(http_address, replay(recorded, spans, seed).SerializeToString())
            assert answer.status == 200, answer

        def two_versions() -> Any:
            status, _, body = fetch(f"{url}/ui/models")
            return body if status == 200 and "registry-model" in body else None

        poll("models in the registry", two_versions, timeout=60)
        yield url


def test_models_versions_and_diff_pages(api: str) -> None:
    status, _, body = fetch(api + "/ui/models")
    assert status == 200
    links = [
        a["href"]
        for tag, a in parsed(body).tags
        if tag == "a" and a.get("class") == "registry-model"
    ]
    assert links
    status, _, body = fetch(api + str(links[0]))
    assert status == 200, body[:500]
    assert "table" in body and "versions" in body
    page = parsed(body)
    a = next(
        (
            attrs.get("value")
            for tag, attrs in page.tags
            if tag == "input" and attrs.get("name") == "a"
        ),
        None,
    )
    b = next(
        (
            attrs.get("value")
            for tag, attrs in page.tags
            if tag == "input" and attrs.get("name") == "b"
        ),
        None,
    )
    assert a and b and a != b  # two versions: the diff form is offered, filled in
    path = urllib.parse.urlsplit(str(links[0]))
    name = path.path.rsplit("/", 1)[1]
    status, _, body = fetch(f"{api}/ui/models/{name}/diff?{path.query}&a={a}&b={b}")
    assert status == 200, body[:500]
    assert 'class="diff"' in body
    status, _, body = fetch(f"{api}/ui/models/no-such-model")
    assert status == 404 and 'class="error"' in body


def test_experiments_page_without_experiments(api: str) -> None:
    status, _, body = fetch(api + "/ui/experiments")
    assert status == 200 and "No experiments declared" in body
