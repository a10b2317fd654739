"""Every refused export request is counted with its reason, on both transports.

Real clients over sockets (raw gRPC calls, HTTP posts and the OpenTelemetry SDK's own
gRPC exporter) meet a real ``otlp`` receiver; the counts are read back as Prometheus
scrapes them, from ``mlspan_requests_rejected_total{receiver, reason}``.
"""

from __future__ import annotations

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from prometheus_client import CollectorRegistry

from mlspan.collector.metrics import MlspanCollector
from mlspan.collector.pdata import TraceBatch
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.receivers.otlp import (
    OtlpReceiver,
)
from tests.collector.ingest.conftest import LIMIT, RecordingConsumer
from tests.support.otlp_client import grpc_export, http_post
from tests.support.spans import ml_request

pytestmark = pytest.mark.slow


class _FaultyConsumer(RecordingConsumer):
    """A pipeline stage with a bug while ``broken`` is set."""

    broken = False

    def consume(self, batch: TraceBatch) -> None:
        if self.broken:
            raise RuntimeError("a bug downstream")
        super().consume(batch)


@pytest.fixture
def consumer() -> _FaultyConsumer:
    """Replaces the recording consumer that ``receiver`` (conftest) feeds."""
    return _FaultyConsumer()


def _rejected(registry: CollectorRegistry, reason: str) -> float | None:
    labels = {"receiver": "otlp", "reason": reason}
    return registry.get_sample_value("mlspan_requests_rejected_total", labels)


def _grpc_code(address: str, body: bytes) -> grpc.StatusCode:
    options = [("grpc.max_send_message_length", -1)]
    with (
        grpc.insecure_channel(address, options=options) as channel,
        pytest.raises(grpc.RpcError) as failed,
    ):
        grpc_export(channel, body)
    code: grpc.StatusCode = failed.value.code()
    return code


def test_every_refusal_on_either_transport_is_counted_by_reason(
    receiver: OtlpReceiver, consumer: _FaultyConsumer, stats: IngestStats
) -> None:
    assert receiver.grpc is not None
    assert receiver.http is not None
    registry = CollectorRegistry()
    registry.register(MlspanCollector(stats))
    grpc_address, http_address = receiver.grpc.address, receiver.http.address
    small = ml_request(2).SerializeToString()
    oversized = b"\x00" * (LIMIT + 100)

    assert _grpc_code(grpc_address, oversized) is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert http_post(http_address, oversized).status == 413
    assert _grpc_code(grpc_address, b"\xff\xff garbage") is grpc.StatusCode.INVALID_ARGUMENT
    assert http_post(http_address, b"\xff\xff garbage").status == 400
    assert http_post(http_address, small, content_type="text/plain").status == 415
    consumer.full = True
    assert _grpc_code(grpc_address, small) is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert http_post(http_address, small).status == 429
    consumer.full = False
    consumer.broken = True
    assert _grpc_code(grpc_address, small) is grpc.StatusCode.INTERNAL
    assert http_post(http_address, small).status == 500
    consumer.broken = False
    receiver.ingest.stop_accepting()
    assert _grpc_code(grpc_address, small) is grpc.StatusCode.UNAVAILABLE
    assert http_post(http_address, small).status == 503

    assert _rejected(registry, "too_large") == 2
    assert _rejected(registry, "malformed") == 2
    assert _rejected(registry, "unsupported_media") == 1
    assert _rejected(registry, "queue_full") == 2
    assert _rejected(registry, "internal") == 2
    assert _rejected(registry, "unavailable") == 2
    assert sum(stats.snapshot().requests_rejected.values()) == 11
    assert consumer.batches == []


def test_an_sdk_batch_over_the_limit_is_counted_not_silently_lost(
    receiver: OtlpReceiver, stats: IngestStats
) -> None:
    """The case users meet: the SDK exporter's batch of wide spans is over the receiver's
    limit. The exporter only logs (after retrying: the Python SDK retries
    RESOURCE_EXHAUSTED until its timeout); the collector counts every attempt."""
    assert receiver.grpc is not None
    provider = TracerProvider(resource=Resource.create({"service.name": "train"}))
    exporter = OTLPSpanExporter(endpoint=receiver.grpc.address, insecure=True, timeout=1)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("fit StandardScaler") as span:
        span.set_attribute("summary", "x" * (LIMIT + 1))
    with tracer.start_as_current_span("fit StandardScaler"):
        pass
    provider.shutdown()
    snapshot = stats.snapshot()
    assert list(snapshot.requests_rejected) == [("otlp", "too_large")]
    assert snapshot.requests_rejected[("otlp", "too_large")] >= 1
    assert snapshot.spans_received == {"otlp": 1}
