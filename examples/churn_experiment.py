"""Three versions of the churn model and an A/B test of two of them.

Two jobs, run after ``train.py`` (they reuse its raw files and its simulated clock):

* ``train``: fit the churn pipeline three times, changing only the gradient boosting's
  learning rate (``VERSIONS``), each inside ``component("train-churn",
  model_name="churn")`` so the collector's model registry numbers them ``churn v1``,
  ``v2``, ``v3`` in the order they are fitted; each is scored on the holdout (the
  registry's key metric) and saved as ``models/churn_<label>.pkl``.
* ``serve``: score a new batch of customers drawn like the training data, sending each
  customer to v2 or v3 by a hash of the customer id (50/50), with the predictions logged
  by customer id (``churn_outcomes.Outcomes``: the prediction log the scoring jobs use);
  one simulated hour later the churn labels arrive and are recorded. The collector's
  ``churn-ab`` experiment (``demo-collector.yaml``) reads the arm of every prediction
  from its model version and compares the arms' accuracy on the labelled outcomes.

The difference is real: on the holdout v3 (learning rate 0.5) is about three points more
accurate than v2 (0.05, too small a step for its 20 iterations), and the experiment
batch has enough customers for the always-valid test to see it.

Run ``train.py`` first, then either way (see ``telemetry.py``)::

    python examples/churn_experiment.py train --instrument
    python examples/churn_experiment.py serve --instrument
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path
from typing import Any, Final

import churn_outcomes
import churn_pipeline
import numpy as np
import pandas as pd
import telemetry
from sklearn.pipeline import Pipeline

from mlspan.instrumentation.component import component

MODEL_NAME: Final = "churn"
EXPERIMENT: Final = "churn-ab"
BASE_PARAMETERS: Final[dict[str, Any]] = {"max_iter": 20, "max_depth": 2}
"""Small, quick boosters: the three versions differ only in their learning rate."""
VERSIONS: Final[tuple[tuple[str, float], ...]] = (("v1", 0.2), ("v2", 0.05), ("v3", 0.5))
"""(label, learning rate), fitted in this order: the registry's v1, v2, v3."""
ARMS: Final = ("v2", "v3")
"""The versions the A/B test serves: the control, then the challenger."""
BATCH: Final = len(churn_pipeline.INFERENCE_BATCHES)
"""The experiment's batch number: after the demo's scoring jobs, on the same clock."""
ROWS: Final = 16_000
"""Customers in the experiment batch: about 8,000 per arm, enough to decide a
difference of three points of accuracy."""


def model_path(root: Path, label: str) -> Path:
    """Where version ``label`` is saved."""
    return root / "models" / f"churn_{label}.pkl"


def build_version(learning_rate: float) -> Pipeline:
    """The churn pipeline with the small booster at ``learning_rate``."""
    parameters = {**BASE_PARAMETERS, "learning_rate": learning_rate}
    model = churn_pipeline.build_model()
    model.set_params(**{f"classifier__{name}": value for name, value in parameters.items()})
    return model


def training_files(root: Path) -> dict[str, tuple[Path, Path]]:
    """The raw training and holdout tables ``train.py`` wrote (written here only when
    missing: rewriting them would add writes of the same files to their lineage)."""
    raw = root / "raw"
    files = {
        "train": (raw / "customers.csv", raw / "accounts.csv"),
        "holdout": (raw / "holdout_customers.csv", raw / "holdout_accounts.csv"),
    }
    if all(path.exists() for pair in files.values() for path in pair):
        return files
    return churn_pipeline.generate_training_data(root)


def train_versions(root: Path) -> list[str]:
    """Fit, score on the holdout and save every version; one line per version."""
    raw = training_files(root)
    features = churn_pipeline.clean(*raw["train"])
    target = churn_pipeline.labels(raw["train"][1], features.index)
    holdout = churn_pipeline.clean(*raw["holdout"])
    truth = churn_pipeline.labels(raw["holdout"][1], holdout.index)
    step = component("train-churn", owner="ml-team", tags=["churn"], model_name=MODEL_NAME)
    lines = []
    for label, learning_rate in VERSIONS:
        with step as run:
            model = build_version(learning_rate).fit(features, target)
            accuracy = float(model.score(holdout, truth))
            run.add_output(model)
        path = model_path(root, label)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(model))
        lines.append(
            f"{MODEL_NAME} {label}: learning_rate {learning_rate:g}, "
            f"holdout accuracy {accuracy:.3f} -> {path}"
        )
    return lines


def arm_of(customers: pd.Index) -> np.ndarray:
    """The arm serving each customer: a multiplicative hash of the id, split 50/50
    (stable across jobs and independent of anything the model sees)."""
    ids = customers.to_numpy().astype(np.uint64)
    hashed = (ids * np.uint64(2654435761)) % np.uint64(2**32)
    return np.where(hashed >= np.uint64(2**31), ARMS[1], ARMS[0])


def batch_labels(customers: pd.Index) -> pd.Series:
    """The true churn label of the experiment batch's ``customers``."""
    frame = churn_pipeline.generate_batch_frame(BATCH, churn_pipeline.Drift(), ROWS)
    labels: pd.Series = frame.set_index("customer_id")[churn_pipeline.TARGET]
    return labels.loc[customers]


def serve(root: Path) -> list[str]:
    """Score the experiment batch split between the arms, log the predictions, then
    record the labels one simulated hour later; one line per step."""
    files = churn_pipeline.generate_batch(root, BATCH, churn_pipeline.Drift(), ROWS)
    features = churn_pipeline.clean(*files)
    arms = arm_of(features.index)
    outcomes = churn_outcomes.Outcomes(root)
    step = component("serve-churn", owner="ml-team", tags=["churn"], model_name=MODEL_NAME)
    lines = []
    try:
        for arm in ARMS:
            model = churn_pipeline.load_model(model_path(root, arm))
            served = features[arms == arm]
            path = root / "predictions" / f"batch_{BATCH}_{arm}.csv"
            with step, outcomes.keyed(model, served.index, BATCH) as scored:
                churn_pipeline.write_predictions(scored, served, path)
            lines.append(f"{MODEL_NAME} {arm} served {len(served):,} customers -> {path}")
        labels = batch_labels(features.index)
        outcomes.recorder.record_outcomes(
            labels.index.to_numpy(),
            labels.to_numpy(),
            at=churn_outcomes.scored_at(churn_outcomes.clock(root), BATCH + 1),
        )
        lines.append(f"  labels arrived for the experiment batch: {len(labels):,} customers")
    finally:
        outcomes.close()
    return lines


def main() -> None:
    """Parse options, optionally set up mlspan, then run the chosen job."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", choices=("train", "serve"))
    parser.add_argument("--data-dir", type=Path, default=Path(".mlspan/example"))
    telemetry.add_arguments(parser)
    args = parser.parse_args()
    if args.instrument:
        telemetry.setup(churn_pipeline.SERVICE_NAME, args.endpoint)
    job = train_versions if args.job == "train" else serve
    for line in job(args.data_dir):
        print(line)


if __name__ == "__main__":
    main()
