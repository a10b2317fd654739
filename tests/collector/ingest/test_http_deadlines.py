"""OTLP/HTTP receiver bounds over real sockets: slow clients (slowloris) trickling a
head or a body are cut at the phase's deadline while other clients' exports are
answered at once; the connection cap; idle keep-alive connections closed; refusals of
a request's head (401, 413) end the connection at once; the timeouts' config."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.rpc import code_pb2, status_pb2

from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import ConfigError, Host, Kind
from mlspan.collector.receivers.otlp import (
    HttpConfig,
    OtlpReceiver,
    OtlpReceiverConfig,
    ProtocolsConfig,
)
from mlspan.collector.security.config import AuthConfig, BearerTokensConfig
from mlspan.collector.service.config import parse_config
from mlspan.collector.service.factories import default_factories
from tests.collector.ingest.conftest import RecordingConsumer
from tests.support.raw_sockets import read_all, readable
from tests.support.spans import request_bytes

pytestmark = pytest.mark.slow

TRICKLE_INTERVAL_S = 0.1
"""A slow client sends one byte this often: well inside any per-read socket timeout."""
TOKEN = "ingest-token-0123456789abcdef"
PROMPT_S = 0.5
"""An answer (and close) that needs no waiting arrives well within this."""


@dataclass
class Started:
    receiver: OtlpReceiver
    consumer: RecordingConsumer
    stats: IngestStats

    @property
    def port(self) -> int:
        assert self.receiver.http is not None
        return self.receiver.http.port


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """Start receivers with given ``protocols.http`` settings; all stopped at the end."""
    started: list[OtlpReceiver] = []

    def start(**http: Any) -> Started:
        config = OtlpReceiverConfig(
            protocols=ProtocolsConfig(http=HttpConfig(endpoint="127.0.0.1:0", **http)),
            retry_after_seconds=2,
        )
        consumer, stats = RecordingConsumer(), IngestStats()
        host = Host(data_dir=tmp_path, stats=stats).for_component("otlp")
        receiver = OtlpReceiver("otlp", config, consumer, host)
        receiver.start()
        started.append(receiver)
        return Started(receiver, consumer, stats)

    yield start
    for receiver in started:
        receiver.shutdown()


def export(port: int, spans: int = 5, timeout: float = 10.0) -> tuple[int, dict[str, str]]:
    """One protobuf export on a fresh connection: the status and headers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(
            "POST",
            "/v1/traces",
            request_bytes(spans),
            {"Content-Type": "application/x-protobuf"},
        )
        response = connection.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


@dataclass
class SlowClient:
    """Sends ``prefix`` at once, then ``trickle`` one byte at a time until the server
    answers or hangs up."""

    port: int
    prefix: bytes
    trickle: bytes
    interval: float = TRICKLE_INTERVAL_S
    started: float = 0.0
    ended: float = 0.0
    sent: int = 0
    answer: bytes = b""

    def run(self) -> None:
        self.started = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            try:
                sock.sendall(self.prefix)
                for byte in self.trickle:
                    sock.sendall(bytes([byte]))
                    self.sent += 1
                    time.sleep(self.interval)
                    if readable(sock):
                        break
                self.answer = read_all(sock)
            except OSError:
                pass
        self.ended = time.monotonic()

    @property
    def held(self) -> float:
        return self.ended - self.started


def head_trickler(port: int) -> SlowClient:
    head = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 10_000
    return SlowClient(port, b"", head)


def body_trickler(port: int, interval: float = TRICKLE_INTERVAL_S) -> SlowClient:
    head = (
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        b"Content-Length: 100000\r\n\r\n"
    )
    return SlowClient(port, head, b"\x00" * 100_000, interval)


def _run(clients: list[SlowClient]) -> list[threading.Thread]:
    threads = [threading.Thread(target=client.run) for client in clients]
    for thread in threads:
        thread.start()
    return threads


def test_slowloris_heads_and_bodies_are_cut_at_the_deadline_while_exports_are_answered(
    serve: Any,
) -> None:
    started = serve(max_connections=32, read_header_timeout=2.0, read_timeout=2.0)
    slow = [head_trickler(started.port) for _ in range(6)]
    slow += [body_trickler(started.port) for _ in range(6)]
    threads = _run(slow)
    try:
        time.sleep(0.5)  # every slow client is connected and trickling
        latencies = []
        for _ in range(20):
            began = time.monotonic()
            status, _ = export(started.port)
            latencies.append(time.monotonic() - began)
            assert status == 200
        assert max(latencies) < 1.0, latencies
    finally:
        for thread in threads:
            thread.join(timeout=30)
    assert started.consumer.span_count == 20 * 5
    for client in slow:
        # Still sending a byte every 0.1 s, yet cut at the 2 s deadline.
        assert 1.5 < client.held < 2.0 + 2.0, client.held
        assert client.sent < 40
        assert client.answer.startswith(b"HTTP/1.1 408 "), client.answer[:80]
    for client in slow[6:]:  # a body: a Status in the request's encoding, counted
        head, _, body = client.answer.partition(b"\r\n\r\n")
        assert b"Content-Type: application/x-protobuf" in head
        assert status_pb2.Status.FromString(body).code == code_pb2.DEADLINE_EXCEEDED
    rejected = started.stats.snapshot().requests_rejected
    assert rejected[("otlp", "malformed")] == 6


def test_a_body_sent_a_byte_every_200_ms_is_cut_at_read_timeout(serve: Any) -> None:
    """The reported case: ``read_timeout: 1`` held a connection 4 s and more."""
    started = serve(read_timeout=1.0)
    client = body_trickler(started.port, interval=0.2)
    client.run()
    assert client.answer.startswith(b"HTTP/1.1 408 "), client.answer[:80]
    assert 0.9 < client.held < 2.0, client.held
    assert client.sent <= 7


def test_over_the_cap_is_503_with_retry_after_at_once_then_served_after_the_deadline(
    serve: Any,
) -> None:
    started = serve(max_connections=3, read_header_timeout=1.5)
    holders = [socket.create_connection(("127.0.0.1", started.port)) for _ in range(3)]
    try:
        for sock in holders:
            sock.sendall(b"POST /v1/traces HTTP/1.1\r\n")  # a head that never ends
        time.sleep(0.3)
        began = time.monotonic()
        status, headers = export(started.port)
        assert time.monotonic() - began < PROMPT_S
        assert status == 503 and headers["retry-after"] == "2"
        assert headers["content-type"] == "application/x-protobuf"
        assert ("otlp", "unavailable") in started.stats.snapshot().requests_rejected
        time.sleep(1.5)
        assert export(started.port)[0] == 200
        for sock in holders:
            assert read_all(sock).startswith(b"HTTP/1.1 408 ")
    finally:
        for sock in holders:
            sock.close()


def test_a_connection_that_sends_nothing_is_closed_at_the_header_deadline(serve: Any) -> None:
    started = serve(read_header_timeout=0.5)
    with socket.create_connection(("127.0.0.1", started.port), timeout=10) as sock:
        began = time.monotonic()
        assert read_all(sock) == b""  # nothing was asked: closed without an answer
        assert 0.4 < time.monotonic() - began < 3.0


def test_idle_keep_alive_connections_are_closed_at_idle_timeout(serve: Any) -> None:
    started = serve(idle_timeout=0.8, read_header_timeout=5.0)
    connection = http.client.HTTPConnection("127.0.0.1", started.port, timeout=10)
    try:
        for _ in range(3):  # kept alive while requests keep coming
            connection.request(
                "POST", "/v1/traces", request_bytes(2), {"Content-Type": "application/x-protobuf"}
            )
            response = connection.getresponse()
            assert response.status == 200 and response.getheader("Connection") is None
            response.read()
            time.sleep(0.3)
        sock = connection.sock
        assert sock is not None
        began = time.monotonic()
        assert read_all(sock) == b""
        assert 0.2 < time.monotonic() - began < 3.0
    finally:
        connection.close()
    assert started.consumer.span_count == 6


def _refused_head(port: int, head: bytes) -> tuple[bytes, float]:
    """Send ``head`` (no body) and read to the end: the answer and the time to EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        began = time.monotonic()
        sock.sendall(head)
        answer = read_all(sock)
        return answer, time.monotonic() - began


def _post_head(length: int, *extra: str) -> bytes:
    lines = [
        "POST /v1/traces HTTP/1.1",
        "Host: x",
        "Content-Type: application/x-protobuf",
        f"Content-Length: {length}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize(
    "authorization", [(), ("Authorization: Bearer wrong-token-0123456789abcdef",)]
)
@pytest.mark.parametrize("expect", [True, False])
def test_a_401_from_the_head_ends_the_connection_at_once(
    serve: Any, tmp_path: Path, authorization: tuple[str, ...], expect: bool
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    started = serve(auth=AuthConfig(BearerTokensConfig(token_file=str(token_file))))
    extra = (*authorization, "Expect: 100-continue") if expect else authorization
    answer, elapsed = _refused_head(started.port, _post_head(50_000, *extra))
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:80]
    assert b"100 Continue" not in answer
    assert b"WWW-Authenticate: Bearer" in answer
    assert elapsed < PROMPT_S, elapsed  # was 2 s: the server waited for a body
    assert started.stats.snapshot().requests_rejected[("otlp", "unauthenticated")] == 1
    with_token = _post_head(len(request_bytes(3)), f"Authorization: Bearer {TOKEN}")
    with socket.create_connection(("127.0.0.1", started.port), timeout=10) as sock:
        sock.sendall(with_token + request_bytes(3))
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize("expect", [True, False])
def test_a_413_from_the_head_ends_the_connection_at_once(serve: Any, expect: bool) -> None:
    started = serve(max_request_body_size=4096)
    extra = ("Expect: 100-continue",) if expect else ()
    answer, elapsed = _refused_head(started.port, _post_head(1 << 30, *extra))
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:80]
    assert b"Connection: close" in answer
    assert elapsed < PROMPT_S, elapsed
    assert started.stats.snapshot().requests_rejected[("otlp", "too_large")] == 1


def test_a_refused_body_that_is_sent_anyway_still_gets_its_answer(serve: Any) -> None:
    """The refused body is swallowed (bounded) so the client reads the 413, not a reset."""
    started = serve(max_request_body_size=4096)
    with socket.create_connection(("127.0.0.1", started.port), timeout=10) as sock:
        sock.sendall(_post_head(200_000) + b"\x00" * 200_000)
        assert read_all(sock).startswith(b"HTTP/1.1 413 ")


def _config(http: dict[str, Any]) -> dict[str, Any]:
    return {
        "receivers": {"otlp": {"protocols": {"http": http}}},
        "exporters": {"debug": {}},
        "service": {"pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["debug"]}}},
    }


def test_timeouts_are_read_from_the_http_protocol_section() -> None:
    timeouts = {
        "read_header_timeout": 3,
        "read_timeout": 4.5,
        "write_timeout": 6,
        "idle_timeout": 7,
        "max_connections": 9,
    }
    config = parse_config(_config(timeouts), default_factories())
    receiver = config.spec(Kind.RECEIVER, "otlp").config
    assert isinstance(receiver, OtlpReceiverConfig) and receiver.protocols.http is not None
    http = receiver.protocols.http
    assert (http.read_header_timeout, http.read_timeout) == (3, 4.5)
    assert (http.write_timeout, http.idle_timeout, http.max_connections) == (6, 7, 9)


@pytest.mark.parametrize(
    ("http", "message"),
    [
        ({"read_header_timeout": 0}, "read_header_timeout must be in (0, 3600] seconds"),
        ({"read_timeout": -1}, "read_timeout must be in (0, 3600] seconds"),
        ({"write_timeout": 3601}, "write_timeout must be in (0, 3600] seconds"),
        ({"idle_timeout": 0}, "idle_timeout must be in (0, 3600] seconds"),
        ({"max_connections": 0}, "max_connections must be in [1, 4096]"),
    ],
)
def test_bad_timeouts_are_refused_at_start_up(http: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(_config(http), default_factories())
    assert message in str(raised.value)
