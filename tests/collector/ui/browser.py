"""Headless Debian Chromium driven by Playwright for Python, for the web UI's tests.

The browser is Debian's ``/usr/bin/chromium`` (``.ci/run`` installs it), never one that
Playwright downloads. Screenshots go to ``$MLSPAN_TEST_ARTIFACTS/ui`` when that variable
is set, else to a pytest temporary folder, and their paths are printed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A running headless Chromium (a Playwright ``Browser``)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot_folder(default: Path) -> Path:
    """Where screenshots are kept (see the module docstring)."""
    root = os.environ.get("MLSPAN_TEST_ARTIFACTS")
    folder = Path(root) / "ui" if root else default
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Tab:
    """A page that records script errors, console errors and requests leaving 127.0.0.1."""

    page: Any
    folder: Path
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def open(self, url: str) -> Any:
        """Go to ``url``; the response must be 200."""
        response = self.page.goto(url)
        assert response is not None and response.status == 200, (url, response and response.status)
        return response

    def shot(self, name: str) -> Path:
        """Save a full-page screenshot as ``name.png``."""
        path = self.folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    def clean(self) -> None:
        """No script errors, and nothing fetched from anywhere but the collector."""
        assert not self.errors, self.errors
        assert not self.outside, self.outside


@contextmanager
def tab(browser: Any, folder: Path) -> Iterator[Tab]:
    """A fresh browser context and page watched for errors."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    watched = Tab(page, folder)
    page.on("pageerror", lambda error: watched.errors.append(f"pageerror: {error}"))
    page.on(
        "console",
        lambda message: (
            watched.errors.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )

    def request(req: Any) -> None:
        url = req.url
        if not (url.startswith("http://127.0.0.1") or url.startswith("data:")):
            watched.outside.append(url)

    page.on("request", request)
    try:
        yield watched
    finally:
        context.close()
