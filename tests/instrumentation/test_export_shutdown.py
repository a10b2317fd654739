"""Shutdown windows: a healthy endpoint is drained past ``shutdown_timeout_seconds``;
a dead one is given up after one window, with the spans counted in one WARNING line."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

import mlspan.instrumentation
from mlspan.instrumentation.export_shutdown import GRACE_SECONDS
from tests.instrumentation.predict_loop import Blackhole
from tests.support.otlp_sink import HOST, OtlpSink, free_port

pytestmark = pytest.mark.slow

SPANS = 6000
SLOW_EXPORT_S = 0.15
"""Each request to the slow receiver takes this long: 12 batches take ~1.8 s in all."""


class SlowReceiver(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    """An OTLP/gRPC receiver that answers every request after ``SLOW_EXPORT_S``."""

    def __init__(self) -> None:
        self.spans = 0
        self._lock = threading.Lock()

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        time.sleep(SLOW_EXPORT_S)
        count = sum(
            len(scope.spans)
            for resource in request.resource_spans
            for scope in resource.scope_spans
        )
        with self._lock:
            self.spans += count
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
def slow_receiver() -> Iterator[tuple[str, SlowReceiver]]:
    receiver = SlowReceiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)
    port = server.add_insecure_port(f"{HOST}:0")
    server.start()
    try:
        yield f"http://{HOST}:{port}", receiver
    finally:
        server.stop(grace=None).wait(5)


def _emit(provider: object, count: int) -> None:
    tracer = provider.get_tracer("shutdown-test")  # type: ignore[attr-defined]
    for index in range(count):
        with tracer.start_as_current_span("request") as span:
            span.set_attribute("index", index)


def _mlspan_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("mlspan") and record.levelno >= logging.WARNING
    ]


def test_a_delivering_endpoint_is_drained_beyond_one_window(
    caplog: pytest.LogCaptureFixture, slow_receiver: tuple[str, SlowReceiver]
) -> None:
    endpoint, receiver = slow_receiver
    provider = mlspan.instrumentation.configure(
        service_name="shutdown-test",
        endpoint=endpoint,
        set_global=False,
        instrument_libraries=False,
        shutdown_timeout_seconds=0.5,
    )
    try:
        _emit(provider, SPANS)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING):
            provider.shutdown()
        took = time.monotonic() - started
    finally:
        mlspan.instrumentation.uninstrument()
    assert receiver.spans == SPANS
    assert took > 1.0  # several windows: the drain went on while requests were delivered
    assert _mlspan_warnings(caplog) == []


def test_a_live_sink_gets_every_span(caplog: pytest.LogCaptureFixture) -> None:
    with OtlpSink() as sink:
        provider = mlspan.instrumentation.configure(
            service_name="shutdown-test",
            endpoint=f"http://{sink.grpc_endpoint}",
            set_global=False,
            instrument_libraries=False,
        )
        try:
            _emit(provider, SPANS)
            with caplog.at_level(logging.WARNING):
                provider.shutdown()
        finally:
            mlspan.instrumentation.uninstrument()
        assert sink.span_count == SPANS
    assert _mlspan_warnings(caplog) == []


def test_a_refused_endpoint_is_given_up_after_one_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    provider = mlspan.instrumentation.configure(
        service_name="shutdown-test",
        endpoint=f"http://{HOST}:{port}",
        set_global=False,
        instrument_libraries=False,
        shutdown_timeout_seconds=0.5,
    )
    try:
        _emit(provider, SPANS)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING):
            provider.shutdown()
        took = time.monotonic() - started
    finally:
        mlspan.instrumentation.uninstrument()
    assert took < 0.5 + 1.0
    (warning,) = _mlspan_warnings(caplog)
    assert warning.startswith(f"mlspan could not send {SPANS} of {SPANS} span(s) to {HOST}:{port}")
    assert "OTEL_INSTRUMENTATION_MLSPAN_SHUTDOWN_TIMEOUT_SECONDS" in warning


def test_an_http_request_stuck_in_a_blackhole_is_left_after_a_grace_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    blackhole = Blackhole()
    provider = mlspan.instrumentation.configure(
        service_name="shutdown-test",
        endpoint=blackhole.endpoint,
        protocol="http/protobuf",
        set_global=False,
        instrument_libraries=False,
        shutdown_timeout_seconds=0.5,
    )
    try:
        _emit(provider, SPANS)
        time.sleep(1.5)  # the first batch is on its way and stuck
        started = time.monotonic()
        with caplog.at_level(logging.WARNING):
            provider.shutdown()
        took = time.monotonic() - started
    finally:
        mlspan.instrumentation.uninstrument()
        blackhole.close()
    assert took < 0.5 + GRACE_SECONDS + 1.0
    (warning,) = _mlspan_warnings(caplog)
    assert warning.startswith("mlspan could not send at least ")
    assert f"to {blackhole.endpoint}/v1/traces" in warning
