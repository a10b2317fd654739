"""OTLP/HTTP receiver: other methods than POST get 405 with ``Allow``, a burst of
connections is accepted at once (listen backlog), and a fault inside the collector is
answered 500, counted and logged while the server keeps serving."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.rpc import code_pb2, status_pb2

from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import Host
from mlspan.collector.receivers.otlp import (
    HttpConfig,
    OtlpReceiver,
    OtlpReceiverConfig,
    ProtocolsConfig,
)
from tests.collector.ingest.conftest import RecordingConsumer
from tests.support.otlp_client import http_post
from tests.support.spans import request_bytes

pytestmark = pytest.mark.slow

BURST = 100
SYN_RETRY_S = 1.0
"""Linux resends a dropped SYN after one second: a connect that waited that long found
the listen queue full."""


class BrokenConsumer:
    """A pipeline stage with a bug: every batch raises."""

    def consume(self, batch: object) -> None:
        raise RuntimeError("stage failed")


def _start(tmp_path: Path, consumer: object, stats: IngestStats, **http: int) -> OtlpReceiver:
    config = OtlpReceiverConfig(
        protocols=ProtocolsConfig(http=HttpConfig(endpoint="127.0.0.1:0", **http))  # type: ignore[arg-type]
    )
    receiver = OtlpReceiver("otlp", config, consumer, Host(data_dir=tmp_path, stats=stats))  # type: ignore[arg-type]
    receiver.start()
    return receiver


@pytest.fixture
def address(tmp_path: Path) -> Iterator[str]:
    receiver = _start(tmp_path, RecordingConsumer(), IngestStats())
    assert receiver.http is not None
    try:
        yield receiver.http.address
    finally:
        receiver.shutdown()


@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "DELETE", "PATCH", "GET", "BREW"])
@pytest.mark.parametrize(
    ("content_type", "expected_type"),
    [
        ("application/json", "application/json"),
        ("application/x-protobuf", "application/x-protobuf"),
        ("text/html", "text/plain; charset=utf-8"),
    ],
)
def test_other_methods_get_405_with_allow(
    address: str, method: str, content_type: str, expected_type: str
) -> None:
    answer = http_post(address, b"", content_type, method=method)
    assert answer.status == 405
    assert answer.headers["allow"] == "POST"
    assert answer.headers["content-type"] == expected_type
    assert len(answer.body) < 200
    message = f"method {method} is not allowed: only POST"
    if expected_type == "application/json":
        assert json.loads(answer.body) == {"code": code_pb2.UNIMPLEMENTED, "message": message}
    elif expected_type == "application/x-protobuf":
        assert status_pb2.Status.FromString(answer.body).message == message
    else:
        assert answer.body.decode() == message + "\n"


def test_head_gets_405_without_a_body_and_the_connection_goes_on(address: str) -> None:
    host, _, port = address.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("HEAD", "/v1/traces")
        head = connection.getresponse()
        assert (head.status, head.getheader("Allow"), head.read()) == (405, "POST", b"")
        body = request_bytes(2)
        connection.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
        assert connection.getresponse().status == 200
    finally:
        connection.close()


def test_a_request_the_server_cannot_parse_gets_a_plain_text_error(address: str) -> None:
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /v1/traces HTTP/1.1\r\nX-Long: " + b"x" * 70_000 + b"\r\n\r\n")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 431")
    assert b"text/plain" in answer and b"<html" not in answer.lower()


def test_a_burst_of_connections_is_accepted_and_answered(tmp_path: Path) -> None:
    consumer = RecordingConsumer()
    receiver = _start(tmp_path, consumer, IngestStats(), max_connections=BURST + 28)
    assert receiver.http is not None
    port = receiver.http.port
    body = request_bytes(1)
    request = (
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
    ) + body
    start = threading.Barrier(BURST)
    results: list[tuple[float, bytes]] = []
    lock = threading.Lock()

    def client() -> None:
        start.wait()
        began = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            connected = time.monotonic() - began
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        with lock:
            results.append((connected, answer[:12]))

    threads = [threading.Thread(target=client) for _ in range(BURST)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        receiver.shutdown()
    assert [answer for _, answer in results] == [b"HTTP/1.1 200"] * BURST
    slowest = max(connected for connected, _ in results)
    assert slowest < SYN_RETRY_S, f"a connect waited {slowest:.2f} s: listen queue overflowed"
    assert consumer.span_count == BURST


def test_a_fault_inside_the_collector_is_answered_500_and_counted(tmp_path: Path) -> None:
    stats = IngestStats()
    receiver = _start(tmp_path, BrokenConsumer(), stats)
    assert receiver.http is not None
    try:
        for content_type in ("application/x-protobuf", "application/json"):
            protobuf = content_type.endswith("protobuf")
            body = request_bytes(2) if protobuf else b'{"resourceSpans":[]}'
            for _ in range(3):
                answer = http_post(receiver.http.address, body, content_type)
                expected = 500 if protobuf else 200  # no spans: the stage is not called
                assert answer.status == expected, answer.body
        assert stats.snapshot().requests_rejected == {("otlp", "internal"): 3}
        assert http_post(receiver.http.address, b"", method="HEAD").status == 405
    finally:
        receiver.shutdown()
