"""The UI's pages and ``mlspan trace --format`` against a real server over a real store
(no drift or alerts running: those pages say so), without a browser."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mlspan.collector.api import ApiServer, Router
from mlspan.collector.api.lineage_routes import register_lineage_routes
from mlspan.collector.cli.main import main
from mlspan.collector.lineage import LineageQueries
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.store import open_store
from mlspan.collector.store.records import (
    ComponentRecord,
    IoRecord,
    LineageBatch,
    NameRecord,
    RunRecord,
)
from mlspan.collector.ui.config import UiConfig
from mlspan.collector.ui.routes import register_ui_routes
from mlspan.collector.ui.sources import UiSources
from tests.collector.ui.hostile_pipeline import IMG, SCRIPT

pytestmark = pytest.mark.slow

NOW = 1_800_000_000 * 10**9
OUTPUT = f"/data/{IMG}.csv"


def _run(run_id: str, component: str, operation: str, start: int) -> RunRecord:
    name = f"{operation} step"
    return RunRecord(run_id, "ab" * 16, "", "svc", name, operation, component, start,
                     start + 10**9, "ok", "", "3f2a9c1", "", '{"a": 0.5}', "", "", "")  # fmt: skip


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    store = open_store(tmp_path)
    batch = LineageBatch()
    batch.runs += [
        _run("a1", SCRIPT, "component", NOW),
        _run("b2", "score", "predict", NOW + 5 * 10**9),
    ]
    batch.io += [
        IoRecord("a1", "in", ("file:xxh3_128:raw",), NOW),
        IoRecord("a1", "out", ("data:xxh3_128:frame",), NOW),
        IoRecord("b2", "in", ("data:xxh3_128:frame",), NOW),
        IoRecord("b2", "out", ("file:xxh3_128:out",), NOW),
    ]
    batch.names += [
        NameRecord("file:xxh3_128:out", OUTPUT, NOW),
        NameRecord("file:xxh3_128:raw", "/data/raw.csv", NOW),
    ]
    batch.components.append(ComponentRecord(SCRIPT, IMG, (IMG,), NOW))
    store.write(batch)
    router = Router()
    queries = LineageQueries(store)
    register_lineage_routes(router, queries)
    register_ui_routes(router, UiSources(queries, IngestStats(), UiConfig(), writes_enabled=False))
    running = ApiServer("127.0.0.1", 0, router)
    running.start()
    try:
        yield running
    finally:
        running.shutdown()
        store.close()


class _Elements(HTMLParser):
    """Every start tag and its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def fetch(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def parsed(body: str) -> _Elements:
    elements = _Elements()
    elements.feed(body)
    return elements


def test_pages_answer_html_with_every_name_escaped(api: ApiServer) -> None:
    output = urllib.parse.quote(OUTPUT, safe="")
    pages = {
        "/": "svc",
        "/ui/runs": SCRIPT,
        f"/ui/runs?component={urllib.parse.quote(SCRIPT)}": IMG,
        "/ui/runs/a1": SCRIPT,
        "/ui/lineage": "score",
        f"/ui/lineage/{output}": f"{IMG}.csv",
        f"/ui/lineage/{output}?direction=downstream": f"{IMG}.csv",
        "/ui/drift": "drift connector is not running",
        "/ui/alerts": "alerts component is not running",
    }
    for path, expected in pages.items():
        status, content_type, body = fetch(api.url + path)
        assert status == 200, (path, body[:500])
        assert content_type == "text/html; charset=utf-8"
        elements = parsed(body)
        assert [a.get("src") for tag, a in elements.tags if tag == "script"] == ["/ui/static/ui.js"]
        assert not [tag for tag, _ in elements.tags if tag == "img"], path
        assert not any(k.startswith("on") for _, a in elements.tags for k in a), path
        assert expected in "".join(elements.text), (path, expected)
        # read-only: no write controls
        assert "write-button" not in body and 'class="write"' not in body, path


def test_lookups_that_fail_are_html_pages(api: ApiServer) -> None:
    status, content_type, body = fetch(api.url + "/ui/runs/" + urllib.parse.quote(SCRIPT, safe=""))
    assert status == 404 and content_type.startswith("text/html")
    assert "<script>window" not in body and "&lt;script&gt;" in body
    status, _, body = fetch(api.url + "/ui/lineage/x/export/png")
    assert status == 400 and "unknown export format" in body
    status, _, _ = fetch(api.url + "/ui/static/../../etc/passwd")
    assert status == 404
    status, content_type, css = fetch(api.url + "/ui/static/ui.css")
    assert status == 200 and content_type.startswith("text/css") and "body" in css


def test_search_redirects_to_the_graph_and_exports_download(
    api: ApiServer,
) -> None:
    status, _, body = fetch(api.url + "/ui/lineage?ref=" + urllib.parse.quote(OUTPUT))
    assert status == 200 and 'class="lineage"' in body  # followed the 303
    base = api.url + "/ui/lineage/" + urllib.parse.quote(OUTPUT, safe="") + "/export/"
    status, content_type, svg = fetch(base + "svg?collapse=false")
    assert status == 200 and content_type.startswith("image/svg+xml")
    assert "data frame" in svg and "&lt;script&gt;" in svg
    _, _, folded = fetch(base + "svg")
    assert "data frame" not in folded
    status, content_type, dot = fetch(base + "dot")
    assert content_type.startswith("text/vnd.graphviz") and dot.startswith("digraph")


@pytest.mark.parametrize(
    ("fmt", "head"),
    [("text", "file:xxh3_128:out"), ("dot", "digraph lineage {"), ("mermaid", "flowchart LR")],
)
def test_cli_trace_formats(
    api: ApiServer, fmt: str, head: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", OUTPUT, "--api", api.url, "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert out.startswith(head)
    assert "score" in out


def test_cli_trace_json_format_is_the_api_answer(
    api: ApiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", OUTPUT, "--api", api.url, "--format", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert {r["run_id"] for r in answer["runs"]} == {"a1", "b2"}


HOSTILE_VALUES = ("inf", "-inf", "nan", "1e309", "1e308", "-1e309", "%ED%A0%80", "%00", "1_000")
"""Query values a fuzz run sent: non-finite and overflowing numbers, a lone surrogate's
UTF-8 bytes, NUL, Python-only literals."""


@pytest.mark.parametrize(
    "target",
    [
        "/ui/runs/?since=inf",
        "/ui/runs?since=1e309&until=%ED%A0%80",
        "/ui/runs?until=1e18&limit=%ED%A0%80&limit=1_000",
        "/ui/runs?since=-1e309",
        "/ui/runs?until=nan",
        "/ui/runs?limit=99999999999999999999999",
        "/ui/runs?service=Infinity&since=1e308&cursor=NaN",
    ],
)
def test_hostile_query_values_found_by_the_fuzz_run_are_400(api: ApiServer, target: str) -> None:
    status, content_type, body = fetch(api.url + target)
    assert status in (200, 400), (target, status, body[:300])
    assert content_type == "text/html; charset=utf-8" and "internal error" not in body


@pytest.mark.parametrize(
    "target",
    [
        "/ui/runs?limit=abc",
        "/ui/runs?limit=0",
        "/ui/runs?status=bogus",
        "/ui/runs?since=soon",
        "/ui/lineage/a1?max_depth=-1",
        "/ui/lineage/a1?collapse=maybe",
        "/ui/lineage?direction=sideways",
        "/ui/drift/model?service=svc",
        "/ui/runs?" + "&".join(f"p{i}=1" for i in range(300)),
    ],
)
def test_bad_parameters_are_html_400_pages(api: ApiServer, target: str) -> None:
    """Refused query parameters, checked by the router before the page runs, still
    answer the UI's HTML error page (not the API's JSON error)."""
    status, content_type, body = fetch(api.url + target)
    assert (status, content_type) == (400, "text/html; charset=utf-8"), (target, body[:300])
    assert "<h1" in body or "Error 400" in body


def test_no_ui_route_answers_500_to_hostile_values(api: ApiServer) -> None:
    """Every UI route with every parameter set to each hostile value: 4xx or 200 pages,
    never a 5xx (the handler failures that become 500 are bugs)."""
    routes = {
        "/ui/runs": ("service", "component", "status", "since", "until", "limit"),
        "/ui/lineage": ("ref", "direction"),
        "/ui/lineage/a1": ("direction", "collapse", "max_depth"),
        "/ui/lineage/a1/export/svg": ("direction", "collapse", "max_depth"),
        "/ui/drift/model": ("service", "model", "version"),
        "/ui/drift/feature": ("service", "model", "version", "feature", "origin"),
        "/ui/models/churn": ("service",),
        "/ui/models/churn/diff": ("service", "a", "b"),
        "/": (),
        "/ui/alerts": (),
        "/ui/drift": (),
        "/ui/models": (),
        "/ui/experiments": (),
    }
    seen = set()
    for path, names in routes.items():
        for value in HOSTILE_VALUES:
            query = "&".join(f"{name}={value}" for name in names)
            for target in (f"{path}?{query}", f"{path}/{value}"):
                status, _, body = fetch(api.url + target)
                assert status < 500, (target, status, body[:300])
                seen.add(status)
    for value in ("%ED%A0%80", "%00", "x" * 3000, "%2e%2e"):
        for path in ("/ui/runs/", "/ui/lineage/", "/ui/models/"):
            status, _, body = fetch(api.url + path + value)
            assert status < 500, (path + value, status, body[:300])
    assert 400 in seen
