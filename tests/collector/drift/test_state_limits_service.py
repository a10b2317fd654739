"""A real collector fed thousands of distinct (model, feature) series over OTLP/HTTP.

With ``max_series: 40`` the first ten models (four categorical features of 2,000 labels
each) are tracked; the next 300 models' summaries are refused and counted. The process's
resident memory barely moves while those arrive (kept, they would hold ~1,200 x 2,000
category counts: several hundred MB), the counter shows every refusal, and a tracked
model still gets its drift result.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import pytest

from mlspan.collector.drift.state import SERIES_LIMIT_REASON
from mlspan.semconv.values import FeatureKind, FeatureOrigin
from mlspan.summaries import CategoricalSummary, FeatureSummary
from tests.collector.drift.batches import batch, summary_span
from tests.collector.lineage.collector_process import CollectorProcess
from tests.support.otlp_sink import free_port

MAX_SERIES = 40
FEATURES = 4
LABELS = 2_000
TRACKED_MODELS = MAX_SERIES // FEATURES
REFUSED_MODELS = 300
RSS_GROWTH_LIMIT = 40 * 1024 * 1024
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
        "connectors": {
            "drift": {
                "persist": False,
                "max_series": MAX_SERIES,
                "window": {"mode": "rows", "rows": LABELS},
            }
        },
        "service": {"pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["drift"]}}},
    }


def _features(shift: int) -> list[FeatureSummary]:
    counts = {f"label-{i + shift}": 1 for i in range(LABELS)}
    stats = CategoricalSummary.from_counts(counts, cap=LABELS)
    return [
        FeatureSummary(f"f{i}", FeatureKind.CATEGORICAL, FeatureOrigin.INPUT, "object", stats)
        for i in range(FEATURES)
    ]


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/x-protobuf"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return str(response.read().decode())


def _rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    assert match is not None
    return int(match.group(1)) * 1024


def _refused(api: str) -> float:
    metrics = _get(f"{api}/metrics")
    found = re.search(
        rf'^mlspan_spans_dropped_total\{{reason="{SERIES_LIMIT_REASON}"\}} (\S+)$', metrics, re.M
    )
    return float(found.group(1)) if found else 0.0


def _settled(api: str, want: float) -> float:
    deadline = time.monotonic() + WAIT_S
    seen = _refused(api)
    while seen < want and time.monotonic() < deadline:
        time.sleep(0.2)
        seen = _refused(api)
    return seen


@pytest.mark.slow
def test_distinct_series_past_the_cap_are_refused_with_bounded_memory(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path, _config(tmp_path))
    collector.start()
    try:
        assert collector.process is not None
        pid = collector.process.pid
        traces = f"http://{collector.http_endpoint}/v1/traces"
        api = collector.api_url
        baseline = _features(0)

        def fit(model: int) -> bytes:
            return batch([summary_span("fit", baseline, model=f"m{model}", role="train")]).raw

        for model in range(TRACKED_MODELS):
            _post(traces, fit(model))
        # A few refused ones first, so the decode path's own memory is warm.
        for model in range(TRACKED_MODELS, TRACKED_MODELS + 10):
            _post(traces, fit(model))
        assert _settled(api, 10 * FEATURES) == 10 * FEATURES
        before = _rss(pid)
        for model in range(TRACKED_MODELS + 10, TRACKED_MODELS + REFUSED_MODELS):
            _post(traces, fit(model))
        refused = _settled(api, REFUSED_MODELS * FEATURES)
        after = _rss(pid)
        print(f"RSS {before / 1e6:.1f} -> {after / 1e6:.1f} MB over {refused:.0f} refusals")
        assert refused == REFUSED_MODELS * FEATURES
        assert after - before < RSS_GROWTH_LIMIT, f"RSS {before / 1e6:.0f} -> {after / 1e6:.0f} MB"
        # A tracked model's window still closes into a drift result.
        current = batch([summary_span("predict", _features(LABELS // 2), model="m0")]).raw
        _post(traces, current)
        deadline = time.monotonic() + WAIT_S
        results: list[dict[str, object]] = []
        while time.monotonic() < deadline and not results:
            results = json.loads(_get(f"{api}/api/v1/drift"))["results"]
            time.sleep(0.2)
        [result] = results
        features = result["features"]
        assert isinstance(features, list) and len(features) == FEATURES
        assert {f["feature"] for f in features} == {f"f{i}" for i in range(FEATURES)}
        assert all(f["current_count"] == f["baseline_count"] == LABELS for f in features)
        assert collector.process.poll() is None
        assert collector.stop() == 0
        log = collector.log(1)
        assert log.count("drift state full") == 1
    finally:
        collector.close()
