"""What only the PostgreSQL store has to show: its schema versioning, locks and lost
servers reported as unavailability, NUL characters, and several collectors on one
database. Everything else runs against both backends through the ``store`` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from mlspan.collector.pipeline.factory import ConfigError
from mlspan.collector.service.config import StorageConfig
from mlspan.collector.store import (
    INPUT,
    OUTPUT,
    IoRecord,
    LineageBatch,
    RunRecord,
    StoreUnavailableError,
    StoreVersionError,
    open_store,
)
from mlspan.collector.store.postgres import PostgresStore
from mlspan.collector.store.postgres_schema import MIGRATIONS, SCHEMA_VERSION_TABLE
from tests.support.postgres_server import PASSWORD, fresh_schema_url


def _run(run_id: str, name: str = "step", start_ns: int = 1) -> RunRecord:
    return RunRecord(
        run_id, "t" * 32, "", "svc", name, "fit", "train", start_ns, start_ns + 1,
        "ok", "", "", "", "", "", "", "",
    )  # fmt: skip


def _batch(run_id: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> LineageBatch:
    return LineageBatch(
        runs=[_run(run_id)],
        io=[IoRecord(run_id, INPUT, inputs, 1), IoRecord(run_id, OUTPUT, outputs, 1)],
    )


@pytest.fixture
def url(postgres_url: str) -> str:
    return fresh_schema_url(postgres_url)


@pytest.fixture
def pg_store(url: str) -> Iterator[PostgresStore]:
    store = open_store(url)
    assert isinstance(store, PostgresStore)
    yield store
    store.close()


def test_schema_is_versioned_and_newer_databases_are_refused(
    url: str, pg_store: PostgresStore
) -> None:
    assert pg_store.schema_version == len(MIGRATIONS)
    again = PostgresStore(url)  # a second collector: nothing left to migrate
    assert again.schema_version == len(MIGRATIONS)
    again.close()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"UPDATE {SCHEMA_VERSION_TABLE} SET version = 99")
    with pytest.raises(StoreVersionError, match="schema version 99"):
        PostgresStore(url)


def test_a_locked_table_makes_the_store_unavailable_then_writes_go_through(url: str) -> None:
    store = PostgresStore(url, lock_timeout_ms=200)
    try:
        with psycopg.connect(url) as other:
            other.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(StoreUnavailableError, match="lock"):
                store.write(_batch("r1", ("data:a",), ("data:b",)))
            other.rollback()
        store.write(_batch("r1", ("data:a",), ("data:b",)))
        assert store.artifact_runs(["data:b"], OUTPUT) == {"data:b": ["r1"]}
    finally:
        store.close()


def test_a_server_that_went_away_is_unavailability_not_bad_records(
    url: str, pg_store: PostgresStore
) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND datname = current_database()"
        )
    with pytest.raises(StoreUnavailableError):
        pg_store.write(_batch("r1", ("data:a",), ("data:b",)))
    pg_store.write(_batch("r1", ("data:a",), ("data:b",)))  # the retry reconnects
    assert pg_store.artifact_runs(["data:b"], OUTPUT) == {"data:b": ["r1"]}


def test_nul_characters_are_stored_as_replacement_characters(pg_store: PostgresStore) -> None:
    pg_store.write(
        LineageBatch(
            runs=[_run("r\x00", name="a\x00b")],
            io=[IoRecord("r\x00", OUTPUT, ("data:\x00",), 1)],
        )
    )
    stored = pg_store.runs(["r\ufffd"])["r\ufffd"]
    assert stored.name == "a\ufffdb"
    assert pg_store.run_io(["r\ufffd"], OUTPUT) == {"r\ufffd": ["data:\ufffd"]}


def test_two_collectors_on_one_database_see_each_others_lineage_at_once(url: str) -> None:
    first, second = PostgresStore(url), PostgresStore(url)
    try:
        first.write(_batch("r1", ("file:raw.csv",), ("data:clean",)))
        second.write(_batch("r2", ("data:clean",), ("model:m",)))
        second.set_flag("data:clean", True, "bad rows", 5)
        for store in (first, second):
            assert store.artifact_runs(["data:clean"], INPUT) == {"data:clean": ["r2"]}
            assert store.artifact_runs(["data:clean"], OUTPUT) == {"data:clean": ["r1"]}
            assert store.artifacts(["data:clean"])["data:clean"].flagged
    finally:
        first.close()
        second.close()


def test_the_password_can_come_apart_from_the_url(url: str, tmp_path: Path) -> None:
    """A deployment keeps the password in a secret file (``storage.password_file``), out
    of the config and the URL; the server checks it (SCRAM over TCP)."""
    without = url.replace(f":{PASSWORD}@", "@")
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    storage = StorageConfig(url=without, password_file=str(secret))
    store = open_store(storage.url, password=storage.password())
    assert isinstance(store, PostgresStore)
    store.close()
    with pytest.raises(StoreUnavailableError, match="password"):
        open_store(without, password="wrong")
    with pytest.raises(ConfigError, match="password_file needs a postgresql"):
        StorageConfig(url="/var/lib/mlspan", password_file=str(secret)).validate()
