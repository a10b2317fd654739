"""A store that cannot take writes delays lineage; it does not lose acknowledged lineage.

The store is made unavailable for real: another connection holds SQLite's write lock.
While it lasts, the writer retries, the write-ahead log fills and receivers answer with
OTLP's retryable status; once the lock is released everything acknowledged is stored.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest

from mlspan.collector.lineage import LineageConfig, LineageProcessor
from mlspan.collector.lineage.wal import WriteAheadLog
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.store import SqliteStore, open_store
from tests.collector.lineage.collector_process import CollectorProcess, lineage_config, run_ids
from tests.collector.lineage.otlp import Pipeline, batch
from tests.support.otlp_client import grpc_export, http_post
from tests.support.spans import request_bytes

MIB = 1024 * 1024


@contextmanager
def write_locked(database: Path) -> Iterator[None]:
    """Hold SQLite's write lock on ``database`` from another connection."""
    connection = sqlite3.connect(database, isolation_level=None, timeout=30)
    connection.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


def _log(folder: Path) -> WriteAheadLog:
    return WriteAheadLog(folder, max_bytes=64 * MIB, segment_bytes=8 * MIB)


def test_writes_wait_for_a_locked_store_and_stay_in_the_log_at_shutdown(
    tmp_path: Path, sqlite_store: SqliteStore
) -> None:
    store = sqlite_store
    # SQLite waits 30 s for a lock before failing; a short wait makes the store report
    # itself unavailable within the test.
    store._writer.execute("PRAGMA busy_timeout=100")
    pipeline = Pipeline()
    spans = [pipeline.span(f"s{n}", [f"data:{n}"], [f"data:{n + 1}"]) for n in range(8)]
    ids = [span.span_id.hex() for span in spans]
    stats = IngestStats()
    processor = LineageProcessor(LineageConfig(), store, stats, wal=_log(tmp_path / "wal"))
    processor.start()
    with write_locked(store.path):
        processor.consume(batch("svc", spans[:4]))
        time.sleep(0.8)  # several failed attempts
        assert store.runs(ids) == {}
    assert processor.flush(10)
    assert len(store.runs(ids[:4])) == 4
    with write_locked(store.path):
        processor.consume(batch("svc", spans[4:]))
        time.sleep(0.3)
        processor.shutdown()  # gives up on the locked store; the log keeps the batch
    assert len(store.runs(ids)) == 4
    assert stats.snapshot().spans_dropped == {}
    restarted = LineageProcessor(LineageConfig(), store, IngestStats(), wal=_log(tmp_path / "wal"))
    restarted.start()
    restarted.shutdown()
    assert len(store.runs(ids)) == 8


@pytest.mark.slow
def test_a_full_log_answers_retryable_and_retried_requests_are_all_stored(
    tmp_path: Path,
) -> None:
    collector = CollectorProcess(tmp_path, lineage_config(tmp_path, {"wal_max_mb": 1}))
    bodies = [request_bytes(64, seed=seed, service="retrying") for seed in range(12)]
    refused_http = refused_grpc = 0
    try:
        collector.start()
        with write_locked(collector.data_dir / "lineage.db"):
            channel = grpc.insecure_channel(collector.grpc_endpoint)
            waiting: list[bytes] = []
            for n, body in enumerate(bodies):
                if n % 2:
                    answer = http_post(collector.http_endpoint, body)
                    assert answer.status in (200, 429), answer
                    if answer.status == 429:
                        assert "retry-after" in answer.headers
                        refused_http += 1
                        waiting.append(body)
                    continue
                try:
                    grpc_export(channel, body)
                except grpc.RpcError as exc:
                    assert exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, exc
                    refused_grpc += 1
                    waiting.append(body)
            channel.close()
        for body in waiting:  # as an OTLP exporter retries
            for _ in range(100):
                if http_post(collector.http_endpoint, body).status == 200:
                    break
                time.sleep(0.1)
            else:
                pytest.fail("a retried request was never accepted")
        assert collector.stop(signal.SIGTERM) == 0
    finally:
        collector.close()
    assert refused_http and refused_grpc
    wanted = set().union(*(run_ids(body) for body in bodies))
    store = open_store(collector.data_dir)
    try:
        assert len(store.runs(wanted)) == len(wanted)
    finally:
        store.close()
