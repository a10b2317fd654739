"""Collector ingest throughput: a bare OTLP receiver vs the mlspan pipeline, one run.

Both servers run as child processes on 127.0.0.1 and receive the same realistic ML spans
(about 20 attributes each, every fifth span with three feature-summary events; see
``tests/support/spans.py``) over OTLP/gRPC from 4 client threads:

- ``bare``: the textbook Python receiver: grpcio's sync server with opentelemetry-proto's
  ``TraceServiceServicer``, which parses every request into ``ExportTraceServiceRequest``
  and counts the spans; with the same process tuning as mlspan's service
  (``service.runtime``'s defaults: gc threshold and freeze, glibc trim threshold), so
  the comparison measures the pipelines, not the allocator settings.
- ``mlspan``: ``mlspan collector``'s service with the ``otlp`` receiver, the ``lineage``
  processor writing runs, artifacts and edges to SQLite, and the ``drift`` connector
  (the default pipeline's components, minus ``alerts``, which has no per-span work).

Each round starts fresh server processes and fresh data folders and sends new spans;
modes alternate within a round. Reported per mode (median over rounds): spans/s as
acknowledged to the client, and spans per CPU-second of the server process, measured
from /proc until the process is idle again, so the lineage writer's work after the
acknowledgement counts too. Goal: mlspan >= 100k spans per CPU-second and >= 80 % of
bare.

    .venv/bin/python bench/collector_ingest.py                  # 3 rounds x 61,440 spans
    .venv/bin/python bench/collector_ingest.py --rounds 1 --requests 40
    .venv/bin/python bench/collector_ingest.py --spans instrumented  # recorded real spans
    .venv/bin/python bench/collector_ingest.py --spans instrumented \\
        --server-pythonpath OTHER/semantic_conventions/src:OTHER/collector_processor/src
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
from opentelemetry.proto.collector.trace.v1 import (  # noqa: E402
    trace_service_pb2,
    trace_service_pb2_grpc,
)

from tests.support.instrumented_spans import record_pipeline, replay  # noqa: E402
from tests.support.otlp_client import grpc_export  # noqa: E402
from tests.support.spans import ml_request  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
MODES = ("bare", "mlspan")
SERVER_THREADS = 8


# -- servers (child processes) ---------------------------------------------------------
class _CountingServicer(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.spans = 0
        self._lock = threading.Lock()

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: object
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        count = sum(len(s.spans) for rs in request.resource_spans for s in rs.scope_spans)
        with self._lock:
            self.spans += count
        return trace_service_pb2.ExportTraceServiceResponse()


def serve_bare() -> None:
    from mlspan.collector.service.runtime import RuntimeConfig, tune_process

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=SERVER_THREADS))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_CountingServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    tune_process(RuntimeConfig())  # as mlspan's Service does once started
    print(port, flush=True)
    sys.stdin.read()  # run until the parent closes stdin
    server.stop(None)


def serve_mlspan(data_dir: str, wanted: list[str]) -> None:
    from mlspan.collector.pipeline.factory import Kind
    from mlspan.collector.service import Service, parse_config
    from mlspan.collector.service.factories import default_factories

    factories = default_factories()
    kinds = {f.type_name: f.kind for f in factories}
    processors = [n for n in wanted if kinds.get(n) is Kind.PROCESSOR]
    connectors = [n for n in wanted if kinds.get(n) is Kind.CONNECTOR]
    document = {
        "data_dir": data_dir,
        "api": {"enabled": False},
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {
                        "endpoint": "127.0.0.1:0",
                        "max_concurrent_requests": SERVER_THREADS,
                    }
                }
            }
        },
        "processors": {name: {} for name in processors},
        "connectors": {name: {} for name in connectors},
        "service": {
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": processors,
                    "exporters": connectors,
                }
            }
        },
    }
    service = Service(parse_config(document, factories), factories)
    service.start()
    grpc_server = service.receivers()["otlp"].grpc
    assert grpc_server is not None
    print(grpc_server.port, flush=True)
    print(",".join(processors + connectors), flush=True)
    sys.stdin.read()
    service.shutdown()


# -- measurement (parent) --------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def wait_idle(pid: int, quiet: float = 0.6) -> tuple[float, float]:
    """Wait until the process used no CPU for ``quiet`` seconds; (cpu, time it went
    idle)."""
    last = cpu_seconds(pid)
    last_change = time.perf_counter()
    while time.perf_counter() - last_change < quiet:
        time.sleep(0.05)
        now = cpu_seconds(pid)
        if now - last > 1.5 / TICKS:
            last, last_change = now, time.perf_counter()
    return last, last_change


def run_mode(
    mode: str,
    bodies: list[bytes],
    spans: int,
    clients: int,
    components: str,
    server_path: str = "",
) -> dict[str, float]:
    env = dict(os.environ)
    if server_path:  # the servers' mlspan modules from another tree (A/B comparisons)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (server_path, env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory() as data_dir:
        args = [sys.executable, __file__, "--serve", mode, "--data-dir", data_dir]
        args += ["--components", components]
        process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        try:
            assert process.stdout is not None and process.stdin is not None
            port = int(process.stdout.readline())
            built = process.stdout.readline().strip() if mode == "mlspan" else ""
            channel = grpc.insecure_channel(
                f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", -1)]
            )
            grpc_export(channel, bodies[0][:0])  # connect before timing
            cpu_before, _ = wait_idle(process.pid, quiet=0.3)
            start = time.perf_counter()
            with futures.ThreadPoolExecutor(clients) as pool:
                list(pool.map(lambda body: grpc_export(channel, body, timeout=120), bodies))
            acked = time.perf_counter() - start
            cpu_after, idle_at = wait_idle(process.pid)
            channel.close()
            process.stdin.close()
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    cpu = cpu_after - cpu_before
    return {
        "spans_per_s": spans / acked,
        "spans_per_cpu_s": spans / cpu,
        "cpu_s": cpu,
        "busy_s": idle_at - start,
        "components": built,  # type: ignore[dict-item]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", choices=MODES)
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=120)
    parser.add_argument(
        "--spans-per-request",
        type=int,
        default=0,
        help="default 512 synthetic spans, 128 instrumented ones (~2 MB, under gRPC's 4 MiB "
        "default limit)",
    )
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--ml-share",
        type=float,
        default=1.0,
        help="share of ML spans; the rest are ordinary HTTP server spans (default 1.0)",
    )
    parser.add_argument(
        "--spans",
        choices=("synthetic", "instrumented"),
        default="synthetic",
        help="synthetic: tests/support/spans.py (~1.3 KB each, --ml-share applies); "
        "instrumented: spans recorded from mlspan's instrumentation running the example "
        "churn pipeline, replayed with fresh ids (~17 KB each, with feature summaries)",
    )
    parser.add_argument(
        "--components",
        default="lineage,drift",
        help="pipeline components of the mlspan server ('none' for the receiver alone)",
    )
    parser.add_argument(
        "--server-pythonpath",
        default="",
        help="prepended to the servers' PYTHONPATH only (e.g. another checkout's "
        "semantic_conventions/src and collector_processor/src, to compare two trees on "
        "the same recorded spans)",
    )
    args = parser.parse_args()
    if args.serve == "bare":
        serve_bare()
        return
    if args.serve == "mlspan":
        serve_mlspan(args.data_dir, [c for c in args.components.split(",") if c != "none"])
        return
    if not args.spans_per_request:
        args.spans_per_request = 128 if args.spans == "instrumented" else 512
    spans = args.requests * args.spans_per_request
    recorded = record_pipeline() if args.spans == "instrumented" else None

    def body(seed: int) -> bytes:
        if recorded is not None:
            return replay(recorded, args.spans_per_request, seed).SerializeToString()
        return ml_request(
            args.spans_per_request, seed=seed, ml_share=args.ml_share
        ).SerializeToString()

    sample = body(0)
    share = "instrumented" if recorded is not None else f"{args.ml_share:.0%} ML"
    print(
        f"{args.rounds} rounds x {args.requests} requests x {args.spans_per_request} spans "
        f"({spans:,} {args.spans} spans, {share}, "
        f"{len(sample) / args.spans_per_request:.0f} B/span), "
        f"{args.clients} client threads, gRPC, {SERVER_THREADS} server threads"
    )
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for round_index in range(args.rounds):
        bodies = [body(round_index * 100_000 + i) for i in range(args.requests)]
        order = MODES if round_index % 2 == 0 else tuple(reversed(MODES))
        for mode in order:
            result = run_mode(
                mode, bodies, spans, args.clients, args.components, args.server_pythonpath
            )
            results[mode].append(result)
            print(
                f"  round {round_index + 1} {mode:7s} {result['spans_per_s']:>10,.0f} spans/s"
                f" {result['spans_per_cpu_s']:>10,.0f} spans/CPU-s"
                f"  (CPU {result['cpu_s']:.2f} s, busy {result['busy_s']:.2f} s)"
            )
    medians = {
        mode: {
            key: statistics.median(r[key] for r in rows)
            for key in ("spans_per_s", "spans_per_cpu_s")
        }
        for mode, rows in results.items()
    }
    print(f"\nmlspan pipeline components: {results['mlspan'][0]['components'] or 'none'}")
    print(f"{'mode':8s} {'spans/s':>12s} {'spans/CPU-s':>13s}   (median of {args.rounds})")
    for mode in MODES:
        print(
            f"{mode:8s} {medians[mode]['spans_per_s']:>12,.0f}"
            f" {medians[mode]['spans_per_cpu_s']:>13,.0f}"
        )
    ratio = medians["mlspan"]["spans_per_cpu_s"] / medians["bare"]["spans_per_cpu_s"]
    per_cpu = medians["mlspan"]["spans_per_cpu_s"]
    print(
        f"mlspan / bare (per CPU-second): {ratio:.0%}   goal >= 80 %: "
        f"{'met' if ratio >= 0.8 else 'NOT met'}; >= 100k spans/CPU-s: "
        f"{'met' if per_cpu >= 100_000 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
