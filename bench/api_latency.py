"""Query API latency, side by side: this tree's server against another tree's.

Each tree serves the same lineage routes over a copy of one store (``--runs`` fit runs
of one component, each with an output model) from a process of its own; requests go to
both servers in turn, so machine load hits both alike. Reported per server and request:
p50/p95 in ms over ``--requests`` rounds, on one kept-alive connection and on a new
connection per request.

    .venv/bin/python bench/api_latency.py --other /tmp/mlspan-old   # a `git archive` of
                                                                    # another commit
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("semantic_conventions/src", "instrumentation/src", "collector_processor/src")
REQUESTS = {
    "runs page": "/api/v1/runs?limit=20",
    "one run": "/api/v1/runs/{run}",
    "trace": "/api/v1/trace/model:bench:7",
    "openapi": "/openapi.json",
}


def fill(folder: Path, runs: int) -> None:
    """A store with ``runs`` fit runs of component ``train``, each with one output."""
    from mlspan.collector.store import open_store
    from mlspan.collector.store.records import ComponentRecord, IoRecord, LineageBatch, RunRecord

    now = time.time_ns()
    batch = LineageBatch()
    for number in range(1, runs + 1):
        start = now - 1_000_000 * (runs - number)
        run_id = number.to_bytes(8, "big").hex()
        batch.runs.append(
            RunRecord(
                run_id,
                number.to_bytes(16, "big").hex(),
                "",
                "bench",
                "fit LogisticRegression",
                "fit",
                "train",
                start,
                start + 1000,
                "ok",
                "",
                "",
                "",
                '{"C": 1.0, "max_iter": 100}',
                "sklearn.linear_model.LogisticRegression",
                "churn",
                f"v{number}",
            )
        )
        batch.io.append(IoRecord(run_id, "out", (f"model:bench:{number}",), start))
    batch.components.append(ComponentRecord("train", "", (), now))
    store = open_store(folder)
    try:
        store.write(batch)
    finally:
        store.close()


def serve(folder: Path) -> None:
    """Serve the lineage routes over the store in ``folder`` until stdin closes."""
    from mlspan.collector.api import ApiServer, Router
    from mlspan.collector.api.lineage_routes import register_lineage_routes
    from mlspan.collector.lineage import LineageQueries
    from mlspan.collector.store import open_store

    store = open_store(folder)
    router = Router()
    register_lineage_routes(router, LineageQueries(store))
    server = ApiServer("127.0.0.1", 0, router)
    server.start()
    print(server.port, flush=True)
    sys.stdin.read()
    server.shutdown()
    store.close()


def start(tree: Path, folder: Path) -> tuple[subprocess.Popen[str], int]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(tree / s) for s in SOURCES)
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def timed_get(connection: http.client.HTTPConnection, path: str) -> float:
    began = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    assert response.status == 200, (path, response.status)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", type=Path, help="root of the other tree")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    trees = {"this tree": ROOT, **({"other tree": args.other} if args.other else {})}
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch) / "store"
        base.mkdir()
        fill(base, args.runs)
        servers = {}
        for label, tree in trees.items():
            folder = Path(scratch) / label.replace(" ", "-")
            shutil.copytree(base, folder)
            servers[label] = start(tree, folder)
        try:
            paths = {k: v.format(run=(7).to_bytes(8, "big").hex()) for k, v in REQUESTS.items()}
            kept = {
                label: http.client.HTTPConnection("127.0.0.1", port)
                for label, (_, port) in servers.items()
            }
            samples: dict[tuple[str, str, str], list[float]] = {}
            for label in servers:  # warm up
                for path in paths.values():
                    timed_get(kept[label], path)
            for _ in range(args.requests):
                for name, path in paths.items():
                    for label, (_, port) in servers.items():
                        samples.setdefault((label, name, "kept-alive"), []).append(
                            timed_get(kept[label], path)
                        )
                        fresh = http.client.HTTPConnection("127.0.0.1", port)
                        samples.setdefault((label, name, "new connection"), []).append(
                            timed_get(fresh, path)
                        )
                        fresh.close()
        finally:
            for process, _ in servers.values():
                assert process.stdin is not None
                process.stdin.close()
                process.wait(timeout=30)
    print(f"{args.runs} runs in the store, {args.requests} rounds; ms p50 / p95")
    for (label, name, mode), values in sorted(
        samples.items(), key=lambda i: (i[0][1], i[0][2], i[0][0])
    ):
        values.sort()
        p50 = statistics.median(values) * 1e3
        p95 = values[int(len(values) * 0.95)] * 1e3
        print(f"  {name:10} {mode:15} {label:11} {p50:7.2f} / {p95:7.2f}")


if __name__ == "__main__":
    main()
