"""The HTTP server in front of a ``Router``: stdlib, threaded, loopback by default.

Request parsing and answering are the router's job; this module only moves bytes. One
thread per connection keeps a slow client from blocking the others, within the bounds
of ``ApiLimits`` (connection cap and listen backlog: ``httpserve.capped_server``;
per-phase deadlines: ``connection``; body cap); the server runs in a daemon thread
between ``start()`` and ``shutdown()``.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from mlspan.collector.api.connection import ApiHandler
from mlspan.collector.api.limits import ApiLimits
from mlspan.collector.api.router import JSON_TYPE, Response, Router
from mlspan.collector.httpserve.capped_server import CappedHttpServer, service_unavailable
from mlspan.collector.security.api_access import ApiAccess
from mlspan.collector.security.config import TlsServerConfig
from mlspan.collector.security.tls import wrap_listening_socket

logger = logging.getLogger(__name__)

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 4319
"""The query API (and ``/metrics``) port documented in the README."""
_RETRY_AFTER_SECONDS: Final = 1


class ApiHttpServer(CappedHttpServer):
    """A thread per connection, at most ``limits.max_connections`` of them; one more is
    answered 503 with ``Retry-After`` (JSON error body) and closed, without a thread."""

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
        body = Response.error(503, "too many connections; retry shortly").body
        over_cap = service_unavailable(body, JSON_TYPE, _RETRY_AFTER_SECONDS)
        super().__init__(address, ApiHandler, limits.max_connections, limits.backlog, over_cap)


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
            address = (self._host, self._requested_port)
            server = ApiHttpServer(address, self._router, self._limits, self._access)
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
