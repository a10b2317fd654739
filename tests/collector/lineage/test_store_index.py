"""The store's artifact-id index (FTS5 over the runs' inputs and outputs): exact answers
for ids of any shape, updates on re-delivery, and the upgrade of stores written before
it existed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mlspan.collector.lineage import LineageQueries
from mlspan.collector.store import (
    INPUT,
    OUTPUT,
    IoRecord,
    LineageBatch,
    RunRecord,
    SqliteStore,
    open_store,
)
from mlspan.collector.store.sqlite_schema import MIGRATIONS


def run(run_id: str, start: int = 0) -> RunRecord:
    return RunRecord(
        run_id, "t" * 32, "", "svc", "step", "transform", "step", start, start + 1,
        "ok", "", "", "", "", "", "", "",
    )  # fmt: skip


def write(
    store: SqliteStore, run_id: str, inputs: tuple[str, ...], outputs: tuple[str, ...]
) -> None:
    io = [IoRecord(run_id, INPUT, inputs, 0)] if inputs else []
    io += [IoRecord(run_id, OUTPUT, outputs, 0)] if outputs else []
    store.write(LineageBatch(runs=[run(run_id)], io=io))


ODD_IDS = (
    "data:xxh3_128:00ff",
    "Model-V1.2",  # upper case and punctuation: several tokens
    "v1",  # a token of another id, but not that id
    "file:/data/train set.csv",
    "ünïcode/ä",
    "---",  # no token at all: found by scanning
    'quote"d',
)


def test_ids_of_any_shape_are_found_exactly(store: SqliteStore) -> None:
    for number, artifact in enumerate(ODD_IDS):
        write(store, f"p{number}", (), (artifact,))
        write(store, f"c{number}", (artifact, "shared"), ())
    write(store, "other", ("model-v1.2x", "Model-V1.3"), ("churn-v1",))
    for number, artifact in enumerate(ODD_IDS):
        assert store.artifact_runs([artifact], OUTPUT) == {artifact: [f"p{number}"]}
        assert store.artifact_runs([artifact], INPUT) == {artifact: [f"c{number}"]}
    everything = store.artifact_runs(ODD_IDS, INPUT)
    assert everything == {a: [f"c{n}"] for n, a in enumerate(ODD_IDS)}
    assert store.artifact_runs(["shared"], INPUT) == {
        "shared": sorted(f"c{n}" for n in range(len(ODD_IDS)))
    }
    assert set(store.artifacts([*ODD_IDS, "churn-v1", "model-v1", "V1", "nope"])) == {
        *ODD_IDS,
        "churn-v1",
    }
    assert store.artifact_runs(["model-v1", "MODEL-V1.2", "v"], OUTPUT) == {}


def test_prefixes_complete_to_ids_that_start_with_them(store: SqliteStore) -> None:
    write(store, "r1", ("data:xxh3_128:abc123",), ("data:xxh3_128:abd999", "Model-V1.2"))
    write(store, "r2", ("data:xxh3_128:abc456",), ())
    assert store.ids_with_prefix("data:xxh3_128:abc", 6) == (
        [],
        ["data:xxh3_128:abc123", "data:xxh3_128:abc456"],
    )
    assert store.ids_with_prefix("data:xxh3_128:abd", 6) == ([], ["data:xxh3_128:abd999"])
    assert store.ids_with_prefix("Model-V", 6) == ([], ["Model-V1.2"])
    assert store.ids_with_prefix("model-V", 6) == ([], [])
    assert store.ids_with_prefix("data:xxh3_128:abc", 1) == ([], ["data:xxh3_128:abc123"])
    assert store.ids_with_prefix("r1", 6) == (["r1"], [])


def test_redelivered_run_with_other_io_replaces_its_links(store: SqliteStore) -> None:
    write(store, "r", ("data:a",), ("data:b",))
    write(store, "r", ("data:a",), ("data:b",))
    assert store.artifact_runs(["data:b"], OUTPUT) == {"data:b": ["r"]}
    write(store, "r", ("data:c",), ("data:d",))
    assert store.artifact_runs(["data:a", "data:c"], INPUT) == {"data:c": ["r"]}
    assert set(store.artifacts(["data:a", "data:b", "data:c", "data:d"])) == {"data:c", "data:d"}


def test_many_consumers_of_one_model(store: SqliteStore) -> None:
    runs = [run(f"predict-{i:04d}", i) for i in range(3000)]
    io = [IoRecord(r.run_id, INPUT, ("model:m", f"data:in-{i}"), 0) for i, r in enumerate(runs)]
    io += [IoRecord(r.run_id, OUTPUT, (f"data:out-{i}",), 0) for i, r in enumerate(runs)]
    store.write(
        LineageBatch(runs=[run("fit"), *runs], io=[IoRecord("fit", OUTPUT, ("model:m",), 0), *io])
    )
    assert set(store.artifacts(["model:m", "data:in-7", "data:out-2999"])) == {
        "model:m",
        "data:in-7",
        "data:out-2999",
    }
    assert len(store.artifact_runs(["model:m"], INPUT)["model:m"]) == 3000
    trace = LineageQueries(store).trace("data:out-2999")
    assert {r["run_id"] for r in trace["runs"]} == {"predict-2999", "fit"}


def test_a_store_from_before_the_index_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "lineage.db"
    with sqlite3.connect(path) as db:
        for statement in MIGRATIONS[0]:
            db.execute(statement)
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (1)")
        for run_id, inputs, outputs in (("a", "file:raw", "data:x"), ("b", "data:x", "model:m")):
            db.execute(
                "INSERT INTO runs VALUES (?, 't', '', 'svc', ?, 'fit', ?, 1, 2, 'ok', '', '', "
                "'', '', '', '', '', ?, ?)",
                (run_id, run_id, run_id, inputs, outputs),
            )
            db.execute("INSERT INTO edges VALUES (?, 'in', ?)", (inputs, run_id))
    db.close()
    store = open_store(path)
    assert isinstance(store, SqliteStore) and store.schema_version == len(MIGRATIONS)
    trace = LineageQueries(store).trace("model:m")
    assert {r["run_id"] for r in trace["runs"]} == {"a", "b"}
    assert store.artifact_runs(["data:x"], INPUT) == {"data:x": ["b"]}
    write(store, "c", ("model:m",), ("data:y",))
    assert store.artifact_runs(["model:m"], INPUT) == {"model:m": ["c"]}
    store.close()
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert "edges" not in tables and "runs_inputs_index" in tables
