"""OTLP/HTTP ``POST /v1/traces``: protobuf or JSON bodies, optionally gzip/deflate.

Answers per the OTLP specification: 200 with an ``ExportTraceServiceResponse`` (a
partial success when spans were refused) in the request's encoding; 400 for a body that
cannot be decoded; 413 when Content-Length or the decompressed size is over the limit;
415 for another content type or encoding; 400 without Content-Length or a chunked body
(``Transfer-Encoding: chunked`` is read up to the same limit); 429 (queues
full) and 503 (shutting down, too many connections) with ``Retry-After``. Error bodies
are ``google.rpc.Status`` messages in the request's encoding. Any other method than
``POST`` gets 405 with ``Allow: POST``. A fault inside the collector is answered 500,
logged and counted (``internal``); it never ends the server's thread.

A stdlib ``ThreadingHTTPServer`` with a cap on concurrent connections: over the cap a
connection gets 503 at once instead of a new thread. Its listen backlog is sized for
bursts (``LISTEN_BACKLOG``, or ``max_connections`` if larger), not the stdlib's 5, so a
burst of connections is accepted and answered instead of waiting for SYN retries.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from mlspan.collector.receivers.otlp.chunked import (
    ChunkedBodyError,
    ChunkedTooLargeError,
    read_chunked,
)
from mlspan.collector.receivers.otlp.config import HttpConfig, split_endpoint
from mlspan.collector.receivers.otlp.decode import (
    JSON,
    PROTOBUF,
    SUPPORTED_ENCODINGS,
    SUPPORTED_TYPES,
    DecodeFailure,
    TooLargeError,
    decompress,
    json_to_protobuf,
    media_type,
)
from mlspan.collector.receivers.otlp.http_answers import (
    ALLOWED_METHODS,
    TEXT,
    error_body,
    status_body,
)
from mlspan.collector.receivers.otlp.ingest import IngestResult, Status, TraceIngest
from mlspan.collector.security.bearer import Denial, Verdict, http_authenticator
from mlspan.collector.security.tls import wrap_listening_socket

logger = logging.getLogger(__name__)

_HTTP_STATUS: Final = {
    Status.MALFORMED: 400,
    Status.TOO_LARGE: 413,
    Status.UNSUPPORTED_MEDIA: 415,
    Status.QUEUE_FULL: 429,
    Status.UNAVAILABLE: 503,
    Status.INTERNAL: 500,
}
_LINGER_BYTES: Final = 256 << 20
"""Most bytes of a refused oversized body read and thrown away before closing."""
_LINGER_SECONDS: Final = 2.0
LISTEN_BACKLOG: Final = 128
"""Least listen backlog of the HTTP socket (the kernel caps it at ``somaxconn``)."""
_RPC_CODE: Final = {
    Status.MALFORMED: code_pb2.INVALID_ARGUMENT,
    Status.TOO_LARGE: code_pb2.RESOURCE_EXHAUSTED,
    Status.UNSUPPORTED_MEDIA: code_pb2.INVALID_ARGUMENT,
    Status.QUEUE_FULL: code_pb2.RESOURCE_EXHAUSTED,
    Status.UNAVAILABLE: code_pb2.UNAVAILABLE,
    Status.INTERNAL: code_pb2.INTERNAL,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    receiver: HttpReceiver

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.receiver._slots.acquire(blocking=False):
            self.receiver._refuse_connection(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.receiver._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.receiver._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A failed TLS handshake or a dropped connection is the client's business, not a
        # traceback on stderr; anything else is logged with its traceback.
        if isinstance(sys.exc_info()[1], OSError):
            logger.debug("connection from %s failed", client_address, exc_info=True)
        else:
            logger.exception("connection from %s failed", client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "mlspan-otlp"
    error_message_format = "%(code)d %(message)s\n"
    error_content_type = TEXT
    _linger = 0
    _answered = False

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.receiver.config.read_timeout)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._answered = True
        super().send_response(code, message)

    def handle_one_request(self) -> None:
        """One request; a fault while serving it is logged, counted and answered 500
        (when nothing was sent yet), and closes the connection, not the server."""
        self._answered = False
        try:
            super().handle_one_request()
        except OSError:  # the client went away or timed out
            self.close_connection = True
        except Exception:
            self.close_connection = True
            receiver = self.server.receiver
            logger.exception("receiver %s: unexpected error", receiver.ingest.name)
            receiver.ingest.reject(Status.INTERNAL, "internal error")
            if not self._answered:
                with contextlib.suppress(Exception):
                    self._send(500, b"internal error\n", TEXT)

    def parse_request(self) -> bool:
        """The request line and headers; any method but POST is answered 405 here (the
        stdlib would answer 501 with an HTML page)."""
        if not super().parse_request():
            return False
        if self.command == "POST":
            return True
        self._not_post()
        return False

    def handle_expect_100(self) -> bool:
        """Refuse an oversized body before the client sends it (``Expect: 100-continue``,
        which curl uses for large bodies)."""
        receiver = self.server.receiver
        if self._refused_unauthenticated():
            return False
        limit = receiver.config.max_request_body_size
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > limit:
            receiver.ingest.reject(Status.TOO_LARGE, f"body of {length} bytes over {limit}")
            self.close_connection = True
            json_body = media_type(self.headers.get("Content-Type", "")) == JSON
            message = f"body of {length} bytes over {limit}"
            self._send_status(413, code_pb2.RESOURCE_EXHAUSTED, message, json_body)
            return False
        return super().handle_expect_100()

    def do_POST(self) -> None:
        receiver = self.server.receiver
        config = receiver.config
        json_body = media_type(self.headers.get("Content-Type", "")) == JSON
        if self._refused_unauthenticated():
            return
        if self.path.split("?", 1)[0] != config.traces_url_path:
            self._drain_or_close()
            self._send_status(404, code_pb2.NOT_FOUND, "unknown path", json_body)
            return
        try:
            result = self._read_and_ingest(receiver, json_body)
        except OSError:  # the client went away or timed out mid-body
            self.close_connection = True
            receiver.ingest.reject(Status.MALFORMED, "connection failed while reading the body")
            return
        except Exception:  # never let a bug take the connection thread down silently
            logger.exception("receiver %s: unexpected error", receiver.ingest.name)
            self.close_connection = True
            result = receiver.ingest.reject(Status.INTERNAL, "internal error")
        if result.status is Status.OK:
            body = result.response_bytes()
            if json_body:
                response = trace_service_pb2.ExportTraceServiceResponse()
                response.ParseFromString(body)
                body = json_format.MessageToJson(response, indent=None).encode()
            self._send(200, body, JSON if json_body else PROTOBUF)
            return
        retryable = result.status in (Status.QUEUE_FULL, Status.UNAVAILABLE)
        retry = receiver.retry_after if retryable else None
        self._send_status(
            _HTTP_STATUS[result.status], _RPC_CODE[result.status], result.message, json_body, retry
        )
        self._discard_unread()

    def _refused_unauthenticated(self) -> bool:
        """With ``auth`` configured, answer 401 (and close) unless the request carries an
        accepted ``Authorization: Bearer`` token; True when refused."""
        authenticator = self.server.receiver.authenticator
        if authenticator is None:
            return False
        verdict = authenticator.check_headers(self.headers)
        if verdict is Verdict.ACCEPTED:
            return False
        on_denied = self.server.receiver.on_denied
        if on_denied is not None:
            on_denied(verdict)
        self._send_unauthenticated(authenticator.deny(verdict))
        return True

    def _send_unauthenticated(self, denial: Denial) -> None:
        self.close_connection = True
        try:
            self._linger = max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            self._linger = 0
        json_body = media_type(self.headers.get("Content-Type", "")) == JSON
        rpc_status = status_pb2.Status(code=code_pb2.UNAUTHENTICATED, message=denial.message)
        if json_body:
            body = json_format.MessageToJson(rpc_status, indent=None).encode()
        else:
            body = rpc_status.SerializeToString()
        headers = {"WWW-Authenticate": denial.challenge}
        self._send(401, body, JSON if json_body else PROTOBUF, headers)
        self._discard_unread()

    def _discard_unread(self) -> None:
        """After refusing an oversized body unread, swallow (a bounded part of) it before
        closing, so the client reads the 413 instead of a connection reset."""
        remaining = min(self._linger, _LINGER_BYTES)
        self._linger = 0
        try:
            self.connection.settimeout(_LINGER_SECONDS)
            while remaining > 0:
                chunk = self.rfile.read1(min(remaining, 1 << 16))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:
            pass

    def _read_and_ingest(self, receiver: HttpReceiver, json_body: bool) -> IngestResult:
        ingest = receiver.ingest
        limit = receiver.config.max_request_body_size
        transfer = self.headers.get("Transfer-Encoding", "").strip().lower()
        length_header = self.headers.get("Content-Length")
        if transfer:
            return self._ingest_chunked(receiver, transfer, length_header is not None, json_body)
        if length_header is None:
            self.close_connection = True
            return ingest.reject(Status.MALFORMED, "Content-Length or chunked body required")
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError(length_header)
        except ValueError:
            self.close_connection = True
            return ingest.reject(Status.MALFORMED, "Content-Length is not a valid integer")
        if length > limit:
            self.close_connection = True
            self._linger = length
            return ingest.reject(Status.TOO_LARGE, f"body of {length} bytes over {limit}")
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return ingest.reject(Status.MALFORMED, "body shorter than Content-Length")
        return self._decode_and_ingest(receiver, body, json_body)

    def _ingest_chunked(
        self, receiver: HttpReceiver, transfer: str, has_length: bool, json_body: bool
    ) -> IngestResult:
        """A ``Transfer-Encoding: chunked`` body. With a Content-Length as well, the
        transfer coding wins and the connection is closed afterwards (RFC 9112 §6.3)."""
        ingest = receiver.ingest
        if has_length:
            self.close_connection = True
        if transfer != "chunked":
            self.close_connection = True
            return ingest.reject(
                Status.MALFORMED, f"Transfer-Encoding '{transfer}' is not supported"
            )
        limit = receiver.config.max_request_body_size
        try:
            body = read_chunked(self.rfile, limit)
        except ChunkedTooLargeError as exc:
            self.close_connection = True
            return ingest.reject(Status.TOO_LARGE, str(exc))
        except ChunkedBodyError as exc:
            self.close_connection = True
            return ingest.reject(Status.MALFORMED, str(exc))
        return self._decode_and_ingest(receiver, body, json_body)

    def _decode_and_ingest(
        self, receiver: HttpReceiver, body: bytes, json_body: bool
    ) -> IngestResult:
        """Check the media type and encoding of a body read whole, decode it, ingest."""
        ingest = receiver.ingest
        limit = receiver.config.max_request_body_size
        content_type = media_type(self.headers.get("Content-Type", ""))
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if content_type not in SUPPORTED_TYPES:
            return ingest.reject(
                Status.UNSUPPORTED_MEDIA, f"Content-Type '{content_type}' is not supported"
            )
        if encoding not in SUPPORTED_ENCODINGS:
            return ingest.reject(
                Status.UNSUPPORTED_MEDIA, f"Content-Encoding '{encoding}' is not supported"
            )
        try:
            raw = decompress(body, encoding, limit)
            if json_body:
                raw = json_to_protobuf(raw)
        except TooLargeError as exc:
            return ingest.reject(Status.TOO_LARGE, str(exc))
        except DecodeFailure as exc:
            return ingest.reject(Status.MALFORMED, str(exc))
        return ingest.ingest(raw)

    def _drain_or_close(self) -> None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # not worth reading a chunked body to refuse it
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if 0 <= length <= self.server.receiver.config.max_request_body_size:
            self.rfile.read(length)
        else:
            self.close_connection = True

    def _not_post(self) -> None:
        """405 with ``Allow: POST``: a Status for OTLP content types, else plain text;
        no body for ``HEAD``."""
        self._drain_or_close()
        content_type = media_type(self.headers.get("Content-Type", ""))
        message = f"method {self.command} is not allowed: only POST"
        body, body_type = error_body(code_pb2.UNIMPLEMENTED, message, content_type)
        self._send(405, body, body_type, {"Allow": ALLOWED_METHODS})

    def _send_status(
        self, status: int, code: int, message: str, json_body: bool, retry: int | None = None
    ) -> None:
        body, content_type = status_body(code, message, json_body)
        headers = {"Retry-After": str(retry)} if retry is not None else {}
        self._send(status, body, content_type, headers)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            self.close_connection = True


class HttpReceiver:
    """The HTTP half of an ``otlp`` receiver."""

    def __init__(self, config: HttpConfig, ingest: TraceIngest, retry_after: int) -> None:
        self.config = config
        self.ingest = ingest
        self.retry_after = retry_after
        self._slots = threading.BoundedSemaphore(config.max_connections)
        self.authenticator = http_authenticator(config.auth)
        """Checks ``Authorization: Bearer`` when ``auth`` is configured."""
        self.on_denied: Callable[[Verdict], None] | None = None
        """Called for each request refused for a missing or wrong token (counting)."""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self) -> None:
        """Bind and serve in a background thread; raises ``OSError`` if binding fails."""
        if self._server is not None:
            return
        host, port = split_endpoint(self.config.endpoint)
        server_class = _Server6 if ":" in host else _Server
        server = server_class((host, port), _Handler, bind_and_activate=False)
        server.receiver = self
        server.request_queue_size = max(LISTEN_BACKLOG, self.config.max_connections)
        try:
            server.server_bind()
            server.server_activate()
            server.socket = wrap_listening_socket(server.socket, self.config.tls)
        except OSError:
            server.server_close()
            raise
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, name=f"otlp-http-{self.ingest.name}", daemon=True
        )
        self._thread.start()
        logger.info("OTLP/HTTP receiver listening on %s", self.address)

    @property
    def address(self) -> str:
        """``host:port`` actually bound."""
        host = split_endpoint(self.config.endpoint)[0]
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    def shutdown(self) -> None:
        """Stop accepting connections and close the socket; idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _refuse_connection(self, request: socket.socket) -> None:
        """Over the connection cap: answer 503 and close without a thread. A TLS
        connection is closed unanswered: answering needs a handshake, which the
        accepting thread must not wait for."""
        self.ingest.reject(Status.UNAVAILABLE, "too many connections")
        if isinstance(request, ssl.SSLSocket):
            with contextlib.suppress(OSError):
                request.close()
            return
        body = status_pb2.Status(
            code=code_pb2.UNAVAILABLE, message="too many connections"
        ).SerializeToString()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\n"
            f"Content-Type: {PROTOBUF}\r\nContent-Length: {len(body)}\r\n"
            f"Retry-After: {self.retry_after}\r\nConnection: close\r\n\r\n"
        ).encode()
        with contextlib.suppress(OSError):
            request.settimeout(1.0)
            request.sendall(head + body)
            request.shutdown(socket.SHUT_RDWR)
        request.close()
