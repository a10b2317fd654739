"""Test and bench support: a 1-row predict loop in a fresh interpreter, timed per call.

The child program fits a ``LogisticRegression`` and makes ``calls`` 1-row ``predict``
calls, each inside a request span; with an endpoint it first calls
``mlspan.instrumentation.configure()`` to export there over OTLP/gRPC, with ``-`` it runs
plain (no OpenTelemetry SDK). It reports the slowest call, the 99.9th percentile, the
full (generation-2) garbage collections that ran during the loop and the longest of
them, and the slowest call during which no full collection ran: what the export path
itself costs a call. ``exit_s`` is measured by the parent: seconds from the program's
last statement to the end of its process.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.launcher import clean_environment
from tests.support.otlp_sink import HOST

PROGRAM = """
import gc, json, sys, time
import numpy as np
from opentelemetry import trace
from sklearn.linear_model import LogisticRegression
endpoint, calls, freeze = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
if endpoint != "-":
    import mlspan.instrumentation
    mlspan.instrumentation.configure(service_name="predict-loop", endpoint=endpoint)
rng = np.random.default_rng(0)
x = rng.normal(size=(1000, 8))
model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
rows = [x[i % 1000 : i % 1000 + 1] for i in range(calls)]
tracer = trace.get_tracer("predict-loop")
if freeze:
    gc.collect()
    gc.freeze()
full = []
started = [0.0]
def on_gc(phase, info):
    if info["generation"] == 2:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            full.append((started[0], time.perf_counter()))
gc.callbacks.append(on_gc)
spans = []
for row in rows:
    begin = time.perf_counter()
    with tracer.start_as_current_span("request"):
        model.predict(row)
    spans.append((begin, time.perf_counter()))
gc.callbacks.remove(on_gc)
times = sorted(end - begin for begin, end in spans)
def during_full_gc(begin, end):
    return any(begin < gc_end and gc_start < end for gc_start, gc_end in full)
quiet = [end - begin for begin, end in spans if not during_full_gc(begin, end)]
print(json.dumps({
    "max_ms": times[-1] * 1e3,
    "p999_ms": times[int(len(times) * 0.999)] * 1e3,
    "full_gcs": len(full),
    "longest_full_gc_ms": max((end - begin for begin, end in full), default=0.0) * 1e3,
    "max_without_full_gc_ms": max(quiet) * 1e3,
}))
print("END", time.time(), flush=True)
"""


@dataclass(frozen=True)
class LoopFigures:
    """What one run of the loop showed (milliseconds, exit in seconds)."""

    max_ms: float
    p999_ms: float
    full_gcs: int
    longest_full_gc_ms: float
    max_without_full_gc_ms: float
    exit_s: float


def run_loop(endpoint: str, calls: int, folder: Path, freeze: bool = False) -> LoopFigures:
    """Run the loop against ``endpoint`` (``http://host:port``, or ``-`` for plain)."""
    script = folder / "predict_loop_program.py"
    script.write_text(PROGRAM)
    process = subprocess.run(
        [sys.executable, str(script), endpoint, str(calls), "1" if freeze else "0"],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    ended = time.time()
    lines = process.stdout.splitlines()
    assert process.returncode == 0 and len(lines) >= 2, process.stderr
    figures = json.loads(lines[-2])
    return LoopFigures(**figures, exit_s=ended - float(lines[-1].split()[1]))


class Blackhole:
    """A TCP server on 127.0.0.1 that accepts connections and never reads or answers."""

    def __init__(self) -> None:
        self._server = socket.create_server((HOST, 0))
        self._server.settimeout(0.1)
        self.port: int = self._server.getsockname()[1]
        self._connections: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{HOST}:{self.port}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._connections.append(connection)

    def close(self) -> None:
        """Stop accepting and close every connection."""
        self._closed.set()
        self._thread.join(5)
        self._server.close()
        for connection in self._connections:
            connection.close()
