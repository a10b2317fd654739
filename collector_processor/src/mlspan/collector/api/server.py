"""The HTTP server in front of a ``Router``: stdlib, threaded, loopback by default.

Request parsing and answering are the router's job; this module only moves bytes. One
thread per connection (``ThreadingHTTPServer``) keeps a slow client from blocking the
others; the server runs in a daemon thread between ``start()`` and ``shutdown()``.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from mlspan.collector.api.router import MAX_BODY_BYTES, Response, Router
from mlspan.collector.security.api_access import ApiAccess
from mlspan.collector.security.config import TlsServerConfig
from mlspan.collector.security.tls import wrap_listening_socket

logger = logging.getLogger(__name__)

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 4319
"""The query API (and ``/metrics``) port documented in the README."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    router: Router
    access: ApiAccess | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A failed TLS handshake or a dropped connection: no traceback on stderr.
        if isinstance(sys.exc_info()[1], OSError):
            logger.debug("connection from %s failed", client_address, exc_info=True)
        else:
            logger.exception("connection from %s failed", client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "mlspan"
    timeout = 30
    """Seconds an idle keep-alive connection (and its thread) is kept."""

    def _answer(self) -> None:
        access = self.server.access
        refusal = access.check(self.command, self.headers) if access is not None else None
        if refusal is not None:  # before the body is read: refused requests cost nothing
            self.close_connection = True
            error = Response.error(refusal.status, refusal.message)
            self._send(dataclasses.replace(error, headers=refusal.headers))
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._send(Response.error(411, "chunked bodies are not accepted; send Content-Length"))
            return
        length_header = self.headers.get("Content-Length", "0") or "0"
        try:
            length = int(length_header)
        except ValueError:
            self._send(Response.error(400, "Content-Length is not an integer"))
            return
        if length < 0:
            self._send(Response.error(400, "Content-Length is negative"))
            return
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(Response.error(413, f"request body over {MAX_BODY_BYTES} bytes"))
            return
        body = self.rfile.read(length) if length else b""
        headers = {key: value for key, value in self.headers.items()}
        self._send(self.server.router.dispatch(self.command, self.path, body, headers))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = _answer
    do_POST = _answer
    do_PUT = _answer
    do_PATCH = _answer
    do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


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
    ) -> None:
        self._access = access
        self._tls = tls
        self._host = host
        self._requested_port = port
        self._router = router if router is not None else Router()
        self._server: _Server | None = None
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
            server_class = _Server6 if ":" in self._host else _Server
            server = server_class((self._host, self._requested_port), _Handler)
            server.router = self._router
            server.access = self._access
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
