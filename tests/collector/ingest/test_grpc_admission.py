"""OTLP/gRPC refusals that gRPC makes before any handler runs are counted: too many calls
in flight across connections, a request over gRPC's own size limit, a call without a
request message."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import Host
from mlspan.collector.receivers.otlp import (
    GrpcConfig,
    OtlpReceiver,
    OtlpReceiverConfig,
    ProtocolsConfig,
)
from mlspan.collector.receivers.otlp.grpc_server import grpc_receive_limit
from tests.collector.ingest.conftest import LIMIT, RecordingConsumer
from tests.collector.ingest.test_grpc_receiver import _GatedConsumer, _retry_delay
from tests.support.otlp_client import EXPORT_METHOD, grpc_export
from tests.support.spans import ml_request

pytestmark = pytest.mark.slow

CALLS = 10
"""Calls sent at once, each on its own connection, to a receiver with one server thread:
4 are taken (1 running, 3 waiting), 4 are answered UNAVAILABLE with RetryInfo once a
thread is free, and from 8 in flight on gRPC refuses at once."""


def _start(tmp_path: Path, consumer: RecordingConsumer, stats: IngestStats) -> OtlpReceiver:
    config = OtlpReceiverConfig(
        protocols=ProtocolsConfig(
            grpc=GrpcConfig(
                endpoint="127.0.0.1:0", max_recv_msg_size_mib=1, max_concurrent_requests=1
            ),
            http=None,
        ),
        retry_after_seconds=2,
    )
    receiver = OtlpReceiver("otlp", config, consumer, Host(data_dir=tmp_path, stats=stats))
    receiver.start()
    return receiver


@pytest.fixture
def stats() -> IngestStats:
    return IngestStats()


def _export_code(address: str, body: bytes) -> tuple[grpc.StatusCode, float | None]:
    """One call on a connection of its own (channels otherwise share one connection)."""
    with grpc.insecure_channel(address, [("grpc.use_local_subchannel_pool", 1)]) as channel:
        try:
            grpc_export(channel, body, timeout=60)
        except grpc.RpcError as error:
            return error.code(), _retry_delay(error)
    return grpc.StatusCode.OK, None


def test_too_many_calls_in_flight_are_refused_retryably_and_counted(
    tmp_path: Path, stats: IngestStats
) -> None:
    consumer = _GatedConsumer()
    receiver = _start(tmp_path, consumer, stats)
    assert receiver.grpc is not None
    body = ml_request(2).SerializeToString()
    try:
        with futures.ThreadPoolExecutor(CALLS) as pool:
            calls = [pool.submit(_export_code, receiver.grpc.address, body) for _ in range(CALLS)]
            deadline = time.monotonic() + 30
            while sum(stats.snapshot().requests_rejected.values()) < 2:
                assert time.monotonic() < deadline, "gRPC never refused the calls past 8"
                time.sleep(0.05)
            consumer.gate.set()
            answers = sorted((call.result() for call in calls), key=lambda a: a[0].value)
    finally:
        receiver.shutdown()
    assert answers == sorted(
        [(grpc.StatusCode.OK, None)] * 4
        + [(grpc.StatusCode.UNAVAILABLE, 2.0)] * 4
        + [(grpc.StatusCode.RESOURCE_EXHAUSTED, None)] * 2,
        key=lambda a: a[0].value,
    )
    assert stats.snapshot().requests_rejected == {("otlp", "unavailable"): 6}
    assert consumer.span_count == 8


def test_a_request_over_grpcs_own_limit_is_counted(tmp_path: Path, stats: IngestStats) -> None:
    consumer = RecordingConsumer()
    receiver = _start(tmp_path, consumer, stats)
    assert receiver.grpc is not None
    request = ml_request(1)
    request.resource_spans[0].scope_spans[0].spans[0].attributes.add(
        key="big"
    ).value.string_value = "x" * (grpc_receive_limit(LIMIT) + 1)
    options = [("grpc.max_send_message_length", -1)]
    try:
        with grpc.insecure_channel(receiver.grpc.address, options=options) as channel:
            with pytest.raises(grpc.RpcError) as refused:
                grpc_export(channel, request.SerializeToString())
            assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert stats.snapshot().requests_rejected == {("otlp", "not_received"): 1}
            grpc_export(channel, ml_request(3).SerializeToString())  # still serving
    finally:
        receiver.shutdown()
    assert consumer.span_count == 3


def test_a_call_without_a_request_is_malformed(tmp_path: Path, stats: IngestStats) -> None:
    receiver = _start(tmp_path, RecordingConsumer(), stats)
    assert receiver.grpc is not None

    def nothing() -> Iterator[bytes]:
        yield from ()

    try:
        with grpc.insecure_channel(receiver.grpc.address) as channel:
            call = channel.stream_unary(EXPORT_METHOD)
            with pytest.raises(grpc.RpcError) as refused:
                call(nothing(), timeout=10)
            assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    finally:
        receiver.shutdown()
    assert stats.snapshot().requests_rejected == {("otlp", "malformed"): 1}
