"""OTLP/HTTP ``POST /v1/traces``: protobuf or JSON bodies, optionally gzip/deflate.

Answers per the OTLP specification: 200 with an ``ExportTraceServiceResponse`` (a
partial success when spans were refused) in the request's encoding; 400 for a body that
cannot be decoded; 413 when Content-Length or the decompressed size is over the limit;
415 for another content type or encoding; 400 without Content-Length or a chunked body
(``Transfer-Encoding: chunked`` is read up to the same limit); 408 for a request not
received within its phase's deadline; 429 (queues full) and 503 (shutting down, too
many connections) with ``Retry-After``. Error bodies are ``google.rpc.Status`` messages
in the request's encoding. Any other method than ``POST`` gets 405 with ``Allow: POST``.
A fault inside the collector is answered 500, logged and counted (``internal``); it
never ends the server's thread.

The server (``httpserve.capped_server``) caps concurrent connections: over the cap a
connection gets 503 at once instead of a new thread. Its listen backlog is sized for
bursts (``LISTEN_BACKLOG``, or ``max_connections`` if larger), not the stdlib's 5, so a
burst of connections is accepted and answered instead of waiting for SYN retries.
Reading and answering one connection: ``http_handler``; bodies: ``http_body``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from google.rpc import code_pb2

from mlspan.collector.httpserve.capped_server import CappedHttpServer, service_unavailable
from mlspan.collector.receivers.otlp.config import HttpConfig, split_endpoint
from mlspan.collector.receivers.otlp.http_answers import status_body
from mlspan.collector.receivers.otlp.http_handler import OtlpHttpHandler
from mlspan.collector.receivers.otlp.ingest import Status, TraceIngest
from mlspan.collector.security.bearer import Verdict, http_authenticator
from mlspan.collector.security.tls import wrap_listening_socket

logger = logging.getLogger(__name__)

LISTEN_BACKLOG: Final = 128
"""Least listen backlog of the HTTP socket (the kernel caps it at ``somaxconn``)."""


class _Server(CappedHttpServer):
    """The capped server, carrying the receiver its handlers serve."""

    def __init__(self, receiver: HttpReceiver, address: tuple[str, int]) -> None:
        self.receiver = receiver
        config = receiver.config
        body, content_type = status_body(code_pb2.UNAVAILABLE, "too many connections", False)
        super().__init__(
            address,
            OtlpHttpHandler,
            config.max_connections,
            max(LISTEN_BACKLOG, config.max_connections),
            service_unavailable(body, content_type, receiver.retry_after),
            receiver.count_over_cap,
        )


class HttpReceiver:
    """The HTTP half of an ``otlp`` receiver."""

    def __init__(self, config: HttpConfig, ingest: TraceIngest, retry_after: int) -> None:
        self.config = config
        self.ingest = ingest
        self.retry_after = retry_after
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
        server = _Server(self, split_endpoint(self.config.endpoint))
        try:
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

    def count_over_cap(self) -> None:
        """A connection refused over ``max_connections``, counted as ``unavailable``."""
        self.ingest.reject(Status.UNAVAILABLE, "too many connections")
