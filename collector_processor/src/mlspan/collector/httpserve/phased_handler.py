"""A request handler that reads each phase of an HTTP/1.1 request against a deadline.

The phases: the first byte of the next request on a kept-alive connection
(``idle_timeout``), the request line and headers (``read_header_timeout``, from the
connection's start or the request's first byte), the body (``read_timeout``) and the
response (``write_timeout``). A phase that overruns closes the connection, with the
subclass's timeout answer (a 408) when a request had begun.
"""

from __future__ import annotations

import contextlib
import io
import socket
import ssl
from http.server import BaseHTTPRequestHandler
from typing import Final

from mlspan.collector.httpserve.deadlines import DeadlineReader, PhaseTimeouts

MAX_REQUEST_LINE: Final = 65536
"""Longest request line; longer ones get 414 (headers: 431 past 64 KiB or 100 lines)."""
_READ_BUFFER: Final = 65536
LINGER_BYTES: Final = 256 << 20
"""Most of a refused body swallowed before the connection closes."""
LINGER_SECONDS: Final = 2.0
"""Longest time spent swallowing a refused body."""


class PhasedRequestHandler(BaseHTTPRequestHandler):
    """Reads requests under per-phase deadlines; subclasses read bodies and answer.

    Subclasses provide ``timeouts()``, ``serve_request()`` (called once the head is
    parsed, with the body deadline set) and ``answer_timeout()``, and call
    ``begin_response()`` before writing an answer so the write deadline applies.
    """

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        """Replace the plain buffered reader with one that honours deadlines."""
        super().setup()
        self.rfile.close()
        self.reader = DeadlineReader(self.connection)
        """The raw reader under ``rfile``: set its deadline to bound a read phase."""
        self._buffered = io.BufferedReader(self.reader, _READ_BUFFER)
        self.rfile = self._buffered
        self._requests = 0

    def timeouts(self) -> PhaseTimeouts:
        """The deadlines of this server's phases."""
        raise NotImplementedError

    def serve_request(self) -> None:
        """Read the body (its deadline is set) and answer the parsed request."""
        raise NotImplementedError

    def answer_timeout(self) -> None:
        """Answer a request whose head or body did not arrive in time (a 408); the
        connection closes afterwards. Must not raise ``OSError``."""
        raise NotImplementedError

    def begin_response(self) -> None:
        """Bound the sending of one response by the write timeout."""
        self.connection.settimeout(self.timeouts().write_timeout)

    def discard_unread(self, count: int) -> None:
        """After refusing a request whose body was not read (401, 413): end the answer
        with a FIN at once (the client sees the whole answer and the close without
        waiting), then swallow up to ``count`` bytes of the body (at most
        ``LINGER_BYTES``) for at most ``LINGER_SECONDS``, so the client still sending
        reads the answer instead of a connection reset."""
        if count <= 0:
            return
        if not isinstance(self.connection, ssl.SSLSocket):
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_WR)
        remaining = min(count, LINGER_BYTES)
        self.reader.expire_in(LINGER_SECONDS)
        with contextlib.suppress(OSError):
            while remaining > 0:
                chunk = self._buffered.read1(min(remaining, _READ_BUFFER))
                if not chunk:
                    break
                remaining -= len(chunk)

    def handle_one_request(self) -> None:
        """Wait for, read and answer one request; close the connection on any overrun."""
        timeouts = self.timeouts()
        first = self._requests == 0
        self.command = ""
        self.requestline = ""
        self.request_version = "HTTP/1.1"
        started = False
        try:
            wait = timeouts.read_header_timeout if first else timeouts.idle_timeout
            self.reader.expire_in(wait)
            if not self._buffered.peek(1):
                self.close_connection = True
                return
            started = True
            if not first:
                self.reader.expire_in(timeouts.read_header_timeout)
            self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if len(self.raw_requestline) > MAX_REQUEST_LINE:
                self.send_error(414, f"request line over {MAX_REQUEST_LINE} bytes")
                return
            if not self.parse_request():
                return
            self._requests += 1
            if self.request_version == "HTTP/0.9":
                self.send_error(400, "HTTP/0.9 requests are not served")
                return
            self.reader.expire_in(timeouts.read_timeout)
            self.serve_request()
        except TimeoutError:
            self.close_connection = True
            if started:
                self.answer_timeout()
        except OSError:
            self.close_connection = True
