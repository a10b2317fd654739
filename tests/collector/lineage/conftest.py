"""Fixtures: a real store (SQLite, and PostgreSQL on a private server) fed through the
real lineage processor. Every test using ``store`` runs against both backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlspan.collector.lineage import LineageConfig, LineageProcessor, LineageQueries
from mlspan.collector.pdata import TraceBatch
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.store import SqliteStore, open_store
from tests.support.postgres_server import fresh_schema_url, private_postgres

Ingest = Callable[..., None]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One private PostgreSQL server for the whole run."""
    with private_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqliteStore]:
    if request.param == "sqlite":
        opened = open_store(tmp_path)
        assert isinstance(opened, SqliteStore)
    else:
        opened = open_store(fresh_schema_url(request.getfixturevalue("postgres_url")))
    yield opened  # type: ignore[misc]  # both implement Store; tests use its methods
    opened.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    """A SQLite store only (tests of SQLite's own locking and files)."""
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
