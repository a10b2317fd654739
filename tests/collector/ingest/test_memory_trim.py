"""``service.runtime.malloc_trim_interval_seconds``: free heap pages go back to the kernel."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

from mlspan.collector.pipeline.factory import ConfigError
from mlspan.collector.service.config import parse_config
from mlspan.collector.service.factories import default_factories
from mlspan.collector.service.memory_trim import MemoryTrimmer

FACTORIES = default_factories()
GLIBC = platform.libc_ver()[0] == "glibc"


def _document(runtime: dict[str, Any]) -> dict[str, Any]:
    service = {
        "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["debug"]}},
        "runtime": runtime,
    }
    return {"receivers": {"otlp": {}}, "exporters": {"debug": {}}, "service": service}


def test_interval_parses_and_bad_values_fail_naming_the_key() -> None:
    runtime = parse_config(_document({"malloc_trim_interval_seconds": 2}), FACTORIES)
    assert runtime.service.runtime.malloc_trim_interval_seconds == 2.0
    for bad in (-1, 1e9, float("nan")):
        with pytest.raises(ConfigError, match="malloc_trim_interval_seconds"):
            parse_config(_document({"malloc_trim_interval_seconds": bad}), FACTORIES)


def test_zero_interval_never_starts_a_thread() -> None:
    trimmer = MemoryTrimmer(0)
    trimmer.start()
    assert not trimmer.active
    trimmer.trim_now()
    assert trimmer.trims == 0
    trimmer.stop()


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_thread_trims_every_interval_until_stopped() -> None:
    trimmer = MemoryTrimmer(0.02)
    trimmer.start()
    deadline = time.monotonic() + 10
    while trimmer.trims < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    trimmer.stop()
    assert trimmer.trims >= 3
    stopped_at = trimmer.trims
    time.sleep(0.1)
    assert trimmer.trims == stopped_at


_FRAGMENTED_HEAP = textwrap.dedent(
    """
    import os
    from mlspan.collector.service.memory_trim import MemoryTrimmer
    from mlspan.collector.service.runtime import RuntimeConfig, tune_allocator

    tune_allocator(RuntimeConfig())  # the collector's 32 MiB trim threshold

    def rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    blocks = [bytes([i % 251]) * 32768 for i in range(4000)]  # ~128 MB from the heap
    kept = blocks[::64]  # one block in 64 stays: the heap cannot shrink from the top
    del blocks
    before = rss()
    MemoryTrimmer(1).trim_now()
    print(before, rss(), len(kept))
    """
)


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_trim_returns_free_pages_inside_a_fragmented_heap() -> None:
    """After a burst, the live blocks pin the heap's top, so glibc's trim threshold never
    gives the free pages between them back: RSS stays at the burst's peak until
    ``malloc_trim`` releases them."""
    done = subprocess.run(
        [sys.executable, "-c", _FRAGMENTED_HEAP],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    before, after, _ = (int(word) for word in done.stdout.split())
    assert before - after > 80 * 2**20, (before, after)
