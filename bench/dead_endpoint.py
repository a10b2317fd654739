"""A 1-row predict loop with the collector down: slowest call and exit time.

Each scenario runs in its own interpreter (``tests/instrumentation/predict_loop.py``):
``plain`` (no OpenTelemetry), ``live`` (a real OTLP/gRPC receiver on 127.0.0.1),
``refused`` (a port nobody listens on) and ``blackhole`` (a server that accepts TCP and
never answers), the last three set up with ``mlspan.instrumentation.configure()``. The
loop makes ``--calls`` 1-row ``LogisticRegression.predict`` calls, each inside a request
span. Per scenario: the slowest call, the 99.9th percentile, the full (generation-2)
garbage collections during the loop and the longest, the slowest call during which no
full collection ran (what the export path costs a call), and the seconds from the
program's last statement to the end of its process. ``--freeze`` calls ``gc.freeze()``
after imports and setup, as an application can to take its long-lived heap out of full
collections. ``--rounds`` repeats each scenario and keeps each figure's best round
(scheduler noise on a shared machine is random; a call blocking on export is not).

Run: .venv/bin/python bench/dead_endpoint.py [--calls 20000] [--rounds 3] [--freeze]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import astuple
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.instrumentation.predict_loop import Blackhole, LoopFigures, run_loop
from tests.support.otlp_sink import HOST, OtlpSink, free_port


def best(rounds: list[LoopFigures]) -> LoopFigures:
    """Each figure's smallest value over the rounds."""
    return LoopFigures(*(min(values) for values in zip(*map(astuple, rounds), strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description="1-row predict loop with the collector down")
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() after setup")
    arguments = parser.parse_args()
    blackhole = Blackhole()
    try:
        with OtlpSink() as sink, tempfile.TemporaryDirectory() as folder:
            scenarios = {
                "plain": "-",
                "live": f"http://{sink.grpc_endpoint}",
                "refused": f"http://{HOST}:{free_port()}",
                "blackhole": blackhole.endpoint,
            }
            print(
                f"{'scenario':<10} {'max ms':>7} {'p99.9 ms':>8} {'full gcs':>8} "
                f"{'longest gc ms':>13} {'max w/o gc ms':>13} {'exit s':>6}"
            )
            for scenario, endpoint in scenarios.items():
                f = best(
                    [
                        run_loop(endpoint, arguments.calls, Path(folder), arguments.freeze)
                        for _ in range(arguments.rounds)
                    ]
                )
                print(
                    f"{scenario:<10} {f.max_ms:7.1f} {f.p999_ms:8.2f} {f.full_gcs:8d} "
                    f"{f.longest_full_gc_ms:13.1f} {f.max_without_full_gc_ms:13.1f} "
                    f"{f.exit_s:6.2f}",
                    flush=True,
                )
    finally:
        blackhole.close()


if __name__ == "__main__":
    main()
