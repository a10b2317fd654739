"""One connection of the OTLP/HTTP receiver: requests read under deadlines, answered.

Each phase of a request has a deadline (``httpserve.phased_handler``): the next request
on a kept-alive connection (``idle_timeout``), the request line and headers
(``read_header_timeout``), the body (``read_timeout``) and the answer
(``write_timeout``). A client trickling bytes is cut at the phase's deadline with a 408
however steadily it sends. Requests refused on their head alone (401 without an
accepted token, 413 for a declared body over the limit) are answered before the body
is read; with ``Expect: 100-continue`` the client sends no body then, so none is waited
for.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format
from google.rpc import code_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from mlspan.collector.httpserve.phased_handler import PhasedRequestHandler
from mlspan.collector.receivers.otlp.decode import JSON, PROTOBUF, media_type
from mlspan.collector.receivers.otlp.http_answers import (
    ALLOWED_METHODS,
    HTTP_STATUS,
    RPC_CODE,
    TEXT,
    error_body,
    status_body,
)
from mlspan.collector.receivers.otlp.http_body import (
    BodyRefused,
    declared_length,
    decode_body,
    drain,
    is_json,
    read_body,
)
from mlspan.collector.receivers.otlp.ingest import IngestResult, Status
from mlspan.collector.security.bearer import Verdict

if TYPE_CHECKING:
    from mlspan.collector.httpserve.deadlines import PhaseTimeouts
    from mlspan.collector.receivers.otlp.http_server import HttpReceiver

logger = logging.getLogger(__name__)


class OtlpHttpHandler(PhasedRequestHandler):
    """Serves ``POST`` on the traces path of ``server.receiver``."""

    server: Any
    """The receiver's ``CappedHttpServer``, with the ``HttpReceiver`` as ``receiver``."""
    server_version = "mlspan-otlp"
    error_message_format = "%(code)d %(message)s\n"
    error_content_type = TEXT
    _linger = 0
    _answered = False
    _in_body = False

    @property
    def receiver(self) -> HttpReceiver:
        """The receiver this connection serves."""
        receiver: HttpReceiver = self.server.receiver
        return receiver

    def timeouts(self) -> PhaseTimeouts:
        """The phase deadlines of ``protocols.http``."""
        return self.receiver.config

    def log_message(self, format: str, *args: Any) -> None:
        """Access lines at DEBUG through the module logger, not on stderr."""
        logger.debug("%s %s", self.address_string(), format % args)

    def send_response(self, code: int, message: str | None = None) -> None:
        """Note that an answer began (a later fault must not send a second one)."""
        self._answered = True
        super().send_response(code, message)

    def handle_one_request(self) -> None:
        """One request; a fault while serving it is logged, counted and answered 500
        (when nothing was sent yet), and closes the connection, not the server."""
        self._answered = False
        self._in_body = False
        try:
            super().handle_one_request()
        except Exception:
            self.close_connection = True
            receiver = self.receiver
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
        """Refuse before the client sends its body (``Expect: 100-continue``, which curl
        uses for large bodies): a missing or wrong token, or a body over the limit. The
        client then sends no body, so the answer is followed by a close, not a wait."""
        receiver = self.receiver
        if self._refused_unauthenticated(body_coming=False):
            return False
        limit = receiver.config.max_request_body_size
        length = declared_length(self.headers)
        if length > limit:
            message = f"body of {length} bytes over {limit}"
            receiver.ingest.reject(Status.TOO_LARGE, message)
            self.close_connection = True
            self._send_status(413, code_pb2.RESOURCE_EXHAUSTED, message, is_json(self.headers))
            return False
        return super().handle_expect_100()

    def serve_request(self) -> None:
        """``POST``: check the token and path, read and decode the body, ingest, answer."""
        self._in_body = True
        receiver = self.receiver
        config = receiver.config
        json_body = is_json(self.headers)
        if self._refused_unauthenticated(body_coming=True):
            return
        if self.path.split("?", 1)[0] != config.traces_url_path:
            self._drain_or_close()
            self._send_status(404, code_pb2.NOT_FOUND, "unknown path", json_body)
            return
        try:
            result = self._read_and_ingest()
        except TimeoutError:
            raise  # the body deadline passed: a 408 from answer_timeout
        except OSError:  # the client went away mid-body
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
            HTTP_STATUS[result.status], RPC_CODE[result.status], result.message, json_body, retry
        )
        self._discard_unread()

    def answer_timeout(self) -> None:
        """408 for a request whose head or body did not arrive in time; a body that did
        not is counted as ``malformed``."""
        if self._in_body:
            self.receiver.ingest.reject(Status.MALFORMED, "request body not received in time")
            content_type = media_type(self.headers.get("Content-Type", ""))
        else:
            content_type = TEXT
        message = "request not received in time"
        body, body_type = error_body(code_pb2.DEADLINE_EXCEEDED, message, content_type)
        self._send(408, body, body_type)

    def _read_and_ingest(self) -> IngestResult:
        ingest = self.receiver.ingest
        limit = self.receiver.config.max_request_body_size
        try:
            body = read_body(self.rfile, self.headers, limit)
        except BodyRefused as refused:
            self.close_connection = True
            self._linger = refused.linger
            return ingest.reject(refused.status, refused.message)
        if body.close:
            self.close_connection = True
        try:
            raw = decode_body(body.data, self.headers, limit)
        except BodyRefused as refused:
            return ingest.reject(refused.status, refused.message)
        return ingest.ingest(raw)

    def _refused_unauthenticated(self, body_coming: bool) -> bool:
        """With ``auth`` configured, answer 401 (and close) unless the request carries an
        accepted ``Authorization: Bearer`` token; True when refused. A body on its way
        (``body_coming``) is swallowed for a bounded time before closing."""
        receiver = self.receiver
        authenticator = receiver.authenticator
        if authenticator is None:
            return False
        verdict = authenticator.check_headers(self.headers)
        if verdict is Verdict.ACCEPTED:
            return False
        if receiver.on_denied is not None:
            receiver.on_denied(verdict)
        denial = authenticator.deny(verdict)
        self.close_connection = True
        self._linger = declared_length(self.headers) if body_coming else 0
        body, content_type = status_body(
            code_pb2.UNAUTHENTICATED, denial.message, is_json(self.headers)
        )
        self._send(401, body, content_type, {"WWW-Authenticate": denial.challenge})
        self._discard_unread()
        return True

    def _discard_unread(self) -> None:
        """After refusing a body unread (401, 413), end the answer with a FIN at once (the
        client sees the whole answer and the close without waiting), then swallow a
        bounded part of the body for a bounded time, so the client reads the answer
        instead of a connection reset."""
        linger, self._linger = self._linger, 0
        self.discard_unread(linger)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the stdlib finds in the head (bad request line, too many headers), in
        plain text, sent under the write deadline."""
        self.begin_response()
        super().send_error(code, message, explain)

    def _drain_or_close(self) -> None:
        limit = self.receiver.config.max_request_body_size
        if not drain(self.rfile, self.headers, limit):
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
            self.begin_response()
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
