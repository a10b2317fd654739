"""Bad summaries are counted per span, logged rate-limited, and the rest is kept."""

from __future__ import annotations

import base64
import logging

import numpy as np
import pytest
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan.collector.drift.config import DriftConfig, WindowConfig
from mlspan.collector.drift.engine import BAD_SUMMARY_REASON, DriftEngine
from mlspan.collector.drift.rejections import RejectionLog
from mlspan.collector.pdata.stats import IngestStats
from mlspan.semconv import attributes as attr
from mlspan.semconv.events import FEATURE_SUMMARY
from tests.collector.drift.batches import batch, categorical, numerical, summary_span
from tests.collector.drift.test_kll_format import CRASHERS
from tests.support.spans import key_values


def _bad_event(sketch: bytes) -> trace_pb2.Span.Event:
    attributes = dict(numerical("broken", np.arange(50.0)).to_attributes())
    attributes[attr.SUMMARY_SKETCH] = base64.b64encode(sketch).decode()
    return trace_pb2.Span.Event(name=FEATURE_SUMMARY, attributes=key_values(attributes))


def test_a_span_with_bad_summaries_is_counted_once_and_its_good_ones_are_merged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stats = IngestStats()
    config = DriftConfig(window=WindowConfig(mode="rows", rows=10**9))
    engine = DriftEngine(config, stats)
    rng = np.random.default_rng(1)
    good = [numerical("age", rng.normal(0, 1, 500)), categorical("plan", ["a", "b"] * 100)]
    crashers = [_bad_event(bytes.fromhex(blob)) for blob in CRASHERS]
    spans = [
        summary_span("fit", good, role="train"),
        summary_span("predict", good, role="inference", extra_events=crashers),
        summary_span("predict", good, role="inference"),
        summary_span("predict", good, role="inference", extra_events=[_bad_event(b"")]),
    ]
    with caplog.at_level(logging.WARNING, logger="mlspan.collector.drift"):
        engine.process(batch(spans))
    assert stats.snapshot().spans_dropped == {BAD_SUMMARY_REASON: 2}
    assert (engine.counts.bad, engine.counts.bad_spans, engine.counts.decoded) == (5, 2, 8)
    [(drift, _checks)] = engine.evaluate()
    assert {f.feature: f.current_count for f in drift.features} == {"age": 1_500, "plan": 600}
    # Five rejections, one log line (the first); the rest wait for the interval.
    lines = [r.getMessage() for r in caplog.records if "bad feature summar" in r.getMessage()]
    assert len(lines) == 1 and "rejected 1 bad feature summary" in lines[0]


def test_the_rejection_log_writes_at_most_one_line_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    log = RejectionLog(interval=60.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="mlspan.collector.drift"):
        log.record("bad sketch: family id 16 is not KLL (15)", "01")
        for _ in range(999):
            log.record("k 7 is outside [8, 65535]", "02")
        now[0] += 59.0
        log.record("k 7 is outside [8, 65535]", "03")
        now[0] += 1.0
        log.record("a negative sum of squared deviations", "04")
    assert log.logged == 2
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "rejected 1 bad feature summary" in messages[0] and "family id" in messages[0]
    assert "rejected 1001 bad feature summaries" in messages[1]
    assert "span 04" in messages[1] and "negative sum" in messages[1]
