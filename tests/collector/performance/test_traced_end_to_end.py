"""End to end: estimated performance from instrumented ``predict_proba`` calls alone.

With no prediction log, the user's own ``predict_proba`` spans carry the binned
probabilities of their predictions; a real collector estimates the model's accuracy from
them (within 0.02 of the realised accuracy on a calibrated model), keeps them across a
restart, and gives way to the prediction log's ``predictions`` spans once a version
sends some (they key windows by the caller's prediction time).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from mlspan.instrumentation import instrument, uninstrument
from mlspan.instrumentation.outcomes import OutcomeRecorder
from tests.collector.performance.collector import PerformanceCollector, performance_collector
from tests.support.processes import poll

pytestmark = pytest.mark.slow

MODEL = "LogisticRegression"


def _result(collector: PerformanceCollector, ready: Any) -> dict[str, Any]:
    def answer() -> dict[str, Any] | None:
        results = collector.get_json(f"/api/v1/performance?model={MODEL}")["results"]
        return results[0] if results and ready(results[0]) else None

    return poll("performance of the traced model", answer, timeout=60)


def test_predict_proba_spans_give_estimates_until_a_prediction_log_speaks(
    tmp_path: Path,
) -> None:
    x, y = make_classification(40_000, 20, n_informative=6, flip_y=0.05, random_state=3)
    with performance_collector(tmp_path) as collector:
        provider = collector.provider()
        instrument(tracer_provider=provider)
        try:
            model = LogisticRegression(max_iter=1000).fit(x[:20_000], y[:20_000])
            first = model.predict_proba(x[20_000:30_000])
            second = model.predict_proba(x[30_000:])
        finally:
            uninstrument()
        provider.force_flush()
        proba = np.vstack([first, second])
        realised = float((proba.argmax(axis=1) == y[20_000:]).mean())
        traced = _result(collector, lambda r: r.get("predicted") == 20_000)
        (window,) = traced["windows"]
        assert window["count"] == 0 and window["predicted"] == 20_000
        assert window["end"] - window["start"] == 3600
        assert window["start"] <= time.time() < window["end"] + 60
        assert abs(traced["estimated"]["accuracy"] - realised) < 0.02
        assert traced["reference"]["source"] == "none"
        version = traced["version"]
        provider.shutdown()

    with performance_collector(tmp_path) as restarted:
        again = _result(restarted, lambda r: r.get("predicted") == 20_000)
        assert again["estimated"] == traced["estimated"]

        provider = restarted.provider()
        recorder = OutcomeRecorder(tmp_path / "log.sqlite", tracer_provider=provider)
        earlier = (int(time.time()) // 3600 - 5) * 3600
        recorder.log_predictions(
            version, range(1000), proba=proba[:1000], at=earlier, name=MODEL, task="classifier"
        )
        recorder.close()
        provider.shutdown()
        # a version string has no classes: the log's probabilities are not binned, and
        # the traced ones still stand
        assert _result(restarted, lambda r: True)["predicted"] == 20_000

        provider = restarted.provider()
        recorder = OutcomeRecorder(tmp_path / "log2.sqlite", tracer_provider=provider)
        recorder.log_predictions(model, range(1000), proba=proba[:1000], at=earlier, name=MODEL)
        recorder.close()
        provider.shutdown()
        logged = _result(restarted, lambda r: r.get("predicted") == 1000)
        assert [w["predicted"] for w in logged["windows"]] == [1000]
        assert logged["windows"][0]["start"] == earlier
