"""A record the store refuses loses only itself, not the merged write around it.

Records here bypass extraction (which would clamp them) and go straight to
``IsolatingWriter`` over a real SQLite store, which really refuses a start time of 2^63
(``OverflowError`` from the sqlite3 driver) - the failure that used to drop whole merged
writes of other clients' batches.
"""

from __future__ import annotations

from mlspan.collector.lineage.counters import LineageCounters
from mlspan.collector.lineage.writer import DROP_STORE_ERROR, IsolatingWriter
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.store import (
    INPUT,
    ComponentRecord,
    IoRecord,
    LineageBatch,
    NameRecord,
    RunRecord,
    SqliteStore,
)

GOOD_NS = 1_750_000_000 * 10**9


def _run(run_id: str, start_ns: int = GOOD_NS) -> RunRecord:
    return RunRecord(
        run_id, "t" * 32, "", "svc", "fit", "fit", "train", start_ns, start_ns, "ok",
        "", "", "", "", "", "", "",
    )  # fmt: skip


def _client_batch(client: int, runs: int = 10) -> LineageBatch:
    ids = [f"{client:04x}{n:012x}" for n in range(runs)]
    return LineageBatch(
        runs=[_run(i) for i in ids],
        io=[IoRecord(i, INPUT, (f"data:{client}:{n}",), GOOD_NS) for n, i in enumerate(ids)],
        names=[NameRecord(f"data:{client}:0", f"in/{client}.csv", GOOD_NS)],
        components=[ComponentRecord(f"train-{client}", "", (), GOOD_NS)],
    )


def test_one_bad_run_in_a_merged_write_of_16_batches_loses_only_itself(
    store: SqliteStore,
) -> None:
    batches = [_client_batch(client) for client in range(1, 17)]
    poisoned = batches[7]
    poisoned.runs.append(_run("bad0000000000001", start_ns=2**63))
    poisoned.io.append(IoRecord("bad0000000000001", INPUT, ("data:bad",), 2**63))
    stats = IngestStats()
    counters = LineageCounters()
    IsolatingWriter(store, stats, counters).write(batches)
    wanted = [run.run_id for batch in batches for run in batch.runs]
    stored = store.runs(wanted)
    assert set(wanted) - set(stored) == {"bad0000000000001"}
    assert len(stored) == 160
    edges = store.run_io([r.run_id for r in poisoned.runs[:-1]], INPUT)
    assert len(edges) == 10
    assert [a.artifact_id for a in store.artifacts_named("in/8.csv")] == ["data:8:0"]
    assert store.component("train-8") is not None
    assert stats.snapshot().spans_dropped == {DROP_STORE_ERROR: 1}
    assert counters.isolated_writes == 1
    assert counters.lost_records == 0


def test_a_bad_name_record_loses_only_itself(store: SqliteStore) -> None:
    batch = _client_batch(1)
    batch.names.append(NameRecord("data:1:1", "late.csv", 2**64 - 1))
    stats = IngestStats()
    counters = LineageCounters()
    IsolatingWriter(store, stats, counters).write([batch])
    assert len(store.runs([r.run_id for r in batch.runs])) == 10
    assert [a.artifact_id for a in store.artifacts_named("in/1.csv")] == ["data:1:0"]
    assert store.artifacts_named("late.csv") == []
    assert stats.snapshot().spans_dropped == {}
    assert counters.lost_records == 1
