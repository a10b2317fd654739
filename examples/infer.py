"""Score new customer batches with the trained churn model; later batches are drifted.

Run ``train.py`` first, then either way (see ``telemetry.py``)::

    OTEL_SERVICE_NAME=churn-pipeline opentelemetry-instrument python examples/infer.py
    python examples/infer.py --instrument
"""

from __future__ import annotations

import argparse
from pathlib import Path

import churn_pipeline
import telemetry


def report(index: int, drift: churn_pipeline.Drift, path: Path) -> None:
    """Print one line per scored batch."""
    print(f"batch {index} -> {path}: {drift.describe()}")


def main() -> None:
    """Parse options, optionally set up mlspan, then score every batch."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(".mlspan/example"))
    parser.add_argument(
        "--batch",
        type=int,
        choices=range(len(churn_pipeline.INFERENCE_BATCHES)),
        help="score only this batch, as one scheduled scoring job would (default: all)",
    )
    telemetry.add_arguments(parser)
    args = parser.parse_args()
    if args.instrument:
        telemetry.setup(churn_pipeline.SERVICE_NAME, args.endpoint)
    churn_pipeline.infer(args.data_dir, report=report, only=args.batch)


if __name__ == "__main__":
    main()
