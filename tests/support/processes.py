"""Start real servers (Prometheus, Alertmanager, ...) as background processes for tests.

Each server runs on 127.0.0.1, logs into the test's folder and is polled until its
readiness URL answers 200; it is terminated (then killed) when the context exits.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

WAIT_S = 90.0
"""Default bound on every wait."""


def poll(what: str, probe: Callable[[], T | None], timeout: float = WAIT_S) -> T:
    """Call ``probe`` until it returns a value (not None); fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (urllib.error.URLError, ConnectionError, KeyError) as exc:
            last_error, value = exc, None
        if value is not None:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error})")


@contextmanager
def background_process(name: str, args: list[str], folder: Path, ready_url: str) -> Iterator[None]:
    """Run ``args`` until the block ends, once ``ready_url`` answers 200."""
    log_path = folder / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:

        def ready() -> bool | None:
            if process.poll() is not None:
                pytest.fail(f"{name} exited: {log_path.read_text()[-2000:]}")
            with urllib.request.urlopen(ready_url, timeout=2) as response:
                return True if response.status == 200 else None

        poll(f"{name} to be ready", ready)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
