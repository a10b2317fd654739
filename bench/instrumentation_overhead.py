"""Overhead of the scikit-learn instrumentation, plain and instrumented calls alternating.

(a) HistGradientBoostingClassifier fit + predict on 100k x 20 with summaries on
    (goal: instrumented / plain <= 1.05);
(b) a 1-row predict loop: added cost per call (goal: <= 150 us);
(c) digest throughput (GB/s) and feature-summary throughput (cells/s);
plus the time ``instrument()`` takes in a fresh interpreter (goal: well under 0.2 s).

Rounds alternate plain/instrumented in ABBA order inside one process; the medians are
compared. Spans go through a BatchSpanProcessor into an in-memory exporter, as an
application would hand them to an OTLP exporter. Run: .venv/bin/python
bench/instrumentation_overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from mlspan.instrumentation.digest import digest_data
from mlspan.instrumentation.options import InstrumentationOptions
from mlspan.instrumentation.sklearn import SklearnInstrumentor
from mlspan.instrumentation.summarize import Summarizer
from mlspan.semconv import FeatureOrigin


def provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=1 << 16))
    return tracer_provider, exporter


def alternate(
    run: Callable[[], float], rounds: int, tracer_provider: TracerProvider
) -> tuple[list[float], list[float]]:
    """Per-round figures of ``run`` plain and instrumented, in ABBA order."""
    plain: list[float] = []
    instrumented: list[float] = []
    instrumentor = SklearnInstrumentor()
    for index in range(rounds):
        order = (False, True) if index % 2 == 0 else (True, False)
        for on in order:
            if on:
                instrumentor.instrument(tracer_provider=tracer_provider)
                try:
                    instrumented.append(run())
                finally:
                    instrumentor.uninstrument()
            else:
                plain.append(run())
    return plain, instrumented


def bench_fit_predict(rounds: int, rows: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(rows, 20)), columns=[f"f{i}" for i in range(20)])
    y = (x["f0"] + 0.5 * x["f1"] + rng.normal(size=rows) > 0).astype(int)
    tracer_provider, exporter = provider()

    def run() -> float:
        start = time.perf_counter()
        model = HistGradientBoostingClassifier(random_state=0).fit(x, y)
        model.predict(x)
        return time.perf_counter() - start

    run()  # warm-up: imports, caches
    plain, instrumented = alternate(run, rounds, tracer_provider)
    tracer_provider.force_flush()
    events = sum(len(span.events) for span in exporter.get_finished_spans())
    tracer_provider.shutdown()
    return {
        "plain_s": statistics.median(plain),
        "instrumented_s": statistics.median(instrumented),
        "ratio": statistics.median(instrumented) / statistics.median(plain),
        "rounds": rounds,
        "summary_events": events,
    }


def bench_small_predict(rounds: int, calls: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1000, 20))
    y = (x[:, 0] > 0).astype(int)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)])
    results: dict[str, Any] = {}
    for label, data in (("ndarray", x), ("DataFrame", frame)):
        model = LogisticRegression().fit(data, y)
        row = data[:1] if isinstance(data, np.ndarray) else data.iloc[:1]
        tracer_provider, _ = provider()

        def run(model: Any = model, row: Any = row) -> float:
            start = time.process_time()
            for _ in range(calls):
                model.predict(row)
            return (time.process_time() - start) / calls * 1e6

        run()
        plain, instrumented = alternate(run, rounds, tracer_provider)
        tracer_provider.shutdown()
        results[label] = {
            "plain_us": statistics.median(plain),
            "instrumented_us": statistics.median(instrumented),
            "added_us": statistics.median(instrumented) - statistics.median(plain),
        }
    return results


def bench_throughput() -> dict[str, float]:
    rng = np.random.default_rng(2)
    numeric = pd.DataFrame(rng.normal(size=(1_000_000, 20)))
    strings = pd.DataFrame({f"s{i}": rng.integers(0, 500, 200_000).astype(str) for i in range(5)})
    summarizer = Summarizer.from_options(InstrumentationOptions())
    out: dict[str, float] = {}
    start = time.perf_counter()
    digest_data(numeric)
    out["digest_numeric_GBps"] = numeric.to_numpy().nbytes / (time.perf_counter() - start) / 1e9
    start = time.perf_counter()
    digest_data(strings)
    out["digest_string_Mcells_per_s"] = strings.size / (time.perf_counter() - start) / 1e6
    sample = numeric.iloc[:100_000]
    start = time.perf_counter()
    summarizer.summarize(sample, FeatureOrigin.INPUT, "x")
    out["summary_numeric_Mcells_per_s"] = sample.size / (time.perf_counter() - start) / 1e6
    start = time.perf_counter()
    summarizer.summarize(strings, FeatureOrigin.INPUT, "x")
    out["summary_categorical_Mcells_per_s"] = strings.size / (time.perf_counter() - start) / 1e6
    return out


def instrument_time() -> tuple[float, float]:
    """Median seconds of ``instrument()`` alone, and with importing mlspan's modules first.

    Each run is a fresh interpreter where numpy and OpenTelemetry's instrumentation
    package are imported first (any instrumented application loads both).
    """
    script = (
        "import time\n"
        "import numpy\n"
        "import opentelemetry.instrumentation.instrumentor\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "p = TracerProvider()\n"
        "t0 = time.perf_counter()\n"
        "import mlspan.instrumentation.sklearn, mlspan.instrumentation.pandas\n"
        "import mlspan.instrumentation as m\n"
        "t1 = time.perf_counter(); m.instrument(tracer_provider=p); t2 = time.perf_counter()\n"
        "import sys; assert 'sklearn' not in sys.modules and 'pandas' not in sys.modules\n"
        "print(t2 - t1, t2 - t0)\n"
    )
    runs = [
        [
            float(value)
            for value in subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, check=True
            ).stdout.split()
        ]
        for _ in range(5)
    ]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer rounds")
    args = parser.parse_args()
    rows, rounds, calls = (20_000, 2, 500) if args.quick else (100_000, 4, 2000)
    call, with_imports = instrument_time()
    print(
        f"instrument() in a fresh interpreter: {call * 1000:.1f} ms "
        f"({with_imports * 1000:.1f} ms including importing mlspan's modules)"
    )
    fit = bench_fit_predict(rounds, rows)
    print(
        f"(a) HistGradientBoostingClassifier fit+predict {rows}x20, summaries on: "
        f"plain {fit['plain_s']:.2f} s, instrumented {fit['instrumented_s']:.2f} s, "
        f"ratio {fit['ratio']:.3f} (median of {fit['rounds']}; "
        f"{fit['summary_events']} summary events)"
    )
    for label, figures in bench_small_predict(7, calls).items():
        print(
            f"(b) 1-row predict, {label}: plain {figures['plain_us']:.1f} us, "
            f"instrumented {figures['instrumented_us']:.1f} us, "
            f"added {figures['added_us']:.1f} us per call (CPU time, median of 7 x {calls})"
        )
    for name, value in bench_throughput().items():
        print(f"(c) {name}: {value:.2f}")


if __name__ == "__main__":
    main()
