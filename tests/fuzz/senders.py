"""Clients that send fuzz payloads and sort each answer into an outcome category.

Categories: ``ok`` (2xx, gRPC OK), ``4xx``, ``retry`` (503 or 429 with Retry-After,
gRPC RESOURCE_EXHAUSTED: the receiver's documented back-pressure), ``5xx`` (any other
status >= 500), ``grpc_error`` (INTERNAL, UNKNOWN, DATA_LOSS: the server failed),
``grpc_rejected`` (other gRPC codes: the request was refused), ``hang`` (no answer
within the timeout), ``no_answer`` (the connection closed without a response),
``refused`` (nothing listens: the process is gone), ``stuck_connection`` (a gRPC channel
answers UNAVAILABLE while a new one works).
"""

from __future__ import annotations

import http.client
import re
import socket
from dataclasses import dataclass
from typing import Final

import grpc

from tests.fuzz.payloads import GRPC, Payload
from tests.support.otlp_client import EXPORT_METHOD

FAILURES: Final = frozenset(
    {"5xx", "grpc_error", "hang", "no_answer", "stuck_connection", "crash", "canary_lost"}
)
"""Categories that break a goal (``crash`` and ``canary_lost`` come from the harness)."""
_SERVER_FAILED: Final = frozenset(
    {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}
)
_STATUS_LINE: Final = re.compile(rb"^HTTP/\d\.\d (\d{3})")


@dataclass(frozen=True)
class Outcome:
    """What one request got."""

    category: str
    status: str
    """HTTP status or gRPC code name, or what went wrong instead."""


def http_category(status: int, retry_after: bool) -> str:
    """The category of an HTTP status."""
    if status < 300:
        return "ok"
    if status in (429, 503) and retry_after:
        return "retry"
    if status >= 500:
        return "5xx"
    return "4xx"


class HttpSender:
    """One request per connection to an HTTP server at ``host:port``."""

    def __init__(self, address: str, timeout: float) -> None:
        host, _, port = address.rpartition(":")
        self.host, self.port, self.timeout = host, int(port), timeout

    def send(self, payload: Payload, path: str = "/v1/traces") -> Outcome:
        """Send ``payload`` (raw on a socket, or as a POST) and classify the answer."""
        if payload.raw:
            return self.send_raw(payload.body)
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request("POST", path, payload.body, {"Content-Type": payload.content_type})
            response = connection.getresponse()
            response.read()
            retry = response.getheader("Retry-After") is not None
            return Outcome(http_category(response.status, retry), str(response.status))
        except TimeoutError:
            return Outcome("hang", "timeout")
        except ConnectionRefusedError:
            return Outcome("refused", "connection refused")
        except (http.client.HTTPException, ConnectionError) as exc:
            return Outcome("no_answer", type(exc).__name__)
        finally:
            connection.close()

    def send_raw(self, data: bytes) -> Outcome:
        """Write ``data``, half-close, and read the status line of the answer. A
        connection closed without an answer is ``closed`` here: some raw requests are
        not HTTP at all, and closing on them is a fair answer."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except ConnectionRefusedError:
            return Outcome("refused", "connection refused")
        except TimeoutError:
            return Outcome("hang", "connect timeout")
        with sock:
            try:
                try:
                    sock.sendall(data)
                    sock.shutdown(socket.SHUT_WR)
                except TimeoutError:
                    raise
                except OSError:
                    pass  # the server answered early and closed; read what it said
                head = b""
                while b"\r\n" not in head and len(head) < 4096:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                    if b"\r\n\r\n" in head:
                        break
            except TimeoutError:
                return Outcome("hang", "timeout")
            except OSError as exc:
                return Outcome("closed", type(exc).__name__)
        found = _STATUS_LINE.match(head)
        if found is None:
            return Outcome("closed", "no status line")
        status = int(found.group(1))
        retry = b"\r\nretry-after:" in head.lower()
        return Outcome(http_category(status, retry), str(status))


class GrpcSender:
    """Raw ``TraceService/Export`` calls on one long-lived channel, as exporters do."""

    def __init__(self, address: str, timeout: float) -> None:
        self.address, self.timeout = address, timeout
        self.channel = self._channel()

    def _channel(self) -> grpc.Channel:
        return grpc.insecure_channel(
            self.address,
            options=[("grpc.max_send_message_length", -1), ("grpc.enable_retries", 0)],
        )

    def _call(self, channel: grpc.Channel, body: bytes, gzip: bool) -> None:
        call = channel.unary_unary(EXPORT_METHOD)
        compression = grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression
        call(body, timeout=self.timeout, compression=compression)

    def send(self, payload: Payload) -> Outcome:
        """Export ``payload.body``; classify the status code."""
        assert payload.transport == GRPC
        try:
            self._call(self.channel, payload.body, payload.gzip)
            return Outcome("ok", "OK")
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()
        if code is grpc.StatusCode.DEADLINE_EXCEEDED:
            return Outcome("hang", code.name)
        if code in _SERVER_FAILED:
            return Outcome("grpc_error", code.name)
        if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
            return Outcome("retry", code.name)
        if code is grpc.StatusCode.UNAVAILABLE:
            return self._unavailable()
        return Outcome("grpc_rejected", code.name)

    def _unavailable(self) -> Outcome:
        """UNAVAILABLE: the server is gone, or this channel is stuck while a new one
        works (then the channel is replaced)."""
        probe = self._channel()
        try:
            self._call(probe, b"", False)
        except grpc.RpcError as error:
            probe.close()
            if error.code() is grpc.StatusCode.UNAVAILABLE:
                return Outcome("refused", "UNAVAILABLE")
            return Outcome("grpc_rejected", error.code().name)
        try:
            self._call(self.channel, b"", False)
            stuck = False
        except grpc.RpcError:
            stuck = True
        if stuck:
            self.channel.close()
            self.channel = probe
            return Outcome("stuck_connection", "UNAVAILABLE")
        probe.close()
        return Outcome("grpc_rejected", "UNAVAILABLE")

    def close(self) -> None:
        """Close the channel."""
        self.channel.close()
