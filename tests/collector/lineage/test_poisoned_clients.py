"""Poisoned spans from one client never cost other clients their acknowledged lineage.

A real collector process; four clients send ML spans concurrently over OTLP/gRPC and
OTLP/HTTP while a fifth sends spans with ``start_time_unix_nano`` >= 2^63 (and other
poison) - the case that used to drop whole merged writes as ``lineage_store_error``.
Every acknowledged run of the good clients must be stored, the poisoned runs too (with
clamped times), and ``/metrics`` must count the repairs and no lost span.
"""

from __future__ import annotations

import signal
import threading
import urllib.request
from pathlib import Path

import grpc
import pytest

from mlspan.collector.store import SqliteStore, open_store
from tests.collector.lineage.collector_process import CollectorProcess, lineage_config, run_ids
from tests.collector.lineage.otlp import Pipeline, request_bytes
from tests.support.otlp_client import grpc_export, http_post
from tests.support.spans import request_bytes as ml_request_bytes

pytestmark = pytest.mark.slow

GOOD_CLIENTS = 4
REQUESTS = 25
SPANS = 64
POISONED_REQUESTS = 10


def _poisoned_bodies() -> tuple[list[bytes], set[str]]:
    pipeline = Pipeline(service="poisoner", first_id=1 << 40)
    bodies: list[bytes] = []
    ids: set[str] = set()
    for n in range(POISONED_REQUESTS):
        spans = [pipeline.span(f"p{n}", [f"data:p{n}:{k}"], [f"data:q{n}:{k}"]) for k in range(4)]
        spans[0].start_time_unix_nano = 2**63 + n
        spans[1].start_time_unix_nano = 2**64 - 1
        spans[1].end_time_unix_nano = 2**64 - 1
        spans[2].start_time_unix_nano = 0
        spans[3].end_time_unix_nano = 1
        bodies.append(request_bytes("poisoner", spans))
        ids |= {span.span_id.hex() for span in spans}
    return bodies, ids


def _metric(api_url: str, name: str) -> float:
    with urllib.request.urlopen(f"{api_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_poisoned_spans_leave_other_clients_lineage_whole(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path, lineage_config(tmp_path, api=True))
    acked: set[str] = set()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def good_client(client: int) -> None:
        try:
            channel = grpc.insecure_channel(collector.grpc_endpoint)
            for n in range(REQUESTS):
                body = ml_request_bytes(SPANS, seed=client * 1000 + n, service=f"client-{client}")
                if client % 2:
                    assert http_post(collector.http_endpoint, body, timeout=30).status == 200
                else:
                    grpc_export(channel, body, timeout=30)
                with lock:
                    acked.update(run_ids(body))
            channel.close()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def poisoner(bodies: list[bytes]) -> None:
        try:
            for body in bodies:
                assert http_post(collector.http_endpoint, body, timeout=30).status == 200
        except BaseException as exc:
            errors.append(exc)

    poisoned, poisoned_ids = _poisoned_bodies()
    try:
        collector.start()
        threads = [threading.Thread(target=good_client, args=(c,)) for c in range(GOOD_CLIENTS)]
        threads.append(threading.Thread(target=poisoner, args=(poisoned,)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(240)
        assert not errors, errors
        clamped = 0.0
        for _ in range(100):  # the writer catches up
            clamped = _metric(collector.api_url, "mlspan_lineage_values_clamped_total")
            if clamped >= 5 * POISONED_REQUESTS:
                break
            threading.Event().wait(0.1)
        dropped = _metric(collector.api_url, "mlspan_spans_dropped_total")
        assert collector.stop(signal.SIGTERM) == 0
    finally:
        collector.close()
    store = open_store(collector.data_dir)
    assert isinstance(store, SqliteStore)
    try:
        stored = store.runs(acked | poisoned_ids)
    finally:
        store.close()
    assert len(acked) == GOOD_CLIENTS * REQUESTS * SPANS
    lost = len(acked - set(stored))
    assert lost == 0, f"{lost} of {len(acked)} acknowledged good runs lost"
    assert poisoned_ids <= set(stored)
    assert all(0 < stored[i].start_ns <= stored[i].end_ns < 2**63 for i in poisoned_ids)
    # start >= 2^63 twice, 0 once and an end before the start once per request (x2 for
    # the 2^64-1 end): at least five repairs per poisoned request, and nothing lost.
    assert clamped >= 5 * POISONED_REQUESTS
    assert dropped == 0
