"""A real collector process receives the fuzzer's crashing summary and stays up.

Each span carries valid feature summaries next to one whose KLL sketch is the 20-byte
blob (a valid header, then garbage) that made the native deserializer read out of
bounds and kill the process. The collector must answer, keep running, compute drift for
the valid features, record the spans' lineage, and count the spans as
``mlspan_spans_dropped_total{reason="bad_summary"}``.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan.semconv import attributes as attr
from mlspan.semconv.events import FEATURE_SUMMARY
from mlspan.semconv.values import FeatureKind, FeatureOrigin
from mlspan.summaries import FeatureSummary, NumericalSummary
from tests.collector.drift.batches import batch, numerical, summary_span
from tests.collector.drift.test_kll_format import CRASHERS
from tests.collector.lineage.collector_process import CollectorProcess, run_ids
from tests.support.otlp_sink import free_port
from tests.support.spans import key_values

WAIT_S = 60.0


def _config(folder: Path) -> dict[str, object]:
    return {
        "data_dir": str(folder / "data"),
        "api": {"endpoint": f"127.0.0.1:{free_port()}"},
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"127.0.0.1:{free_port()}"},
                    "http": {"endpoint": f"127.0.0.1:{free_port()}"},
                }
            }
        },
        "processors": {"lineage": {}},
        "connectors": {"drift": {"window": {"mode": "rows", "rows": 3000}}},
        "service": {
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["lineage"],
                    "exporters": ["drift"],
                }
            }
        },
    }


def _corrupt_event(end: float) -> trace_pb2.Span.Event:
    """A summary event as the instrumentation writes it, its sketch replaced by a crasher."""
    stats = NumericalSummary.from_values(np.arange(1000.0))
    summary = FeatureSummary("broken", FeatureKind.NUMERICAL, FeatureOrigin.INPUT, "f8", stats)
    attributes = dict(summary.to_attributes())
    attributes[attr.SUMMARY_SKETCH] = base64.b64encode(bytes.fromhex(CRASHERS[0])).decode()
    return trace_pb2.Span.Event(
        name=FEATURE_SUMMARY, time_unix_nano=int(end * 1e9), attributes=key_values(attributes)
    )


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/x-protobuf"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


@pytest.mark.slow
def test_a_crashing_sketch_is_dropped_and_the_rest_of_the_span_kept(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path, _config(tmp_path))
    collector.start()
    try:
        traces = f"http://{collector.http_endpoint}/v1/traces"
        rng = np.random.default_rng(11)
        now = time.time()
        fit = summary_span(
            "fit",
            [
                numerical("age", rng.normal(40, 10, 10_000)),
                numerical("tenure", rng.normal(3, 1, 10_000)),
            ],
            role="train",
            digest="xxh3_128:" + "ab" * 16,
            end_time=now,
            extra_events=[_corrupt_event(now)],
        )
        fit_body = batch([fit]).raw
        fit_runs = run_ids(fit_body)
        assert fit_runs
        _post(traces, fit_body)
        for _ in range(3):  # three predict calls fill one 3,000-row window
            current = [
                numerical("age", rng.normal(48, 10, 1_000)),
                numerical("tenure", rng.normal(3, 1, 1_000)),
            ]
            span = summary_span(
                "predict", current, role="inference", extra_events=[_corrupt_event(time.time())]
            )
            _post(traces, batch([span]).raw)
        api = collector.api_url
        deadline = time.monotonic() + WAIT_S
        results: list[dict[str, object]] = []
        while time.monotonic() < deadline and not results:
            results = json.loads(_get(f"{api}/api/v1/drift"))["results"]
            time.sleep(0.1)
        assert collector.process is not None and collector.process.poll() is None
        [result] = results
        features = result["features"]
        assert isinstance(features, list)
        assert {f["feature"] for f in features} == {"age", "tenure"}
        assert {f["feature"] for f in features if f["drifted"]} == {"age"}
        metrics = _get(f"{api}/metrics").decode()
        dropped = re.search(
            r'^mlspan_spans_dropped_total\{reason="bad_summary"\} (\S+)$', metrics, re.M
        )
        assert dropped is not None and float(dropped.group(1)) == 4.0
        for run in fit_runs:  # the span's lineage was kept
            assert json.loads(_get(f"{api}/api/v1/runs/{run}"))
        assert collector.stop() == 0
        assert "rejected 1 bad feature summary" in collector.log(1)
        assert "Segmentation" not in collector.log(1)
    finally:
        collector.close()
