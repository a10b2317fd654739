"""A threaded HTTP server with a cap on the connections it serves at once.

Every connection costs a thread, so one more connection than ``max_connections`` is
answered 503 with ``Retry-After`` and closed, without a serving thread (a few
short-lived ones read what the client still sends, so it sees the answer rather than a
reset); a burst or slow clients never start unbounded threads. The listen backlog is
set by the caller (the stdlib's 5 refuses bursts).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

logger = logging.getLogger(__name__)

_REFUSAL_SEND_SECONDS: Final = 1.0
_REFUSAL_DRAIN_SECONDS: Final = 1.0
_REFUSAL_DRAIN_BYTES: Final = 1 << 20
REFUSAL_THREADS: Final = 16
"""Connections over the cap answered at once by short-lived threads that also read what
the client is still sending (so it reads the 503, not a reset); past these, the
accepting thread answers and closes at once."""


def service_unavailable(body: bytes, content_type: str, retry_after: int) -> bytes:
    """A whole ``503 Service Unavailable`` answer with ``Retry-After`` that closes."""
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        f"Retry-After: {retry_after}\r\nConnection: close\r\n\r\n"
    ).encode()
    return head + body


class CappedHttpServer(ThreadingHTTPServer):
    """A thread per connection, at most ``max_connections`` of them; one more gets
    ``over_cap_answer`` (see ``service_unavailable``) and ``on_over_cap`` is called.

    Binds (IPv6 for a host with ``:``) and listens with ``backlog`` on construction.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        handler_class: type[BaseHTTPRequestHandler],
        max_connections: int,
        backlog: int,
        over_cap_answer: bytes,
        on_over_cap: Callable[[], None] | None = None,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.request_queue_size = backlog
        self._slots = threading.BoundedSemaphore(max_connections)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._over_cap_answer = over_cap_answer
        self._on_over_cap = on_over_cap
        self._refusals = threading.BoundedSemaphore(REFUSAL_THREADS)
        super().__init__(address, handler_class, bind_and_activate=False)
        try:
            self.server_bind()
            self.server_activate()
        except BaseException:
            self.server_close()
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve in a new thread while under the cap; else refuse at once."""
        if not self._slots.acquire(blocking=False):
            if self._on_over_cap is not None:
                self._on_over_cap()
            self._refuse(request)
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

    def _refuse(self, request: socket.socket) -> None:
        """Over the cap: the 503 and close, without a serving thread. A TLS connection is
        closed unanswered: answering needs a handshake, which the accepting thread must
        not wait for."""
        if isinstance(request, ssl.SSLSocket):
            with contextlib.suppress(OSError):
                request.close()
            return
        if self._refusals.acquire(blocking=False):
            thread = threading.Thread(target=self._answer_over_cap, args=(request,), daemon=True)
            try:
                thread.start()
                return
            except RuntimeError:
                self._refusals.release()
        _send_and_close(request, self._over_cap_answer, drain=False)

    def _answer_over_cap(self, request: socket.socket) -> None:
        try:
            _send_and_close(request, self._over_cap_answer, drain=True)
        finally:
            self._refusals.release()


def _send_and_close(request: socket.socket, answer: bytes, drain: bool) -> None:
    """Send ``answer``, end it with a FIN, and with ``drain`` read what the client still
    sends (bounded in bytes and time) before closing, so its request body does not make
    the close a reset that hides the answer."""
    with contextlib.suppress(OSError, ValueError):
        request.settimeout(_REFUSAL_SEND_SECONDS)
        request.sendall(answer)
        request.shutdown(socket.SHUT_WR)
        if drain:
            deadline = time.monotonic() + _REFUSAL_DRAIN_SECONDS
            received = 0
            while received < _REFUSAL_DRAIN_BYTES:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                request.settimeout(remaining)
                chunk = request.recv(65536)
                if not chunk:
                    break
                received += len(chunk)
    request.close()
