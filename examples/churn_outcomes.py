"""Delayed labels for the churn pipeline: predictions keyed by customer id, labels later.

Which customers churned is known only weeks after they were scored, and only for some of
them. The examples simulate that on a clock of their own, one hour per scoring job (so
each batch gets its own hourly prediction window):

* training (``train.py``) fixes the clock (``models/schedule.json``): the model is
  validated at hour 0, when the holdout's predictions and labels are both at hand
  (``evaluate``: the reference the collector calibrates its estimates on);
* scoring job ``n`` (``infer.py --batch n``) scores batch ``n`` at hour ``n + 1`` and logs
  its predictions under the customer ids (``OutcomeRecorder.keyed``) in a prediction log
  that stays in the application (``state/predictions.sqlite``), then records the labels
  that have "arrived" by then for earlier batches (``LABEL_DELIVERIES``): some on time,
  some late, some never.

Only summaries leave the process: the binned probabilities of each batch's predictions
(the collector estimates accuracy from them at once) and, as labels arrive, the
performance of the labelled ones (the realised accuracy beside the estimate).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import churn_pipeline
import numpy as np
import pandas as pd
from opentelemetry import trace

from mlspan.instrumentation.outcomes import OutcomeRecorder, evaluate

HOUR: Final = 3600
LABEL_DELIVERIES: Final[dict[int, tuple[tuple[int, float, float], ...]]] = {
    1: ((0, 0.0, 0.8),),
    2: ((1, 0.0, 0.6),),
    3: ((0, 0.8, 0.95), (2, 0.0, 1.0)),
    4: ((1, 0.6, 0.9),),
}
"""Per scoring job: (batch, from share, to share) of that batch's customers whose labels
arrive then. Batch 0: 80 % on time, 15 % late, 5 % never; batch 1: 60 % on time, 30 %
late, 10 % never; batch 2 (its churn relationship changed): all, one job late; batches 3
and 4: none yet."""


def _schedule_path(root: Path) -> Path:
    return root / "models" / "schedule.json"


def start_clock(root: Path) -> float:
    """Fix hour 0 of the simulated clock (eight hours ago, on the hour); return it."""
    start = float((int(time.time()) // HOUR - 8) * HOUR)
    path = _schedule_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"validated_at": start}))
    return start


def clock(root: Path) -> float:
    """Hour 0 of the simulated clock that training fixed."""
    return float(json.loads(_schedule_path(root).read_text())["validated_at"])


def scored_at(start: float, batch: int) -> float:
    """When batch ``batch`` is scored: one minute into hour ``batch + 1``."""
    return start + (batch + 1) * HOUR + 60


def evaluate_holdout(root: Path, model: Any, probabilities: np.ndarray, labels: pd.Series) -> None:
    """Validation outcomes of the new model on the holdout (its predicted probabilities
    and true labels), at hour 0 of the clock."""
    predicted = model.classes_[probabilities.argmax(axis=1)]
    evaluate(model, labels.to_numpy(), predicted, probabilities, at=start_clock(root))


def batch_labels(index: int, drift: churn_pipeline.Drift) -> pd.Series:
    """The true churn label of every customer of batch ``index``, by customer id."""
    frame = churn_pipeline.generate_batch_frame(index, drift)
    labels: pd.Series = frame.set_index("customer_id")[churn_pipeline.TARGET]
    return labels.sort_index()


class Outcomes:
    """The prediction log of the scoring jobs and the label deliveries on the clock."""

    def __init__(self, root: Path) -> None:
        self._start = clock(root)
        self.recorder = OutcomeRecorder(root / "state" / "predictions.sqlite")

    @contextmanager
    def keyed(self, model: Any, customers: pd.Index, batch: int) -> Iterator[Any]:
        """Predict through this: the predictions are logged under the customer ids."""
        at = scored_at(self._start, batch)
        with self.recorder.keyed(model, customers.to_numpy(), at=at) as scored:
            yield scored

    def deliver(self, job: int) -> list[str]:
        """Record the labels arriving during scoring job ``job``; one line for each."""
        lines = []
        for batch, first, last in LABEL_DELIVERIES.get(job, ()):
            labels = batch_labels(batch, churn_pipeline.INFERENCE_BATCHES[batch])
            order = np.random.default_rng(churn_pipeline.SEED + 100 + batch).permutation(
                len(labels)
            )
            chosen = np.sort(order[int(first * len(labels)) : int(last * len(labels))])
            arrived = labels.iloc[chosen]
            self.recorder.record_outcomes(
                arrived.index.to_numpy(), arrived.to_numpy(), at=scored_at(self._start, job)
            )
            late = " (late)" if first > 0 else ""
            lines.append(
                f"  labels arrived for batch {batch}: {len(arrived)} customers"
                f" ({last - first:.0%} of the batch){late}"
            )
        return lines

    def close(self) -> None:
        """Send what is left (the predictions summaries and the joined labels), and wait
        for the export: a job's exit gives a slow collector only a short time."""
        self.recorder.close()
        force_flush = getattr(trace.get_tracer_provider(), "force_flush", None)
        if callable(force_flush):
            force_flush()
