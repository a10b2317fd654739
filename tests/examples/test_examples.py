"""The example pipeline runs alone in both modes and its spans carry the ML facts.

Each mode runs ``train.py`` then ``infer.py`` as the README shows them, exporting to a
real OTLP receiver on 127.0.0.1: zero code under ``opentelemetry-instrument``, and the
one-line ``configure()`` (``--instrument``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlspan.semconv import (
    COMPONENT_NAME,
    FEATURE_NAME,
    FEATURE_SUMMARY,
    IO_INPUTS,
    IO_OUTPUTS,
    MODEL_VERSION,
    OPERATION_NAME,
)
from tests.examples.example_modules import EXAMPLES, load_example
from tests.support.otlp_sink import OtlpSink, ReceivedSpan

churn_pipeline = load_example("churn_pipeline")

FEATURES = set(churn_pipeline.NUMERICAL + churn_pipeline.CATEGORICAL)
BATCHES = len(churn_pipeline.INFERENCE_BATCHES)
MODES = ("zero-code", "one-line")


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    with OtlpSink() as running:
        yield running


def _run(script: str, mode: str, data: Path, sink: OtlpSink) -> str:
    env = dict(os.environ)
    env.update(
        {
            "OTEL_SERVICE_NAME": churn_pipeline.SERVICE_NAME,
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink.grpc_endpoint,
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
        }
    )
    command = [sys.executable, str(EXAMPLES / script), "--data-dir", str(data)]
    if mode == "one-line":
        command += ["--instrument", "--endpoint", sink.grpc_endpoint]
    else:
        command = [str(Path(sys.executable).with_name("opentelemetry-instrument")), *command]
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _operation(spans: list[ReceivedSpan], name: str) -> list[ReceivedSpan]:
    return [span for span in spans if span.attributes.get(OPERATION_NAME) == name]


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_train_then_infer_emit_lineage_and_summaries(
    mode: str, sink: OtlpSink, tmp_path: Path
) -> None:
    trained = _run("train.py", mode, tmp_path, sink)
    assert "holdout accuracy" in trained
    train_spans = sink.received_spans()
    inferred = _run("infer.py", mode, tmp_path, sink)
    assert sum(line.startswith("batch ") for line in inferred.splitlines()) == BATCHES
    assert "labels arrived for batch 2" in inferred
    spans = sink.received_spans()
    infer_spans = spans[len(train_spans) :]

    assert {span.resource["service.name"] for span in spans} == {churn_pipeline.SERVICE_NAME}

    # Outcomes: the holdout's validation outcomes, each batch's predicted probabilities
    # (one predictions span per batch window) and the labels that arrived.
    assert len(_operation(train_spans, "evaluate")) == 1
    assert len(_operation(infer_spans, "predictions")) == BATCHES
    assert _operation(infer_spans, "labels")

    cleaning = [s for s in spans if s.attributes.get(COMPONENT_NAME) == "clean-customers"]
    assert len(cleaning) == 2 + BATCHES  # training, holdout, every batch
    for span in cleaning:
        inputs = span.attributes[IO_INPUTS]
        assert isinstance(inputs, list)
        assert len(inputs) == 2
        assert all(str(artifact).startswith("file:") for artifact in inputs)

    fits = [s for s in _operation(train_spans, "fit") if MODEL_VERSION in s.attributes]
    assert fits, "no fit span with a model version"
    versions = {span.attributes[MODEL_VERSION] for span in fits}
    predictions = _operation(infer_spans, "predict_proba")
    assert predictions
    # The model version survives pickling: inference spans name the trained model.
    assert {span.attributes.get(MODEL_VERSION) for span in predictions} <= versions

    summarised = set()
    for span in predictions:
        for event in span.span.events:
            if event.name == FEATURE_SUMMARY:
                for attribute in event.attributes:
                    if attribute.key == FEATURE_NAME:
                        summarised.add(attribute.value.string_value)
    assert summarised >= FEATURES

    # The components bridge what automatic tracing cannot see: predict_proba's output
    # array -> format-predictions -> the frame written to each predictions CSV.
    outputs = {
        artifact
        for span in predictions
        for artifact in span.attributes.get(IO_OUTPUTS, [])  # type: ignore[union-attr]
    }
    written = {
        artifact
        for span in _operation(infer_spans, "write")
        for artifact in span.attributes.get(IO_INPUTS, [])  # type: ignore[union-attr]
    }
    formatting = [
        s for s in infer_spans if s.attributes.get(COMPONENT_NAME) == "format-predictions"
    ]
    assert len(formatting) == BATCHES
    for span in formatting:
        assert set(span.attributes[IO_INPUTS]) <= outputs  # type: ignore[arg-type]
        assert set(span.attributes[IO_OUTPUTS]) <= written  # type: ignore[arg-type]
