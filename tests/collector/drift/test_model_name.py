"""A model name set by the user (``model_name`` option) is what drift is kept under, end to
end: real scikit-learn calls, mlspan's instrumentation, OTLP encoding, the drift engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlspan.collector.drift.config import DriftConfig
from mlspan.collector.drift.engine import DriftEngine
from mlspan.collector.pdata import TraceBatch
from mlspan.collector.pdata.stats import IngestStats
from mlspan.instrumentation.options import InstrumentationOptions
from mlspan.semconv import attributes as attr
from tests.collector.drift.batches import SCHEMA
from tests.instrumentation.instrumented import instrumented


def frames(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    x = pd.DataFrame({"age": rng.normal(40, 10, n), "income": rng.lognormal(3, 1, n)})
    return x, (x["age"] > 40).to_numpy()


@pytest.mark.parametrize("name", ["churn-classifier", ""])
def test_drift_series_are_kept_under_the_users_model_name(name: str) -> None:
    rng = np.random.default_rng(5)
    options = {"model_name": name} if name else {}
    with instrumented(**options) as exporter:
        model = make_pipeline(StandardScaler(), LogisticRegression())
        model.fit(*frames(rng, 2_000))
        model.predict(frames(rng, 1_000)[0])
    spans = exporter.get_finished_spans()
    batch = TraceBatch.from_bytes(SCHEMA, encode_spans(spans).SerializeToString())
    engine = DriftEngine(DriftConfig(persist=False), IngestStats())
    engine.process(batch)
    [key] = engine.models()
    assert key.model_name == (name or "Pipeline")
    [(current, _)] = engine.close()
    assert {f.feature for f in current.features} >= {"age", "income"}
    nested = [s for s in spans if (s.attributes or {}).get(attr.MODEL_CLASS, "").endswith("Scaler")]
    assert nested and all(s.attributes[attr.MODEL_NAME] == "StandardScaler" for s in nested)


def test_model_name_is_read_from_the_environment_and_bounded() -> None:
    env = {"OTEL_INSTRUMENTATION_MLSPAN_MODEL_NAME": "fraud"}
    assert InstrumentationOptions.resolve({}, env).model_name == "fraud"
    with pytest.raises(ValueError, match="model_name"):
        InstrumentationOptions.resolve({"model_name": "x" * 300}, {})
