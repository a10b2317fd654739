"""Fixtures: a real SQLite store fed through the real lineage processor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlspan.collector.lineage import LineageConfig, LineageProcessor, LineageQueries
from mlspan.collector.pdata import TraceBatch
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.store import SqliteStore, open_store

Ingest = Callable[..., None]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = open_store(tmp_path)
    assert isinstance(opened, SqliteStore)
    yield opened
    opened.close()


@pytest.fixture
def processor(store: SqliteStore) -> Iterator[LineageProcessor]:
    lineage = LineageProcessor(LineageConfig(), store, IngestStats())
    lineage.start()
    yield lineage
    lineage.shutdown()


@pytest.fixture
def ingest(processor: LineageProcessor) -> Ingest:
    """Feed batches through the processor and wait until they are written."""

    def feed(*batches: TraceBatch) -> None:
        for item in batches:
            processor.consume(item)
        assert processor.flush(10)

    return feed


@pytest.fixture
def queries(store: SqliteStore) -> LineageQueries:
    return LineageQueries(store, stale_after_days=30)
