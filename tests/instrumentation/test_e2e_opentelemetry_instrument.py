"""Zero-code instrumentation end to end: ``opentelemetry-instrument python train.py``.

A script that knows nothing of mlspan reads a CSV with pandas, fits and predicts a
scikit-learn Pipeline and writes its predictions. It runs in a subprocess under
``opentelemetry-instrument`` with the OTLP/gRPC exporter pointed at a real receiver on
127.0.0.1 (built on opentelemetry-proto's TraceService). The ML attributes must arrive,
and the script's own output must be identical to a plain run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlspan.instrumentation.digest import ALGORITHM, digest_data, digest_file
from mlspan.semconv import (
    DATASET_COLUMNS,
    DATASET_DIGEST,
    DATASET_ROLE,
    DATASET_ROWS,
    DATASET_SOURCE,
    DIGEST_ALGORITHM,
    FEATURE_NAME,
    FEATURE_ORIGIN,
    IO_INPUTS,
    IO_OUTPUTS,
    MODEL_CLASS,
    MODEL_FRAMEWORK,
    MODEL_PARAMS,
    MODEL_VERSION,
    OPERATION_NAME,
    PREDICTION_DIGEST,
)
from mlspan.semconv.events import FEATURE_SUMMARY
from mlspan.semconv.values import FeatureKind, FeatureOrigin
from mlspan.summaries import FeatureSummary
from tests.support.launcher import clean_environment, run_instrumented
from tests.support.otlp_sink import OtlpSink, ReceivedSpan, attributes_to_dict

pytestmark = pytest.mark.slow

SERVICE = "churn-e2e"
ROWS = 300
FEATURES = ["age", "income", "plan"]

SCRIPT = """\
import sys

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

source, target = sys.argv[1], sys.argv[2]
frame = pd.read_csv(source)
X = frame[["age", "income", "plan"]]
y = frame["churned"]
pipeline = Pipeline(
    [
        (
            "prepare",
            ColumnTransformer(
                [
                    ("numbers", StandardScaler(), ["age", "income"]),
                    ("plans", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
                ]
            ),
        ),
        ("model", LogisticRegression(max_iter=500)),
    ]
)
returned = pipeline.fit(X, y)
predictions = pipeline.predict(X)
pd.DataFrame({"churn": predictions}).to_csv(target, index=False)
print("same object:", returned is pipeline)
print("accuracy:", round(float((predictions == y.to_numpy()).mean()), 6))
print("predicted churners:", int(predictions.sum()))
print("coefficients:", [round(float(c), 6) for c in pipeline[-1].coef_.ravel()])
"""


def write_dataset(path: Path) -> None:
    rng = np.random.default_rng(7)
    age = rng.integers(18, 80, ROWS)
    income = rng.normal(50_000, 12_000, ROWS).round(2)
    plan = rng.choice(["basic", "plus", "pro"], ROWS)
    churned = ((age < 30) | (plan == "basic")).astype(int)
    frame = pd.DataFrame({"age": age, "income": income, "plan": plan, "churned": churned})
    frame.to_csv(path, index=False)


@dataclass(frozen=True)
class Outcome:
    source: Path
    target: Path
    instrumented: subprocess.CompletedProcess[str]
    plain: subprocess.CompletedProcess[str]
    spans: list[ReceivedSpan]


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    workdir = tmp_path_factory.mktemp("e2e")
    script = workdir / "train.py"
    script.write_text(SCRIPT, encoding="utf-8")
    assert "mlspan" not in SCRIPT
    source = workdir / "customers.csv"
    write_dataset(source)
    with OtlpSink() as sink:
        target = workdir / "instrumented.csv"
        instrumented = run_instrumented(
            [str(script), str(source), str(target)],
            cwd=workdir,
            grpc_endpoint=sink.grpc_endpoint,
            service=SERVICE,
        )
        spans = sink.received_spans()
    plain = subprocess.run(
        [sys.executable, str(script), str(source), str(workdir / "plain.csv")],
        cwd=workdir,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    yield Outcome(source, target, instrumented, plain, spans)


def strings(attributes: dict[str, object], key: str) -> list[str]:
    value = attributes.get(key)
    assert isinstance(value, list), (key, value)
    return [str(item) for item in value]


def by_operation(spans: list[ReceivedSpan], operation: str) -> list[ReceivedSpan]:
    return [span for span in spans if span.attributes.get(OPERATION_NAME) == operation]


def pipeline_span(spans: list[ReceivedSpan], operation: str) -> ReceivedSpan:
    matches = [
        span
        for span in by_operation(spans, operation)
        if span.attributes.get(MODEL_CLASS) == "sklearn.pipeline.Pipeline"
    ]
    assert len(matches) == 1, [span.span.name for span in by_operation(spans, operation)]
    return matches[0]


def summaries(span: ReceivedSpan) -> dict[tuple[str, str], FeatureSummary]:
    found = {}
    for event in span.span.events:
        if event.name != FEATURE_SUMMARY:
            continue
        attributes = attributes_to_dict(event.attributes)
        summary = FeatureSummary.from_attributes(attributes)
        found[(str(attributes[FEATURE_NAME]), str(attributes[FEATURE_ORIGIN]))] = summary
    return found


def training_inputs(source: Path) -> tuple[pd.DataFrame, pd.Series]:
    """X and y exactly as the script builds them, read in this process."""
    frame = pd.read_csv(source)
    return frame[FEATURES], frame["churned"]


def test_the_script_behaves_exactly_as_without_instrumentation(outcome: Outcome) -> None:
    assert outcome.plain.returncode == 0, outcome.plain.stderr
    assert outcome.instrumented.returncode == 0, outcome.instrumented.stderr
    assert outcome.instrumented.stdout == outcome.plain.stdout
    assert "same object: True" in outcome.instrumented.stdout
    assert "Traceback" not in outcome.instrumented.stderr
    assert outcome.target.read_bytes() == (outcome.target.parent / "plain.csv").read_bytes()


def test_spans_arrive_from_the_named_service(outcome: Outcome) -> None:
    assert outcome.spans, outcome.instrumented.stderr
    assert {span.resource.get("service.name") for span in outcome.spans} == {SERVICE}


def test_the_fit_span_carries_model_and_dataset_facts(outcome: Outcome) -> None:
    fit = pipeline_span(outcome.spans, "fit")
    attributes = fit.attributes
    x, _ = training_inputs(outcome.source)
    assert attributes[MODEL_FRAMEWORK] == "scikit-learn"
    assert str(attributes[MODEL_VERSION]).startswith(f"model:{ALGORITHM}:")
    assert attributes[DIGEST_ALGORITHM] == ALGORITHM
    assert attributes[DATASET_DIGEST] == digest_data(x)  # stable across processes
    assert attributes[DATASET_ROWS] == ROWS
    assert attributes[DATASET_COLUMNS] == len(FEATURES)
    assert attributes[DATASET_ROLE] == "train"
    params = json.loads(str(attributes[MODEL_PARAMS]))
    assert isinstance(params, dict) and "steps" in params
    assert digest_data(x) in strings(attributes, IO_INPUTS)
    assert attributes[MODEL_VERSION] in strings(attributes, IO_OUTPUTS)


def test_nested_steps_are_child_spans_of_the_pipeline(outcome: Outcome) -> None:
    fit = pipeline_span(outcome.spans, "fit")
    below = [
        span
        for span in outcome.spans
        if span.span.trace_id == fit.span.trace_id and span.span.span_id != fit.span.span_id
    ]
    classes = {span.attributes.get(MODEL_CLASS) for span in below}
    assert "sklearn.linear_model.LogisticRegression" in classes, classes
    assert "sklearn.compose.ColumnTransformer" in classes, classes
    ids = {span.span.span_id for span in below} | {fit.span.span_id}
    assert all(span.span.parent_span_id in ids for span in below)
    assert any(span.span.parent_span_id == fit.span.span_id for span in below)


def test_the_fit_span_carries_baseline_feature_summaries(outcome: Outcome) -> None:
    found = summaries(pipeline_span(outcome.spans, "fit"))
    x, _ = training_inputs(outcome.source)
    inputs = {name: s for (name, origin), s in found.items() if origin == FeatureOrigin.INPUT}
    assert set(inputs) == set(FEATURES), sorted(found)
    assert inputs["age"].kind is FeatureKind.NUMERICAL
    assert inputs["income"].kind is FeatureKind.NUMERICAL
    assert inputs["plan"].kind is FeatureKind.CATEGORICAL
    age = inputs["age"].stats
    assert age.count == ROWS
    assert age.moments.mean == pytest.approx(float(x["age"].mean()))
    plan = inputs["plan"].stats
    assert dict(plan.counts) == {k: int(v) for k, v in x["plan"].value_counts().items()}


def test_the_predict_span_carries_the_model_version_and_prediction_digest(
    outcome: Outcome,
) -> None:
    fit = pipeline_span(outcome.spans, "fit")
    predict = pipeline_span(outcome.spans, "predict")
    attributes = predict.attributes
    x, _ = training_inputs(outcome.source)
    predictions = pd.read_csv(outcome.target)["churn"].to_numpy()
    assert attributes[MODEL_VERSION] == fit.attributes[MODEL_VERSION]
    assert attributes[DATASET_DIGEST] == digest_data(x)
    assert attributes[DATASET_ROLE] == "inference"
    assert attributes[PREDICTION_DIGEST] == digest_data(predictions)
    inputs = strings(attributes, IO_INPUTS)
    assert digest_data(x) in inputs and fit.attributes[MODEL_VERSION] in inputs
    assert digest_data(predictions) in strings(attributes, IO_OUTPUTS)
    found = summaries(predict)
    assert {name for name, origin in found if origin == FeatureOrigin.INPUT} == set(FEATURES)
    assert any(origin == FeatureOrigin.PREDICTION for _, origin in found), sorted(found)


def test_pandas_reads_and_writes_link_files_and_frames(outcome: Outcome) -> None:
    reads = [
        span
        for span in by_operation(outcome.spans, "read")
        if span.attributes.get(DATASET_SOURCE) == str(outcome.source)
    ]
    assert len(reads) == 1, [span.attributes for span in by_operation(outcome.spans, "read")]
    read = reads[0].attributes
    frame = pd.read_csv(outcome.source)
    assert read[DATASET_DIGEST] == digest_data(frame)
    assert digest_file(outcome.source) in strings(read, IO_INPUTS)
    assert digest_data(frame) in strings(read, IO_OUTPUTS)

    writes = [
        span
        for span in by_operation(outcome.spans, "write")
        if span.attributes.get(DATASET_SOURCE) == str(outcome.target)
    ]
    assert len(writes) == 1, [span.attributes for span in by_operation(outcome.spans, "write")]
    assert digest_file(outcome.target) in strings(writes[0].attributes, IO_OUTPUTS)
