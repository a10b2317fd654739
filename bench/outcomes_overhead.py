"""Cost of recording outcomes in the application, per 1,000 labels.

Three figures:

* **caller**: what ``record_outcomes`` (and ``log_predictions``) add to the calling
  thread, per call of 1,000 rows: copying the arguments into the recorder's queue.
  This is the figure the goal (<= 50 us per 1,000 labels) is about.
* **worker**: the CPU time the recorder's worker thread spends per 1,000 labels to join
  them to the SQLite prediction log, build the summaries and emit the spans (off the
  caller's path, but in the same process).
* **log size**: bytes of the SQLite file per logged prediction (binary classifier with
  probabilities), the figure behind the documented bound of the log.

Spans go to an in-memory exporter through a BatchSpanProcessor.

    .venv/bin/python bench/outcomes_overhead.py [--batches 200] [--rows 1000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sklearn.linear_model import LogisticRegression

from mlspan.instrumentation.outcomes import OutcomeRecorder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.rows, 5))
    y = (x[:, 0] + rng.normal(size=args.rows) > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    proba, pred = model.predict_proba(x), model.predict(x)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(InMemorySpanExporter()))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "predictions.sqlite"
        recorder = OutcomeRecorder(path, tracer_provider=provider, emit_labels=10_000)
        ids = [np.arange(b * args.rows, (b + 1) * args.rows) for b in range(args.batches)]
        log_us, cpu = [], time.process_time()
        for batch in ids:
            start = time.perf_counter_ns()
            recorder.log_predictions(model, batch, pred, proba)
            log_us.append((time.perf_counter_ns() - start) / 1000)
        recorder.flush(600)
        log_cpu = time.process_time() - cpu
        size = path.stat().st_size + _wal(path)
        label_us, label_list_us = [], []
        cpu = time.process_time()
        for number, batch in enumerate(ids):
            truth = y if number % 2 else y.tolist()
            keys = batch if number % 2 else batch.tolist()
            start = time.perf_counter_ns()
            recorder.record_outcomes(keys, truth)
            elapsed = (time.perf_counter_ns() - start) / 1000
            (label_us if number % 2 else label_list_us).append(elapsed)
        recorder.flush(600)
        label_cpu = time.process_time() - cpu
        recorder.close()
    provider.shutdown()
    per_thousand = 1000 / args.rows
    rows = args.batches * args.rows
    print(f"{args.batches} batches of {args.rows} rows; spans emitted {recorder.emitted_spans}")
    print(
        "caller, record_outcomes (numpy ids and labels): median "
        f"{statistics.median(label_us) * per_thousand:.1f} us, p90 "
        f"{_p90(label_us) * per_thousand:.1f} us per 1,000 labels"
    )
    print(
        "caller, record_outcomes (numpy ids and labels): p99 "
        f"{statistics.quantiles(label_us, n=100)[-1] * per_thousand:.1f} us, max "
        f"{max(label_us) * per_thousand:.1f} us"
    )
    print(
        "caller, record_outcomes (Python lists):         median "
        f"{statistics.median(label_list_us) * per_thousand:.1f} us, p90 "
        f"{_p90(label_list_us) * per_thousand:.1f} us per 1,000 labels"
    )
    print(
        "caller, log_predictions (numpy, with proba):    median "
        f"{statistics.median(log_us) * per_thousand:.1f} us per 1,000 predictions"
    )
    print(f"worker CPU, logging:  {log_cpu / rows * 1e9:.0f} us per 1,000 predictions")
    print(f"worker CPU, joining:  {label_cpu / rows * 1e9:.0f} us per 1,000 labels")
    print(f"log file: {size / rows:.0f} bytes per logged prediction ({size / 1e6:.1f} MB)")


def _wal(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


if __name__ == "__main__":
    main()
