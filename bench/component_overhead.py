"""Added cost of the component API per call, measured side by side in one process.

Plain and component-wrapped calls alternate in rounds (so machine noise hits both
alike); the report gives the median over rounds of the added microseconds per call.
Spans go through a BatchSpanProcessor into an in-memory exporter, as a real SDK setup
would batch them (OTLP encoding happens off the calling thread).

    .venv/bin/python bench/component_overhead.py [--calls 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mlspan.instrumentation.code_version import CodeVersions
from mlspan.instrumentation.component import component


def per_call_us(function: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls * 1e6


def added_us(
    plain: Callable[[], object], wrapped: Callable[[], object], calls: int, rounds: int
) -> tuple[float, float]:
    plain()
    wrapped()
    added = []
    for _ in range(rounds):
        base = per_call_us(plain, calls)
        added.append(per_call_us(wrapped, calls) - base)
    return statistics.median(added), base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=1 << 16))
    versions = CodeVersions()
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(1000, 20)))

    def step(data: object = None) -> int:
        return 1

    decorated = component("bench", tracer_provider=provider, code_versions=versions)(step)
    with_input = component(
        "bench-input", inputs=["data"], tracer_provider=provider, code_versions=versions
    )(step)
    reused = component("bench-with", tracer_provider=provider, code_versions=versions)

    def in_block() -> int:
        with reused:
            return step()

    def in_block_with_input() -> int:
        with reused as run:
            run.add_input(frame)
            return step(frame)

    cases: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        ("decorator, no inputs", step, decorated),
        ("decorator, 1000x20 float frame input", lambda: step(frame), lambda: with_input(frame)),
        ("with block, no inputs", step, in_block),
        ("with block, 1000x20 float frame input", lambda: step(frame), in_block_with_input),
    ]
    print(f"{'case':<40} {'added per call':>16}")
    for name, plain, wrapped in cases:
        added, _ = added_us(plain, wrapped, args.calls, args.rounds)
        print(f"{name:<40} {added:>13.1f} us")
        exporter.clear()
    provider.shutdown()


if __name__ == "__main__":
    main()
