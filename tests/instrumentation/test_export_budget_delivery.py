"""No silent loss on the export path: every span reaches a receiver with a 4 MiB limit.

200 ``StandardScaler().fit`` calls on ``load_digits`` (64 features: ~200 KB of summary
events per span, ~40 MB in all) go to a real OTLP/gRPC receiver on 127.0.0.1 that keeps
gRPC's default 4 MiB receive limit, the limit of Jaeger and the OpenTelemetry Collector.
With ``configure()`` and under ``opentelemetry-instrument`` with default settings all
200 arrive and no request exceeds 4 MiB; without the budget (the ``mlspan_otlp``
instrumentor disabled) the same program loses them, which shows the receiver's limit
is real.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import mlspan.instrumentation
from mlspan.instrumentation.export_budget import OtlpBudgetInstrumentor
from mlspan.semconv import FEATURE_SUMMARY, MODEL_PARAMS
from mlspan.summaries import CategoricalSummary, FeatureSummary
from tests.support.launcher import run_instrumented as launch
from tests.support.otlp_sink import OtlpSink, ReceivedSpan, attributes_to_dict

pytestmark = pytest.mark.slow

GRPC_LIMIT = 4 * 1024 * 1024
"""gRPC's default receive limit, which ``OtlpSink`` keeps."""
FITS = 200

SCRIPT = f"""\
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

x, y = load_digits(return_X_y=True)
for _ in range({FITS}):
    StandardScaler().fit(x, y)
print("fitted")
"""


def fit_spans(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    return [span for span in spans if span.span.name == "fit StandardScaler"]


def largest_request(sink: OtlpSink) -> int:
    return max(request.ByteSize() for request in sink.requests)


def test_configure_delivers_every_span_in_requests_under_4_mib() -> None:
    x, y = load_digits(return_X_y=True)
    with OtlpSink() as sink:
        provider = mlspan.instrumentation.configure(
            service_name="digits",
            endpoint=f"http://{sink.grpc_endpoint}",
            set_global=False,
        )
        try:
            for _ in range(FITS):
                StandardScaler().fit(x, y)
            provider.force_flush()
            sink.wait_for_spans(FITS, timeout=60)
            stats = OtlpBudgetInstrumentor().stats
        finally:
            mlspan.instrumentation.uninstrument()
            provider.shutdown()
        spans = fit_spans(sink.received_spans())
        assert len(spans) == FITS
        assert all(len(span.span.events) == 65 for span in spans)
        assert len(sink.requests) > 5  # ~40 MB could not go in one request
        assert largest_request(sink) <= GRPC_LIMIT
    assert stats.exported >= FITS and stats.dropped == stats.failed == 0
    assert stats.largest_request_bytes <= GRPC_LIMIT


def run_instrumented(
    workdir: Path, sink: OtlpSink, **extra: str
) -> subprocess.CompletedProcess[str]:
    script = workdir / "digits.py"
    script.write_text(SCRIPT, encoding="utf-8")
    return launch(
        [str(script)], cwd=workdir, grpc_endpoint=sink.grpc_endpoint, service="digits", extra=extra
    )


def test_opentelemetry_instrument_delivers_every_span_with_default_settings(
    tmp_path: Path,
) -> None:
    with OtlpSink() as sink:
        done = run_instrumented(tmp_path, sink)
        spans = fit_spans(sink.received_spans())
        largest = largest_request(sink) if sink.requests else 0
    assert done.returncode == 0 and done.stdout == "fitted\n", done.stderr
    assert "Traceback" not in done.stderr and "RESOURCE_EXHAUSTED" not in done.stderr
    assert len(spans) == FITS
    assert largest <= GRPC_LIMIT


def test_without_the_budget_the_same_program_loses_its_spans(tmp_path: Path) -> None:
    with OtlpSink() as sink:
        done = run_instrumented(tmp_path, sink, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="mlspan_otlp")
        spans = fit_spans(sink.received_spans())
    assert done.returncode == 0 and done.stdout == "fitted\n", done.stderr
    assert len(spans) < FITS
    assert "RESOURCE_EXHAUSTED" in done.stderr


def test_huge_parameters_and_a_wide_categorical_arrive_bounded() -> None:
    codes = [f"code-{i:07d}-{'z' * 30}" for i in range(120_000)]
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"code": rng.choice(codes, size=200_000)})
    with OtlpSink() as sink:
        provider = mlspan.instrumentation.configure(
            service_name="wide",
            endpoint=f"http://{sink.grpc_endpoint}",
            set_global=False,
            categorical_cap=200_000,
        )
        try:
            OneHotEncoder(categories=[codes], handle_unknown="ignore").fit(frame)
            provider.force_flush()
            sink.wait_for_spans(1, timeout=60)
        finally:
            mlspan.instrumentation.uninstrument()
            provider.shutdown()
        spans = sink.received_spans()
        assert largest_request(sink) <= GRPC_LIMIT
    assert max(span.span.ByteSize() for span in spans) <= 1024 * 1024
    (fit,) = [span for span in spans if span.span.name == "fit OneHotEncoder"]
    params = json.loads(str(fit.attributes[MODEL_PARAMS]))
    assert params["handle_unknown"] == "ignore" and "omitted" in params["categories"][0][-1]
    events = [
        attributes_to_dict(event.attributes)
        for span in spans
        for event in span.span.events
        if event.name == FEATURE_SUMMARY
    ]
    (summary,) = [FeatureSummary.from_attributes(event) for event in events]
    assert isinstance(summary.stats, CategoricalSummary)
    assert summary.stats.count == 200_000 and not summary.stats.exact
    assert 1000 < len(summary.stats.counts) < 120_000
