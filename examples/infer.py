"""Score new customer batches with the trained churn model; later batches are drifted.

Each job logs its predictions under the customer ids (``churn_outcomes.py``) and records
the churn labels that have arrived by then for earlier batches.

Run ``train.py`` first, then either way (see ``telemetry.py``)::

    OTEL_SERVICE_NAME=churn-pipeline opentelemetry-instrument python examples/infer.py
    python examples/infer.py --instrument
"""

from __future__ import annotations

import argparse
from pathlib import Path

import churn_outcomes
import churn_pipeline
import telemetry


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
    outcomes = churn_outcomes.Outcomes(args.data_dir)

    def report(index: int, drift: churn_pipeline.Drift, path: Path) -> None:
        """One line per scored batch, then the labels that arrived meanwhile."""
        print(f"batch {index} -> {path}: {drift.describe()}")
        for line in outcomes.deliver(index):
            print(line)

    try:
        churn_pipeline.infer(args.data_dir, report=report, only=args.batch, keyed=outcomes.keyed)
    finally:
        outcomes.close()


if __name__ == "__main__":
    main()
