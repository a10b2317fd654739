"""The query API's bounds over real sockets: slow clients, the connection cap, the body
cap, per-phase timeouts, the listen backlog and bursts, and the ``api.limits`` config."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest

from mlspan.collector.api import ApiServer, Request, Response, Router
from mlspan.collector.api.limits import ApiLimits
from mlspan.collector.pipeline.factory import ConfigError
from mlspan.collector.service import parse_config
from mlspan.collector.service.factories import default_factories
from tests.collector.api.collector_process import running_collector
from tests.support.raw_sockets import read_all, readable

pytestmark = pytest.mark.slow

TRICKLE_INTERVAL_S = 0.1
"""A slow client sends one byte this often: well inside any per-read socket timeout."""


def _router() -> Router:
    router = Router()
    router.add("GET", "/ping", lambda _r: Response.json({"pong": True}), summary="ping")

    def echo(request: Request) -> Response:
        return Response.json({"length": len(request.raw_body)})

    router.add("POST", "/echo", echo, summary="echo the body length")
    return router


@pytest.fixture
def serve() -> Iterator[type[ApiServer]]:
    """Start servers with given limits; every one is stopped at the end."""
    started: list[ApiServer] = []

    class Started(ApiServer):
        def __init__(self, limits: ApiLimits) -> None:
            super().__init__("127.0.0.1", 0, _router(), limits=limits)
            self.start()
            started.append(self)

    yield Started
    for server in started:
        server.shutdown()


def get(port: int, path: str = "/ping", timeout: float = 10.0) -> tuple[int, Message]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, response.headers
    finally:
        connection.close()


@dataclass
class SlowClient:
    """Trickles a request head one byte at a time until the server hangs up."""

    port: int
    started: float = 0.0
    ended: float = 0.0
    sent: int = 0
    answer: bytes = b""

    def run(self, stop: threading.Event) -> None:
        head = b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 10_000
        self.started = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            try:
                for byte in head:
                    if stop.is_set():
                        break
                    sock.sendall(bytes([byte]))
                    self.sent += 1
                    time.sleep(TRICKLE_INTERVAL_S)
                    if readable(sock):
                        break
                self.answer = read_all(sock)
            except OSError:
                pass
        self.ended = time.monotonic()


def test_slowloris_clients_do_not_delay_others_and_are_cut_at_the_header_deadline(
    serve: type[ApiServer],
) -> None:
    limits = ApiLimits(max_connections=32, read_header_timeout=2.0)
    server = serve(limits)
    stop = threading.Event()
    slow = [SlowClient(server.port) for _ in range(12)]
    threads = [threading.Thread(target=client.run, args=(stop,)) for client in slow]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)  # every slow client is connected and trickling
        latencies = []
        for _ in range(20):
            began = time.monotonic()
            status, _ = get(server.port)
            latencies.append(time.monotonic() - began)
            assert status == 200
        assert max(latencies) < 1.0, latencies
    finally:
        for thread in threads:
            thread.join(timeout=20)
        stop.set()
    for client in slow:
        held = client.ended - client.started
        # Still sending a byte every 0.1 s, yet cut at the 2 s deadline.
        assert 1.5 < held < 2.0 + 2.0, held
        assert client.sent < 40
        assert client.answer.startswith(b"HTTP/1.1 408 "), client.answer[:80]


def test_over_the_connection_cap_is_503_at_once_then_served_after_the_deadline(
    serve: type[ApiServer],
) -> None:
    limits = ApiLimits(max_connections=4, read_header_timeout=1.5)
    server = serve(limits)
    holders = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(4)]
    try:
        for sock in holders:
            sock.sendall(b"GET /ping HTTP/1.1\r\n")  # a head that never ends
        time.sleep(0.3)
        began = time.monotonic()
        status, headers = get(server.port)
        assert time.monotonic() - began < 0.5
        assert status == 503 and headers["Retry-After"] == "1"
        assert headers["Content-Type"] == "application/json"
        time.sleep(1.5)
        assert get(server.port)[0] == 200
        for sock in holders:
            assert read_all(sock).startswith(b"HTTP/1.1 408 ")
    finally:
        for sock in holders:
            sock.close()


def test_a_connection_that_sends_nothing_is_closed_at_the_header_deadline(
    serve: type[ApiServer],
) -> None:
    server = serve(ApiLimits(read_header_timeout=0.5))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        began = time.monotonic()
        assert read_all(sock) == b""  # nothing was asked: closed without an answer
        assert 0.4 < time.monotonic() - began < 3.0


def test_idle_keep_alive_connections_are_closed(serve: type[ApiServer]) -> None:
    server = serve(ApiLimits(idle_timeout=0.5, read_header_timeout=5.0))
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", "/ping")
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Connection") is None
        response.read()
        sock = connection.sock
        assert sock is not None
        began = time.monotonic()
        assert read_all(sock) == b""
        assert 0.4 < time.monotonic() - began < 3.0
    finally:
        connection.close()


def test_a_slow_body_gets_408_at_the_read_deadline(serve: type[ApiServer]) -> None:
    server = serve(ApiLimits(read_timeout=0.5))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nContent-Type: application/json\r\n")
        sock.sendall(b"Content-Length: 100\r\n\r\n[1,")
        began = time.monotonic()
        for _ in range(20):  # trickle, never finishing
            time.sleep(0.1)
            try:
                sock.sendall(b"1")
            except OSError:
                break
        answer = read_all(sock)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
        assert time.monotonic() - began < 3.0


def test_bodies_over_the_cap_are_413_before_they_are_read(serve: type[ApiServer]) -> None:
    server = serve(ApiLimits(max_request_body_size=2048))
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        body = b"[" + b"1," * 1022 + b"11]"
        assert len(body) == 2048
        connection.request("POST", "/echo", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read()) == {"length": 2048}
    finally:
        connection.close()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        # Announce 1 GiB and send none of it: the answer comes from the head alone.
        sock.sendall(b"POST /echo HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\n")
        answer = read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in head
    assert json.loads(body)["error"]["message"] == "request body over 2048 bytes"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nContent-Length: 2049\r\nExpect: 100-continue\r\n\r\n")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:80]  # no "100 Continue" first


def test_a_burst_of_connections_is_served_without_refusals(serve: type[ApiServer]) -> None:
    server = serve(ApiLimits(max_connections=256, backlog=1024))
    with ThreadPoolExecutor(max_workers=200) as pool:
        statuses = list(pool.map(lambda _i: get(server.port, timeout=30)[0], range(400)))
    assert statuses == [200] * 400


def listen_backlog(port: int) -> int:
    """The listen backlog of the socket on ``port`` as the kernel reports it (``ss``)."""
    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) is not installed")
    output = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(output[2])


def somaxconn() -> int:
    return int(Path("/proc/sys/net/core/somaxconn").read_text())


def test_listen_backlog_is_sized_for_bursts(serve: type[ApiServer]) -> None:
    default = serve(ApiLimits())
    assert listen_backlog(default.port) == min(ApiLimits().backlog, somaxconn())
    assert listen_backlog(default.port) >= 128
    assert listen_backlog(serve(ApiLimits(backlog=50)).port) == 50


def test_shutdown_closes_kept_alive_connections(serve: type[ApiServer]) -> None:
    server = serve(ApiLimits(idle_timeout=60))
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", "/ping")
        connection.getresponse().read()
        sock = connection.sock
        assert sock is not None
        server.shutdown()
        began = time.monotonic()
        assert read_all(sock) == b""
        assert time.monotonic() - began < 2.0
    finally:
        connection.close()


def test_the_collector_applies_api_limits_from_its_config(tmp_path: Path) -> None:
    limits = {"max_request_body_size": 4096, "backlog": 77, "max_connections": 8}
    with running_collector(tmp_path, api_limits=limits) as collector:
        assert listen_backlog(collector.api_port) == 77
        connection = http.client.HTTPConnection("127.0.0.1", collector.api_port, timeout=30)
        try:
            body = json.dumps({"text": "x" * 5000}).encode()
            connection.request(
                "POST", "/api/v1/components/train/notes", body, {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            assert response.status == 413
            assert json.loads(response.read())["error"]["message"] == "request body over 4096 bytes"
        finally:
            connection.close()


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_connections": 0}, "max_connections must be in [1, 4096]"),
        ({"backlog": 0}, "backlog must be in [1, 65535]"),
        ({"read_header_timeout": 0}, "read_header_timeout must be in (0, 3600] seconds"),
        ({"idle_timeout": -1}, "idle_timeout must be in (0, 3600] seconds"),
        ({"max_request_body_size": 10}, "max_request_body_size must be in [1024, 67108864]"),
        ({"max_body": 10}, "unknown key 'max_body'"),
    ],
)
def test_bad_limits_are_refused_at_start_up(limits: dict[str, object], message: str) -> None:
    document = {
        "api": {"limits": limits},
        "receivers": {"otlp": {}},
        "service": {"pipelines": {"traces": {"receivers": ["otlp"]}}},
    }
    with pytest.raises(ConfigError, match=r"api\.limits") as raised:
        parse_config(document, default_factories())
    assert message in str(raised.value)


def test_an_answer_the_client_does_not_read_is_cut_at_the_write_deadline() -> None:
    router = Router()
    big = b"[" + b"1," * (16 << 20) + b"1]"  # 32 MiB: far past the socket buffers
    router.add("GET", "/big", lambda _r: Response(200, big), summary="a large answer")
    server = ApiServer("127.0.0.1", 0, router, limits=ApiLimits(write_timeout=1.0))
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(3.0)  # never reading while the deadline passes
            received = 0
            began = time.monotonic()
            try:
                while chunk := sock.recv(1 << 20):
                    received += len(chunk)
            except ConnectionResetError:
                pass
        assert received < len(big)  # cut, not delivered
        assert time.monotonic() - began < 10
        assert get(server.port)[0] == 404  # and the server serves on
    finally:
        server.shutdown()


def test_large_answers_are_gzipped_for_clients_that_accept_it(serve: type[ApiServer]) -> None:
    import gzip

    router = Router()
    router.add("GET", "/doc", lambda _r: Response.json({"x": "a" * 10_000}), summary="doc")
    router.add("GET", "/small", lambda _r: Response.json({"x": 1}), summary="small")
    server = ApiServer("127.0.0.1", 0, router)
    server.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", "/doc", headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        body = response.read()
        assert response.getheader("Content-Encoding") == "gzip" and len(body) < 1000
        assert json.loads(gzip.decompress(body)) == {"x": "a" * 10_000}
        connection.request("GET", "/small", headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        assert response.getheader("Content-Encoding") is None
        assert json.loads(response.read()) == {"x": 1}
        connection.request("GET", "/doc")
        response = connection.getresponse()
        assert response.getheader("Content-Encoding") is None
        assert len(response.read()) > 10_000
        connection.close()
    finally:
        server.shutdown()
