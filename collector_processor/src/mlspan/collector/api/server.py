"""The HTTP server in front of a ``Router``: uvicorn serving the Starlette app in a thread.

``ApiServer`` binds its socket itself (loopback by default; port 0 picks a free one,
known as soon as ``start()`` returns), then runs uvicorn's event loop in a daemon thread
between ``start()`` and ``shutdown()``, so the collector (and a test) embeds it. The
bounds of ``ApiLimits`` hold in each connection's ``api.gate`` (connection cap with 503
and ``Retry-After``, head, body and write deadlines, head checks, access rules, body
cap); uvicorn's keep-alive timeout is the idle timeout. TLS (``tls``) uses the context
of ``security.tls``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import threading
from typing import TYPE_CHECKING, Any, Final, cast

import uvicorn

from mlspan.collector.api.asgi import build_app
from mlspan.collector.api.gate import ConnectionGate, GateSettings
from mlspan.collector.api.limits import ApiLimits
from mlspan.collector.api.router import Router
from mlspan.collector.security.tls import server_ssl_context

if TYPE_CHECKING:
    from mlspan.collector.security.api_access import ApiAccess
    from mlspan.collector.security.config import TlsServerConfig

logger = logging.getLogger(__name__)

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 4319
"""The query API (and ``/metrics``) port documented in the README."""
START_TIMEOUT_SECONDS: Final = 30.0
GRACEFUL_SHUTDOWN_SECONDS: Final = 5.0
"""Answers still being computed at shutdown get this long to finish."""


class _Server(uvicorn.Server):
    """uvicorn's server, telling the starting thread when it listens or failed."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self.failure: BaseException | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start listening, then signal ``ready``."""
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()


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
        self._socket: socket.socket | None = None
        self._server: _Server | None = None
        self._settings: GateSettings | None = None
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
        if self._socket is None:
            raise RuntimeError("ApiServer is not started")
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:4319``."""
        host = self._host if ":" not in self._host else f"[{self._host}]"
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> None:
        """Bind and serve in a background thread; raises ``OSError`` if the port is taken
        or the TLS files cannot be read."""
        with self._lock:
            if self._socket is not None or self._stopped:
                return
            context = server_ssl_context(self._tls) if self._tls is not None else None
            sock = _bind(self._host, self._requested_port, self._limits.backlog)
            settings = GateSettings(self._limits, self._access)
            config = uvicorn.Config(
                build_app(self._router),
                http=cast(Any, functools.partial(ConnectionGate, settings)),
                ws="none",
                lifespan="off",
                interface="asgi3",
                backlog=self._limits.backlog,
                timeout_keep_alive=cast(int, self._limits.idle_timeout),
                timeout_graceful_shutdown=cast(int, GRACEFUL_SHUTDOWN_SECONDS),
                ssl_context_factory=(lambda _config, _default: context) if context else None,
                server_header=False,
                access_log=False,
                log_config=None,
                log_level="warning",  # not its start/stop lines: it is no process of its own
                proxy_headers=False,
            )
            server = _Server(config)
            thread = threading.Thread(
                target=_serve,
                args=(server, sock, settings),
                name=f"api-{sock.getsockname()[1]}",
                daemon=True,
            )
            self._socket, self._server, self._settings = sock, server, settings
            self._thread = thread
            thread.start()
        if not server.ready.wait(START_TIMEOUT_SECONDS) or not server.started:
            self.shutdown()
            raise OSError(f"the query API did not start: {server.failure or 'timed out'}")
        logger.info("query API listening on %s", self.url)

    def shutdown(self) -> None:
        """Stop serving and close the socket and every connection; safe to call more
        than once. Answers being computed get ``GRACEFUL_SHUTDOWN_SECONDS``."""
        with self._lock:
            self._stopped = True
            server, thread, sock = self._server, self._thread, self._socket
            self._thread = None
        if server is None:
            return
        server.should_exit = True
        if thread is not None:
            thread.join(timeout=GRACEFUL_SHUTDOWN_SECONDS + 5)
        if sock is not None:
            sock.close()


def _bind(host: str, port: int, backlog: int) -> socket.socket:
    """A listening TCP socket (IPv6 for a host with ``:``). Its protocol is named, so
    asyncio turns Nagle's algorithm off on accepted connections (an answer's head and
    body are two writes: with Nagle the body waits for the client's delayed ACK, ~40 ms
    per request on a kept-alive connection)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _serve(server: _Server, sock: socket.socket, settings: GateSettings) -> None:
    """The server thread: uvicorn's loop until ``should_exit``, then every connection
    still open (answers refused, lingering) is closed before the loop ends."""

    async def serve() -> None:
        try:
            await server.serve(sockets=[sock])
        finally:
            settings.close_all()
            await asyncio.sleep(0)

    try:
        asyncio.run(serve())
    except BaseException as exc:  # SystemExit from uvicorn on a failed start included
        server.failure = exc
        logger.exception("query API server stopped with an error")
    finally:
        server.ready.set()
