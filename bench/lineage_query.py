"""Lineage query latency: ``trace`` on a SQLite store with about 1M artifacts.

The store models many runs of the same 10-step pipeline: each step consumes the previous
step's 4 outputs plus one shared reference artifact (made by a ``reference`` component),
and produces 4 new artifacts. A ``trace`` of a final output therefore walks 10 levels and
returns about 20 runs and 50 artifacts, with staleness checks against 25k newer runs of
the same components. Artifact ids are real-looking random digests, so the B-trees are as
scattered as in production.

Reported: build time, then p50/p95/max of ``LineageQueries.trace`` (what the API runs),
of the same query over HTTP through a real ApiServer, and of ``impact`` from a source.
Target: trace p50 <= 50 ms. The web UI's pages are timed over the same server (whole
response, client included, so an upper bound on server time): a final output's lineage
graph page (layout and SVG included), a run's page, the overview and the runs list.
Target: every page <= 300 ms.

    .venv/bin/python bench/lineage_query.py                 # 1M artifacts, ~2-3 minutes
    .venv/bin/python bench/lineage_query.py --chains 2000   # quick run
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from mlspan.collector.api import ApiServer, Router
from mlspan.collector.api.lineage_routes import register_lineage_routes
from mlspan.collector.lineage import LineageQueries
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.store import IoRecord, RunRecord, SqliteStore, open_store
from mlspan.collector.ui.routes import register_ui_routes
from mlspan.collector.ui.sources import UiSources

STEPS = 10
OUTPUTS_PER_STEP = 4
REFERENCES = 10_000
SECOND_NS = 10**9


def _digest(rng: random.Random, kind: str) -> str:
    return f"{kind}:xxh3_128:{rng.getrandbits(128):032x}"


def _run(run_id: int, component: str, start_ns: int) -> RunRecord:
    return RunRecord(
        f"{run_id:016x}", f"{run_id // 16:032x}", "", "bench", f"component {component}",
        "component", component, start_ns, start_ns + SECOND_NS, "ok", "", "3f2a9c1e",
        "xxh3_128:0", '{"alpha": 0.1}', "", "", "",
    )  # fmt: skip


def build(store: SqliteStore, chains: int, seed: int) -> tuple[list[str], list[str]]:
    """Bulk-load the store; returns final outputs and source artifacts of every chain."""
    rng = random.Random(seed)
    run_ids = iter(range(1, 1 << 62))
    start = 1_700_000_000 * SECOND_NS
    references: list[str] = []
    runs: list[RunRecord] = []
    io: list[IoRecord] = []
    for _ in range(REFERENCES):
        run = _run(next(run_ids), "reference", start)
        reference = _digest(rng, "data")
        io += [IoRecord(run.run_id, "in", (_digest(rng, "file"),), start)]
        io += [IoRecord(run.run_id, "out", (reference,), start)]
        runs.append(run)
        references.append(reference)
    store.write_bulk(runs, io)
    finals: list[str] = []
    sources: list[str] = []
    for chunk_start in range(0, chains, 2_000):
        runs, io = [], []
        for chain in range(chunk_start, min(chains, chunk_start + 2_000)):
            at = start + (chain + 1) * 60 * SECOND_NS
            previous = [_digest(rng, "file")]
            sources.append(previous[0])
            for step in range(STEPS):
                run = _run(next(run_ids), f"step{step}", at + step * SECOND_NS)
                runs.append(run)
                inputs = [*previous, rng.choice(references)]
                previous = [_digest(rng, "data") for _ in range(OUTPUTS_PER_STEP)]
                io += [IoRecord(run.run_id, "in", tuple(inputs), run.start_ns)]
                io += [IoRecord(run.run_id, "out", tuple(previous), run.start_ns)]
            finals.append(previous[0])
        store.write_bulk(runs, io)
    return finals, sources


def timed(samples: list[str], query: Callable[[str], object]) -> list[float]:
    """Milliseconds per query."""
    times = []
    for sample in samples:
        began = time.perf_counter()
        query(sample)
        times.append((time.perf_counter() - began) * 1000)
    return times


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return (
        f"{name:<28} p50 {statistics.median(ordered):7.2f} ms   p95 {p95:7.2f} ms   "
        f"max {ordered[-1]:7.2f} ms   (n={len(ordered)})"
    )


def counts(store: SqliteStore) -> Iterator[tuple[str, int]]:
    """Row counts of the main tables."""
    import sqlite3

    def linked(column: str) -> str:  # ids in a ``\x1f``-joined column
        return f"sum(length({column}) - length(replace({column}, char(31), '')) + ({column} <> ''))"

    with sqlite3.connect(store.path) as db:
        for side in ("inputs", "outputs"):  # the terms of the artifact-id indexes
            db.execute(
                f"CREATE VIRTUAL TABLE temp.{side} USING fts5vocab(main, runs_{side}_index, row)"
            )
        for name, sql in (
            (
                "artifacts",
                "SELECT count(*) FROM (SELECT term FROM inputs UNION SELECT term FROM outputs)",
            ),
            ("runs", "SELECT count(*) FROM runs"),
            ("edges", f"SELECT {linked('inputs')} + {linked('outputs')} FROM runs"),
        ):
            yield name, int(db.execute(sql).fetchone()[0])
    db.close()


def write_cost(store: SqliteStore, label: str, batches: int = 40, seed: int = 0) -> str:
    """CPU per span of extraction and of the store write, on the ingest benchmark's spans."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from mlspan.collector.lineage import extract
    from mlspan.collector.pdata import FastSchema, TraceBatch
    from mlspan.collector.store import LineageBatch
    from tests.support.spans import ml_request

    schema = FastSchema.build()
    raw = [ml_request(512, seed=seed + i).SerializeToString() for i in range(batches)]
    parsed = [TraceBatch.from_bytes(schema, r) for r in raw]
    began = time.process_time()
    records = [extract(b) for b in parsed]
    extracted = time.process_time() - began
    began = time.process_time()
    for start in range(0, batches, 8):  # the writer merges waiting batches like this
        merged = LineageBatch()
        for item in records[start : start + 8]:
            merged.runs += item.runs
            merged.io += item.io
            merged.names += item.names
            merged.components += item.components
        store.write(merged)
    written = time.process_time() - began
    spans = 512 * batches
    edges = sum(len(e.artifact_ids) for r in records for e in r.io) / spans
    return (
        f"ingest side, {label}, per ML span ({edges:.1f} edges each): extract "
        f"{extracted / spans * 1e6:.1f} us CPU, store write {written / spans * 1e6:.1f} us CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=24_000, help="pipeline runs (24k ~ 1M)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(Path(folder))
        assert isinstance(store, SqliteStore)
        began = time.perf_counter()
        finals, sources = build(store, args.chains, args.seed)
        built = time.perf_counter() - began
        sizes = dict(counts(store))
        wal = store.path.with_name(store.path.name + "-wal")
        wal_mb = wal.stat().st_size / 1e6 if wal.exists() else 0.0
        mb = store.path.stat().st_size / 1e6
        print(
            f"store: {sizes['artifacts']:,} artifacts, {sizes['runs']:,} runs, "
            f"{sizes['edges']:,} edges, {mb:.0f} MB + {wal_mb:.0f} MB WAL; built in {built:.1f} s"
        )
        rng = random.Random(args.seed + 1)
        queries = LineageQueries(store)
        sample = rng.sample(finals, min(args.queries, len(finals)))
        first = queries.trace(sample[0])
        print(
            f"one trace: {len(first['runs'])} runs, {len(first['artifacts'])} artifacts, "
            f"{len(first['edges'])} edges, {len(first['warnings'])} staleness warnings"
        )
        timed(sample[:20], queries.trace)  # warm the page cache the way a live store is
        print(summary("trace (query)", timed(sample, queries.trace)))
        router = Router()
        register_lineage_routes(router, queries)
        register_ui_routes(router, UiSources(queries, IngestStats()))
        server = ApiServer("127.0.0.1", 0, router)
        server.start()
        try:

            def over_http(ref: str) -> object:
                url = f"{server.url}/api/v1/trace/{urllib.parse.quote(ref, safe=':')}"
                with urllib.request.urlopen(url, timeout=30) as response:
                    return json.load(response)

            print(summary("trace (HTTP API, JSON)", timed(sample, over_http)))

            def page(path: str) -> object:
                with urllib.request.urlopen(server.url + path, timeout=30) as response:
                    assert response.status == 200
                    return response.read()

            pages = sample[: max(1, len(sample) // 3)]
            run_ids = [f"{rng.randrange(1, sizes['runs']):016x}" for _ in pages]
            lineage = [f"/ui/lineage/{urllib.parse.quote(ref, safe='')}" for ref in pages]
            print(summary("UI lineage graph page", timed(lineage, page)))
            print(summary("UI run page", timed([f"/ui/runs/{r}" for r in run_ids], page)))
            print(summary("UI overview page", timed(["/"] * 20, page)))
            print(summary("UI runs list page", timed(["/ui/runs"] * 20, page)))
        finally:
            server.shutdown()
        source_sample = rng.sample(sources, min(args.queries, len(sources)))
        print(summary("impact (query)", timed(source_sample, queries.impact)))
        print(write_cost(store, f"into this store ({sizes['edges']:,} edges)", seed=1_000))
        store.close()
        fresh = open_store(Path(folder) / "ingest")
        assert isinstance(fresh, SqliteStore)
        print(write_cost(fresh, "into an empty store"))
        fresh.close()


if __name__ == "__main__":
    main()
