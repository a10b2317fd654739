"""Overhead of the scikit-learn instrumentation, plain and instrumented calls alternating.

(a) HistGradientBoostingClassifier fit on 100k x 20 and predict on another 100k x 20,
    with summaries on (goal: instrumented / plain <= 1.05);
(b) a 1-row predict loop inside a request trace (a span per call) and bare (one root
    span per 5 s, the rest feed the summary): added cost per call (goal: <= 150 us);
(c) digest throughput (GB/s) and feature-summary throughput (cells/s);
plus the time ``instrument()`` takes in a fresh interpreter (goal: well under 0.2 s).

Rounds alternate plain/instrumented in ABBA order inside one process; the medians are
compared (for (b) also the median of the per-round differences, "paired"). Spans go
through a BatchSpanProcessor into an in-memory exporter, as an application would hand
them to an OTLP exporter. Run: .venv/bin/python bench/instrumentation_overhead.py
[--quick] [--only fit|small] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import numpy as np
import pandas as pd
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import mlspan.instrumentation
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
    for index in range(rounds):
        order = (False, True) if index % 2 == 0 else (True, False)
        for on in order:
            if on:
                # Both instrumentors, as mlspan.instrumentation.instrument() sets them up.
                mlspan.instrumentation.instrument(tracer_provider=tracer_provider)
                try:
                    instrumented.append(run())
                finally:
                    mlspan.instrumentation.uninstrument()
            else:
                plain.append(run())
    return plain, instrumented


def bench_fit_predict(rounds: int, rows: int, threads: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    columns = [f"f{i}" for i in range(20)]
    x = pd.DataFrame(rng.normal(size=(rows, 20)), columns=columns)
    y = (x["f0"] + 0.5 * x["f1"] + rng.normal(size=rows) > 0).astype(int)
    x_new = pd.DataFrame(rng.normal(size=(rows, 20)), columns=columns)
    tracer_provider, exporter = provider()

    wall: dict[bool, list[float]] = {False: [], True: []}

    def run() -> float:
        """CPU seconds of the process (all threads); wall seconds kept aside."""
        with threadpool_limits(threads):
            start, cpu = time.perf_counter(), time.process_time()
            model = HistGradientBoostingClassifier(random_state=0).fit(x, y)
            model.predict(x_new)
            elapsed, used = time.perf_counter() - start, time.process_time() - cpu
        wall[SklearnInstrumentor().is_instrumented_by_opentelemetry].append(elapsed)
        return used

    run()  # warm-up: imports, caches
    wall[False].clear()
    plain, instrumented = alternate(run, rounds, tracer_provider)
    tracer_provider.force_flush()
    events = sum(len(span.events) for span in exporter.get_finished_spans())
    tracer_provider.shutdown()

    # The instrumentation's own work for one fit + predict (digests and summaries of X,
    # y, the new X and the predictions), timed alone: a figure the noise of a shared
    # machine disturbs far less than the difference of two long runs.
    predictions = HistGradientBoostingClassifier(max_iter=5).fit(x, y).predict(x_new)
    summarizer = Summarizer.from_options(InstrumentationOptions())
    parts = (
        (x, FeatureOrigin.INPUT),
        (y, FeatureOrigin.TARGET),
        (x_new, FeatureOrigin.INPUT),
        (predictions, FeatureOrigin.PREDICTION),
    )

    def work() -> float:
        cpu = time.process_time()
        for data, origin in parts:
            digest_data(data)
            summarizer.summarize(data, origin, "x")
        return time.process_time() - cpu

    work_cpu = statistics.median(work() for _ in range(7))
    return {
        "work_cpu_s": work_cpu,
        "work_ratio": (statistics.median(plain) + work_cpu) / statistics.median(plain),
        "plain_cpu_s": statistics.median(plain),
        "instrumented_cpu_s": statistics.median(instrumented),
        "cpu_ratio": statistics.median(instrumented) / statistics.median(plain),
        "plain_wall_s": statistics.median(wall[False]),
        "instrumented_wall_s": statistics.median(wall[True]),
        "wall_ratio": statistics.median(wall[True]) / statistics.median(wall[False]),
        "rounds": rounds,
        "summary_events": events,
    }


def bench_small_predict(rounds: int, calls: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1000, 20))
    y = (x[:, 0] > 0).astype(int)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)])
    results: dict[str, Any] = {}
    cases = [
        (f"{kind}, {where}", data, traced)
        for kind, data in (("ndarray", x), ("DataFrame", frame))
        for where, traced in (("in a request trace", True), ("bare loop", False))
    ]
    for label, data, traced in cases:
        model = LogisticRegression().fit(data, y)
        row = data[:1] if isinstance(data, np.ndarray) else data.iloc[:1]
        tracer_provider, _ = provider()
        tracer = tracer_provider.get_tracer("bench")

        def run(
            model: Any = model, row: Any = row, traced: bool = traced, tracer: Any = tracer
        ) -> float:
            # in a request trace every call gets a span; a bare loop gets one per 5 s
            request = tracer.start_span("request") if traced else None
            with trace.use_span(request) if request is not None else nullcontext():
                start = time.process_time()
                for _ in range(calls):
                    model.predict(row)
                used = (time.process_time() - start) / calls * 1e6
            if request is not None:
                request.end()
            return used

        run()
        plain, instrumented = alternate(run, rounds, tracer_provider)
        tracer_provider.shutdown()
        results[label] = {
            "plain_us": statistics.median(plain),
            "instrumented_us": statistics.median(instrumented),
            "added_us": statistics.median(instrumented) - statistics.median(plain),
            # each round's instrumented figure minus the plain one next to it: the noise
            # of a shared machine moves both members of a pair alike
            "paired_us": statistics.median(b - a for a, b in zip(plain, instrumented, strict=True)),
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
    parser.add_argument(
        "--only",
        choices=("fit", "small"),
        help="run only (a) the large fit+predict or (b) the 1-row predict loops",
    )
    parser.add_argument(
        "--rounds", type=int, default=7, help="rounds of (b) per case (median taken)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="OpenMP threads for (a); 1 by default because spinning OpenMP workers on a "
        "loaded 2-core machine make wall-clock ratios meaningless",
    )
    args = parser.parse_args()
    rows, rounds, calls = (20_000, 2, 500) if args.quick else (100_000, 6, 2000)
    if args.only is None:
        call, with_imports = instrument_time()
        print(
            f"instrument() in a fresh interpreter: {call * 1000:.1f} ms "
            f"({with_imports * 1000:.1f} ms including importing mlspan's modules)"
        )
    if args.only in (None, "fit"):
        print_fit_predict(rounds, rows, args.threads)
    if args.only in (None, "small"):
        for label, figures in bench_small_predict(args.rounds, calls).items():
            print(
                f"(b) 1-row predict, {label}: plain {figures['plain_us']:.1f} us, "
                f"instrumented {figures['instrumented_us']:.1f} us, "
                f"added {figures['added_us']:.1f} us per call, paired {figures['paired_us']:.1f} "
                f"(CPU time, median of {args.rounds} x {calls})"
            )
    if args.only is None:
        for name, value in bench_throughput().items():
            print(f"(c) {name}: {value:.2f}")


def print_fit_predict(rounds: int, rows: int, threads: int) -> None:
    fit = bench_fit_predict(rounds, rows, threads)
    print(
        f"(a) HistGradientBoostingClassifier fit+predict {rows}x20, {threads} thread(s), "
        "summaries on: "
        f"CPU plain {fit['plain_cpu_s']:.2f} s, instrumented {fit['instrumented_cpu_s']:.2f} s, "
        f"ratio {fit['cpu_ratio']:.3f}; wall plain {fit['plain_wall_s']:.2f} s, "
        f"instrumented {fit['instrumented_wall_s']:.2f} s, ratio {fit['wall_ratio']:.3f} "
        f"(medians of {fit['rounds']}; {fit['summary_events']} summary events)"
    )
    print(
        f"    instrumentation work alone (digests + summaries of X, y, new X, predictions): "
        f"{fit['work_cpu_s'] * 1000:.0f} ms CPU -> (plain + work) / plain = "
        f"{fit['work_ratio']:.3f}"
    )


if __name__ == "__main__":
    main()
