"""Span-supplied strings never become markup: a pipeline whose service, component,
owner, tag, feature, category and file names are ``<script>`` and
``"><img onerror=...>`` payloads is sent to a real collector, and every page that
shows them is checked in Chromium's DOM (the payloads set ``window.__xss`` if run)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.collector.api.collector_process import RunningCollector, running_collector
from tests.collector.ui import hostile_pipeline
from tests.collector.ui.browser import Tab, chromium, screenshot_folder, tab
from tests.support.launcher import clean_environment
from tests.support.processes import poll

pytestmark = pytest.mark.slow

PAYLOADS = (hostile_pipeline.SCRIPT, hostile_pipeline.IMG)


def _post(url: str) -> Any:
    request = urllib.request.Request(
        url, data=b"", method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningCollector, Path]]:
    folder = tmp_path_factory.mktemp("ui-hostile")
    with running_collector(folder) as running:
        script = Path(hostile_pipeline.__file__)
        result = subprocess.run(
            [sys.executable, str(script), f"http://{running.http_address}", str(folder)],
            env=clean_environment() | {"PYTHONPATH": str(Path(__file__).parents[3])},
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        running.wait_for_runs(4)

        def drift_ready() -> Any:
            _post(f"{running.api_url}/api/v1/drift/windows/close")
            results = running.get_json("/api/v1/drift")["results"]
            return results or None

        poll("drift results", drift_ready, timeout=90)
        yield running, folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as running:
        yield running


def assert_inert(page: Tab, *texts: str) -> None:
    """No payload ran or became an element, and each of ``texts`` shows as text."""
    dom = page.page.evaluate(
        """() => ({
            xss: window.__xss === undefined ? null : window.__xss,
            scripts: Array.from(document.scripts).map(s => s.getAttribute("src")),
            images: document.images.length,
            handlers: document.querySelectorAll("[onerror],[onload],[onclick]").length,
            text: document.body.innerText + " " +
                Array.from(document.querySelectorAll("svg text, svg title"))
                    .map(t => t.textContent).join(" "),
        })"""
    )
    assert dom["xss"] is None, dom["xss"]
    assert dom["scripts"] == ["/ui/static/ui.js"]
    assert dom["images"] == 0
    assert dom["handlers"] == 0
    for text in texts:
        assert text in dom["text"], text


def test_hostile_names_stay_text_on_every_page(
    collector: tuple[RunningCollector, Path],
    browser: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    running, folder = collector
    base = running.api_url
    shots = screenshot_folder(tmp_path_factory.getbasetemp() / "ui-screenshots")
    with tab(browser, shots) as page:
        page.open(base + "/")
        assert_inert(page, hostile_pipeline.SERVICE)
        page.shot("30-hostile-overview")

        page.open(base + "/ui/runs")
        assert_inert(page, hostile_pipeline.SCRIPT)
        page.open(base + "/ui/runs?component=" + urllib.parse.quote(hostile_pipeline.SCRIPT))
        assert_inert(page, hostile_pipeline.SCRIPT, hostile_pipeline.IMG)  # owner, tag
        page.page.locator("a.run-link").first.click()
        page.page.wait_for_selector("table.facts")
        assert_inert(page, hostile_pipeline.SCRIPT, f"{hostile_pipeline.IMG}.csv")
        page.shot("31-hostile-run")

        output = folder / hostile_pipeline.OUTPUT_NAME
        page.open(base + "/ui/lineage?ref=" + urllib.parse.quote(str(output)))
        page.page.wait_for_selector("svg.lineage")
        page.open(page.page.url + "&collapse=false")
        assert_inert(page, hostile_pipeline.OUTPUT_NAME, hostile_pipeline.SCRIPT)
        page.shot("32-hostile-lineage")

        page.open(base + "/ui/drift")
        page.page.locator("a.model-link").first.click()
        page.page.wait_for_selector("table.features")
        features = page.page.locator("table.features tbody tr")
        names = {features.nth(i).get_attribute("data-feature") for i in range(features.count())}
        assert set(PAYLOADS) <= names, names
        assert_inert(page, *PAYLOADS)
        page.shot("33-hostile-drift")
        for payload in PAYLOADS:
            link = page.page.locator(f"tr[data-feature={json.dumps(payload)}] a.feature-link")
            link.click()
            page.page.wait_for_selector("figure.distribution svg")
            assert_inert(page, payload)
            page.page.go_back()
        page.open(base + "/ui/alerts")
        assert_inert(page)
        page.clean()

    # The exports quote the names for their own syntax too.
    ref = urllib.parse.quote(str(output), safe="")
    for kind in ("dot", "mermaid"):
        with urllib.request.urlopen(f"{base}/ui/lineage/{ref}/export/{kind}", timeout=30) as r:
            text = r.read().decode()
        if kind == "mermaid":
            assert "<" not in text
        else:
            assert '\\"><img' in text
