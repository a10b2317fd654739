"""Wall time of the query CLI against a running collector (issue #15: <= 0.3 s).

Starts a real collector with one fitted run in its lineage store, then runs
``mlspan recent``, ``mlspan trace <model>`` and ``mlspan drift`` as new processes
``--rounds`` times each, in turn, beside ``python -c pass`` (the interpreter's own start,
the floor no CLI can go under). Reported: median and minimum wall seconds per command.

    .venv/bin/python bench/cli_latency.py --rounds 9
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.collector.api.collector_process import fit_span, running_collector  # noqa: E402

GOAL_S = 0.3


def _time(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, timeout=120, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{args} failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLSPAN_", "OTEL_"))}
    with tempfile.TemporaryDirectory() as folder, running_collector(Path(folder)) as collector:
        collector.send([fit_span(1, '{"C": 1.0}', outputs=("model:q:1",))])
        collector.wait_for_runs(1)
        cli = [sys.executable, "-m", "mlspan.collector.cli.main"]
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "mlspan recent": [*cli, "recent", "--api", collector.api_url],
            "mlspan trace": [*cli, "trace", "model:q:1", "--api", collector.api_url],
            "mlspan drift": [*cli, "drift", "--api", collector.api_url],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                times[name].append(_time(command, env))
    print(f"{'command':<16} {'median':>8} {'min':>8}   (wall seconds, {args.rounds} runs each)")
    for name, values in times.items():
        print(f"{name:<16} {statistics.median(values):>8.3f} {min(values):>8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
