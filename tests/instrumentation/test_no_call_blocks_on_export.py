"""No instrumented call waits for the exporter, whatever the endpoint does.

With the collector down, a slow call was seen (75-98 ms against <= 2.6 ms plain); it was
a full (generation-2) garbage collection, which CPython runs on whatever thread
allocates when it triggers: ended spans waiting in the SDK's queue are long-lived
objects and set the trigger off, and the collection walks the whole heap (about 140k
objects for scikit-learn, numpy and the SDK: 70-120 ms here, with a live collector as
well; see bench/RESULTS.md, "Collector down"). What the export path itself may cost a
call (queueing a span, waking the export thread, GIL hand-overs with it while it
encodes, retries or waits) is bounded here: the slowest call during which no full
collection ran, with a refused port and with a blackhole, stays within 250 ms of the
slowest plain call: far below what waiting on the export path would cost (a retry
backoff starts at 1 s, a blackhole holds a request for the exporter's 10 s timeout), far
above the scheduler's noise on a loaded shared 2-core machine (30-40 ms seen). Each side
keeps its best of up to three runs. The precise figures are a benchmark's job
(bench/dead_endpoint.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.instrumentation.predict_loop import Blackhole, LoopFigures, run_loop
from tests.support.otlp_sink import HOST, free_port

pytestmark = pytest.mark.slow

CALLS = 3000
BOUND_MS = 250.0


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    server = Blackhole()
    try:
        yield server
    finally:
        server.close()


def best_of(run: Callable[[], LoopFigures], good_enough: float, tries: int = 3) -> float:
    """The smallest ``max_without_full_gc_ms`` of up to ``tries`` runs (stops when good)."""
    best = float("inf")
    for _ in range(tries):
        best = min(best, run().max_without_full_gc_ms)
        if best <= good_enough:
            break
    return best


@pytest.fixture(scope="module")
def plain_ms(tmp_path_factory: pytest.TempPathFactory) -> float:
    """The slowest plain call (best of up to three runs)."""
    folder = tmp_path_factory.mktemp("plain")
    return best_of(lambda: run_loop("-", CALLS, folder), good_enough=3.0)


@pytest.mark.parametrize("destination", ["refused", "blackhole"])
def test_slowest_call_with_a_dead_endpoint_stays_near_plain(
    tmp_path: Path, blackhole: Blackhole, destination: str, plain_ms: float
) -> None:
    endpoint = f"http://{HOST}:{free_port()}" if destination == "refused" else blackhole.endpoint
    plain = plain_ms
    instrumented = best_of(
        lambda: run_loop(endpoint, CALLS, tmp_path), good_enough=plain + BOUND_MS / 2
    )
    assert instrumented < plain + BOUND_MS, (instrumented, plain)
