"""The HTTP server in front of a ``Router``: stdlib, threaded, loopback by default.

Request parsing and answering are the router's job; this module only moves bytes. One
thread per connection (``ThreadingHTTPServer``) keeps a slow client from blocking the
others, within the bounds of ``ApiLimits`` (connection cap, listen backlog, per-phase
deadlines in ``connection``, body cap); the server runs in a daemon thread between
``start()`` and ``shutdown()``.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import sys
import threading
from http.server import ThreadingHTTPServer
from typing import Any, Final

from mlspan.collector.api.connection import ApiHandler
from mlspan.collector.api.limits import ApiLimits
from mlspan.collector.api.router import JSON_TYPE, Response, Router
from mlspan.collector.security.api_access import ApiAccess
from mlspan.collector.security.config import TlsServerConfig
from mlspan.collector.security.tls import wrap_listening_socket

logger = logging.getLogger(__name__)

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 4319
"""The query API (and ``/metrics``) port documented in the README."""
_RETRY_AFTER_SECONDS: Final = 1
_REFUSAL_SEND_SECONDS: Final = 1.0


class ApiHttpServer(ThreadingHTTPServer):
    """A thread per connection, at most ``limits.max_connections`` of them.

    One more connection is answered 503 with ``Retry-After`` from the accepting thread
    and closed, so a burst or a slow client never starts unbounded threads; the listen
    backlog is ``limits.backlog``.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        router: Router,
        limits: ApiLimits,
        access: ApiAccess | None = None,
    ) -> None:
        self.router = router
        self.limits = limits
        self.access = access
        self.request_queue_size = limits.backlog
        self._slots = threading.BoundedSemaphore(limits.max_connections)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, ApiHandler, bind_and_activate=False)
        try:
            self.server_bind()
            self.server_activate()
        except BaseException:
            self.server_close()
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve in a new thread while under the cap; else refuse at once."""
        if not self._slots.acquire(blocking=False):
            _refuse(request)
            return
        with self._open_lock:
            self._open.add(request)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._forget(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection, then give its slot back."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._forget(request)

    def _forget(self, request: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(request)
        self._slots.release()

    def close_connections(self) -> None:
        """Cut every open connection (at shutdown), so no kept-alive one lingers."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A failed TLS handshake or a dropped connection: no traceback on stderr."""
        if isinstance(sys.exc_info()[1], OSError):
            logger.debug("connection from %s failed", client_address, exc_info=True)
        else:
            logger.exception("connection from %s failed", client_address)


class _Server6(ApiHttpServer):
    address_family = socket.AF_INET6


def _refuse(request: socket.socket) -> None:
    """Over the connection cap: a 503 with ``Retry-After`` and close, without a thread.

    A TLS connection is closed without an answer: answering needs a handshake, which
    the accepting thread must not wait for."""
    if isinstance(request, ssl.SSLSocket):
        with contextlib.suppress(OSError):
            request.close()
        return
    body = Response.error(503, "too many connections; retry shortly").body
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        f"Content-Type: {JSON_TYPE}\r\nContent-Length: {len(body)}\r\n"
        f"Retry-After: {_RETRY_AFTER_SECONDS}\r\nConnection: close\r\n\r\n"
    ).encode()
    with contextlib.suppress(OSError, ValueError):
        request.settimeout(_REFUSAL_SEND_SECONDS)
        request.sendall(head + body)
        request.shutdown(socket.SHUT_RDWR)
    request.close()


class ApiServer:
    """Serves ``router`` on ``host:port`` (port 0 picks a free port; see ``port``), over
    HTTPS with ``tls``, letting through only what ``access`` allows (docs/security.md)."""

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        router: Router | None = None,
        access: ApiAccess | None = None,
        tls: TlsServerConfig | None = None,
        limits: ApiLimits | None = None,
    ) -> None:
        self._limits = limits if limits is not None else ApiLimits()
        self._access = access
        self._tls = tls
        self._host = host
        self._requested_port = port
        self._router = router if router is not None else Router()
        self._server: ApiHttpServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def router(self) -> Router:
        """The router this server dispatches to."""
        return self._router

    @property
    def port(self) -> int:
        """The bound port; only known after ``start()``."""
        if self._server is None:
            raise RuntimeError("ApiServer is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:4319``."""
        host = self._host if ":" not in self._host else f"[{self._host}]"
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> None:
        """Bind and serve in a background thread; raises ``OSError`` if the port is taken."""
        with self._lock:
            if self._server is not None or self._stopped:
                return
            server_class = _Server6 if ":" in self._host else ApiHttpServer
            address = (self._host, self._requested_port)
            server = server_class(address, self._router, self._limits, self._access)
            try:
                server.socket = wrap_listening_socket(server.socket, self._tls)
            except OSError:
                server.server_close()
                raise
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever, name=f"api-{self.port}", daemon=True
            )
            self._thread.start()
            logger.info("query API listening on %s", self.url)

    def shutdown(self) -> None:
        """Stop serving and close the socket; safe to call more than once."""
        with self._lock:
            self._stopped = True
            server, thread = self._server, self._thread
            self._thread = None
        if server is None:
            return
        if thread is not None:
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()
            server.close_connections()
