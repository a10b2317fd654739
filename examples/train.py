"""Train the churn model: raw CSVs -> cleaned frame -> scikit-learn Pipeline -> predictions.

The holdout's predictions and labels are also sent as the model version's validation
outcomes (``evaluate``): the reference the collector calibrates estimated accuracy on.

Run it either way (see ``telemetry.py``)::

    OTEL_SERVICE_NAME=churn-pipeline opentelemetry-instrument python examples/train.py
    python examples/train.py --instrument
"""

from __future__ import annotations

import argparse
from pathlib import Path

import churn_outcomes
import churn_pipeline
import telemetry


def main() -> None:
    """Parse options, optionally set up mlspan, then train."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(".mlspan/example"))
    telemetry.add_arguments(parser)
    args = parser.parse_args()
    if args.instrument:
        telemetry.setup(churn_pipeline.SERVICE_NAME, args.endpoint)
    root = args.data_dir
    result = churn_pipeline.train(
        root, lambda model, x, y: churn_outcomes.evaluate_holdout(root, model, x, y)
    )
    print(f"model saved to {result.model_path} (holdout accuracy {result.accuracy:.3f})")
    print(f"holdout predictions written to {result.predictions_path}")


if __name__ == "__main__":
    main()
