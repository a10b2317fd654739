"""The lineage write-ahead log on real files: recovery, torn tails, bounds, replay."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlspan.collector.lineage import LineageConfig, LineageProcessor
from mlspan.collector.lineage.wal import WalLockedError, WriteAheadLog
from mlspan.collector.pdata import QueueFullError
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.store import SqliteStore
from tests.collector.lineage.otlp import Pipeline, batch

MIB = 1024 * 1024


def _log(folder: Path, **options: object) -> WriteAheadLog:
    settings: dict[str, object] = {"max_bytes": 8 * MIB, "segment_bytes": MIB} | options
    return WriteAheadLog(folder, **settings)  # type: ignore[arg-type]


def _segments(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.wal"))


def test_undone_entries_are_recovered_in_order_by_the_next_process(tmp_path: Path) -> None:
    log = _log(tmp_path)
    tickets = [log.append(f"request {n}".encode()) for n in range(5)]
    log.done(tickets[0])
    log.close()
    again = _log(tmp_path)
    # Done entries of a segment still holding undone ones are replayed too (idempotent).
    assert list(again.recovered()) == [f"request {n}".encode() for n in range(5)]
    again.discard_recovered()
    again.close()
    assert list(_log(tmp_path).recovered()) == []


def test_a_torn_last_entry_is_ignored_and_the_rest_recovered(tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.append(b"a" * 1000)
    log.append(b"b" * 1000)
    log.close()
    (segment,) = _segments(tmp_path)
    with segment.open("r+b") as handle:  # the process died inside the second write
        handle.truncate(segment.stat().st_size - 10)
    assert list(_log(tmp_path).recovered()) == [b"a" * 1000]


def test_with_fsync_a_damaged_entry_stops_recovery(tmp_path: Path) -> None:
    log = _log(tmp_path, fsync=True)
    log.append(b"a" * 100)
    log.append(b"b" * 100)
    log.append(b"c" * 100)
    log.close()
    (segment,) = _segments(tmp_path)
    data = bytearray(segment.read_bytes())
    data[12 + 100 + 12 + 50] ^= 0xFF  # a flipped byte inside the second payload
    segment.write_bytes(bytes(data))
    assert list(_log(tmp_path).recovered()) == [b"a" * 100]


def test_space_is_reclaimed_once_entries_are_done(tmp_path: Path) -> None:
    log = _log(tmp_path, segment_bytes=10_000)
    tickets = [log.append(os.urandom(3000)) for _ in range(12)]
    assert len(_segments(tmp_path)) >= 3
    assert log.pending_bytes() == 12 * 3012
    for ticket in tickets:
        log.done(ticket)
    assert log.pending_bytes() == 0
    assert log.disk_bytes() == 0  # closed segments deleted, the active one truncated
    assert len(_segments(tmp_path)) == 1
    log.close()
    assert _segments(tmp_path) == []


def test_a_full_log_refuses_with_the_retryable_error_until_entries_are_done(
    tmp_path: Path,
) -> None:
    log = _log(tmp_path, max_bytes=10_000)
    first = log.append(b"x" * 6000)
    with pytest.raises(QueueFullError):
        log.append(b"y" * 6000)
    log.done(first)
    log.append(b"y" * 6000)
    log.close()


def test_one_collector_per_log_folder(tmp_path: Path) -> None:
    log = _log(tmp_path)
    with pytest.raises(WalLockedError):
        _log(tmp_path)
    log.close()
    _log(tmp_path).close()


def test_a_processor_that_died_before_writing_is_replayed_at_the_next_start(
    tmp_path: Path, store: SqliteStore
) -> None:
    pipeline = Pipeline()
    spans = [pipeline.span(f"step{n}", [f"data:{n}"], [f"data:{n + 1}"]) for n in range(6)]
    log = _log(tmp_path / "wal")
    # Never started: its writer thread never ran, as if killed before writing.
    dead = LineageProcessor(LineageConfig(), store, IngestStats(), wal=log)
    for n in range(0, 6, 2):
        dead.consume(batch("svc", spans[n : n + 2]))
    assert store.runs([s.span_id.hex() for s in spans]) == {}
    log.close()  # the process is gone, and its lock with it
    restarted = LineageProcessor(LineageConfig(), store, IngestStats(), wal=_log(tmp_path / "wal"))
    restarted.start()
    try:
        assert len(store.runs([s.span_id.hex() for s in spans])) == 6  # before any consume
        assert restarted.counters.replayed_spans == 6
    finally:
        restarted.shutdown()
    assert _segments(tmp_path / "wal") == []
