"""Bounded queues, backoff, retry-delay parsing and rate-limited logging."""

from __future__ import annotations

import logging
import random
import threading
from pathlib import Path

import pytest

from mlspan.collector.exporters.otlp.http_sender import parse_retry_after
from mlspan.collector.exporters.retry import Backoff, RetryConfig
from mlspan.collector.pdata import QueueFullError
from mlspan.collector.pipeline.ratelog import RateLimitedLog
from mlspan.collector.queue import DiskQueue, MemoryQueue, QueueClosedError
from mlspan.collector.queue.base import BatchQueue


@pytest.fixture(params=["memory", "disk"])
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> BatchQueue:
    if request.param == "memory":
        return MemoryQueue(3)
    return DiskQueue(tmp_path / "q", 3, fsync=True)


def test_fifo_capacity_ack_and_requeue(queue: BatchQueue) -> None:
    for index in range(3):
        queue.put(f"batch-{index}".encode(), index + 1)
    with pytest.raises(QueueFullError):
        queue.put(b"one too many", 1)
    first = queue.get(0.1)
    assert first is not None and (first.raw, first.span_count) == (b"batch-0", 1)
    with pytest.raises(QueueFullError):  # handed out but not acknowledged: still held
        queue.put(b"x", 1)
    queue.requeue(first)
    again = queue.get(0.1)
    assert again is not None and again.raw == b"batch-0"
    queue.ack(again)
    assert len(queue) == 2 and queue.pending_spans() == 5
    queue.put(b"batch-3", 4)
    assert [queue.get(0.1).raw for _ in range(3)] == [b"batch-1", b"batch-2", b"batch-3"]  # type: ignore[union-attr]
    assert queue.get(0.05) is None


def test_close_refuses_puts_and_wakes_getters(queue: BatchQueue) -> None:
    results: list[object] = []
    waiter = threading.Thread(target=lambda: results.append(queue.get(30)))
    waiter.start()
    queue.close()
    waiter.join(5)
    assert results == [None]
    with pytest.raises(QueueClosedError):
        queue.put(b"late", 1)


def test_disk_queue_restores_unacknowledged_batches_in_order(tmp_path: Path) -> None:
    folder = tmp_path / "q"
    first = DiskQueue(folder, 10)
    for index in range(5):
        first.put(bytes([index]) * 10, index + 1)
    done = first.get(0.1)
    assert done is not None
    first.ack(done)
    handed_out = first.get(0.1)  # taken but never acknowledged: must come back
    assert handed_out is not None
    first.close()
    (folder / ".tmp-99").write_bytes(b"half written")
    second = DiskQueue(folder, 10)
    assert len(second) == 4 and second.pending_spans() == 2 + 3 + 4 + 5
    restored = [second.get(0.1) for _ in range(4)]
    assert [b.raw[:1] for b in restored if b] == [b"\x01", b"\x02", b"\x03", b"\x04"]
    assert not (folder / ".tmp-99").exists()
    second.put(b"new", 1)  # numbering continues after the restored batches
    newest = second.get(0.1)
    assert newest is not None and newest.key > max(b.key for b in restored if b)


def test_disk_queue_capacity_counts_restored_batches(tmp_path: Path) -> None:
    folder = tmp_path / "q"
    first = DiskQueue(folder, 5, fsync=False)
    for _ in range(3):
        first.put(b"x", 1)
    smaller = DiskQueue(folder, 3, fsync=False)
    with pytest.raises(QueueFullError):
        smaller.put(b"y", 1)


def test_backoff_grows_caps_and_honours_the_server_delay() -> None:
    config = RetryConfig(
        initial_interval=1.0, max_interval=4.0, multiplier=2.0, randomization_factor=0.0
    )
    backoff = Backoff(config, random.Random(1))
    assert [backoff.next_wait() for _ in range(5)] == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert Backoff(config).next_wait(server_delay=3.0) == 3.0
    assert Backoff(config).next_wait(server_delay=60.0) == 4.0  # capped at max_interval
    jittered = Backoff(RetryConfig(initial_interval=1.0, randomization_factor=0.5))
    assert 0.5 <= jittered.next_wait() <= 1.5


def test_retry_after_header_forms() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = 1_700_000_000.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:40 GMT", now=now) == pytest.approx(20.0)


def test_rate_limited_log_suppresses_and_reports(caplog: pytest.LogCaptureFixture) -> None:
    clock = [0.0]
    log = RateLimitedLog(logging.getLogger("ratelog-test"), interval=10, clock=lambda: clock[0])
    warn = log.warning  # (key, format, *args)
    with caplog.at_level(logging.WARNING, logger="ratelog-test"):
        assert warn("bad", "bad request %d", 1)
        assert not warn("bad", "bad request %d", 2)
        assert not warn("bad", "bad request %d", 3)
        assert warn("other", "another kind")
        clock[0] = 11
        assert warn("bad", "bad request %d", 4)
    assert caplog.messages == [
        "bad request 1",
        "another kind",
        "bad request 4 (2 similar messages suppressed)",
    ]
