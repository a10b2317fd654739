"""The shared OTLP test sink receives spans from the OpenTelemetry SDK's own exporters."""

from __future__ import annotations

import gzip
import urllib.request

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

from tests.support.otlp_sink import OtlpSink

pytestmark = pytest.mark.slow


def _emit(exporter: SpanExporter, count: int) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "sink-test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("sink-test")
    for i in range(count):
        with tracer.start_as_current_span(f"step {i}") as span:
            span.set_attribute("index", i)
            span.set_attribute("tags", ["a", "b"])
    provider.shutdown()


def test_grpc_and_http_exporters_reach_the_sink() -> None:
    with OtlpSink() as sink:
        _emit(GrpcSpanExporter(endpoint=sink.grpc_endpoint, insecure=True), 3)
        _emit(HttpSpanExporter(endpoint=sink.http_endpoint), 2)
        assert sink.wait_for_spans(5) == 5
        assert sorted(set(sink.protocols)) == ["grpc", "http"]
        spans = sink.received_spans()
        assert {s.resource["service.name"] for s in spans} == {"sink-test"}
        assert sorted(s.attributes["index"] for s in spans) == [0, 0, 1, 1, 2]
        assert spans[0].attributes["tags"] == ["a", "b"]


def test_restart_keeps_ports_and_records() -> None:
    sink = OtlpSink().start()
    try:
        port = sink.grpc_port
        _emit(GrpcSpanExporter(endpoint=sink.grpc_endpoint, insecure=True), 1)
        sink.restart()
        assert sink.grpc_port == port
        _emit(GrpcSpanExporter(endpoint=sink.grpc_endpoint, insecure=True), 1)
        assert sink.wait_for_spans(2) == 2
    finally:
        sink.stop()
        sink.stop()


def test_fail_next_then_accept_over_http_gzip() -> None:
    with OtlpSink() as sink:
        sink.fail_next(1, http_status=503)
        body = gzip.compress(trace_service_pb2.ExportTraceServiceRequest().SerializeToString())
        headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
        request = urllib.request.Request(sink.http_endpoint, body, headers, method="POST")
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(request, timeout=5)
        assert failed.value.code == 503
        assert failed.value.headers["Retry-After"] == "0"
        failed.value.close()
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        assert len(sink.requests) == 1
        with pytest.raises(TimeoutError):
            sink.wait_for_spans(1, timeout=0.1)
