"""One HTTP/1.1 connection of the query API, read against deadlines.

A socket timeout bounds each ``recv``, so a client sending one byte every few seconds
never trips it. Here every phase of a request has a deadline instead
(``httpserve.phased_handler``, checked before each read): the first byte of the next
request on a kept-alive connection (``idle_timeout``), the request line and headers
(``read_header_timeout``, from the connection's start or the request's first byte), the
body (``read_timeout``) and the response (``write_timeout``). A phase that overruns
closes the connection, with a 408 when a request had begun.

Any method reaches the router, which answers 405 with ``Allow`` for a method the path
does not serve (HEAD and OPTIONS included) and 404 for an unknown path. Errors found
before the router (malformed request line, too many headers, a body over the cap) use
the same JSON error body as every other answer.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import TYPE_CHECKING, Any, Final

from mlspan.collector.api.messages import Response
from mlspan.collector.httpserve.phased_handler import PhasedRequestHandler

if TYPE_CHECKING:
    from mlspan.collector.api.limits import ApiLimits
    from mlspan.collector.api.router import Router
    from mlspan.collector.httpserve.deadlines import PhaseTimeouts

logger = logging.getLogger(__name__)

_CONTENT_LENGTH: Final = re.compile(r"[0-9]{1,19}")


class ApiHandler(PhasedRequestHandler):
    """Reads requests under deadlines, dispatches them to the router, writes answers."""

    server: Any
    """The ``server.ApiHttpServer``: its ``router``, ``limits`` and ``access``."""
    server_version = "mlspan"

    @property
    def _limits(self) -> ApiLimits:
        limits: ApiLimits = self.server.limits
        return limits

    def timeouts(self) -> PhaseTimeouts:
        """The API's phase deadlines (``api.limits``)."""
        return self._limits

    def serve_request(self) -> None:
        """Read the body and answer through the router; a request refused on its head
        alone is answered, then the body still on its way is swallowed (bounded), so the
        client reads the refusal rather than a connection reset."""
        refusal = self._refusal()
        if refusal is None:
            self._send(self._response())
            return
        self.close_connection = True
        self._send(refusal)
        declared = self.headers.get("Content-Length", "").strip()
        if _CONTENT_LENGTH.fullmatch(declared):
            self.discard_unread(int(declared))

    def answer_timeout(self) -> None:
        """408 for a request whose head or body did not arrive in time."""
        self._send_quietly(Response.error(408, "request not received in time"))

    def handle_expect_100(self) -> bool:
        """Refuse a request (access, body size) before the client sends its body."""
        refusal = self._refusal()
        if refusal is not None:
            self.close_connection = True
            self._send(refusal)
            return False
        return super().handle_expect_100()

    def _refusal(self) -> Response | None:
        """The error for a request refused on its head alone (access rules, declared
        body), else None: refused requests cost no body read."""
        access = self.server.access
        denied = access.check(self.command, self.headers) if access is not None else None
        if denied is not None:
            error = Response.error(denied.status, denied.message)
            return dataclasses.replace(error, headers=denied.headers)
        if self.headers.get("Transfer-Encoding"):
            return Response.error(411, "Transfer-Encoding is not accepted; send Content-Length")
        values = set(self.headers.get_all("Content-Length") or ())
        if len(values) > 1:
            return Response.error(400, "conflicting Content-Length headers")
        value = values.pop().strip() if values else "0"
        if not _CONTENT_LENGTH.fullmatch(value):
            return Response.error(400, "Content-Length is not a non-negative integer")
        cap = self._limits.max_request_body_size
        if int(value) > cap:
            return Response.error(413, f"request body over {cap} bytes")
        return None

    def _response(self) -> Response:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True
            return Response.error(400, "the body ended before Content-Length bytes")
        headers = dict(self.headers.items())
        router: Router = self.server.router
        return router.dispatch(self.command or "", self.path, body, headers)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the base class finds (bad request line, headers) as JSON, then close."""
        self.close_connection = True
        reason = message or self.responses.get(code, ("error",))[0]
        self._send_quietly(Response.error(code, reason))

    def _send(self, response: Response) -> None:
        self.begin_response()
        if self.request_version not in ("HTTP/1.0", "HTTP/1.1"):
            self.request_version = "HTTP/1.0"
            self.close_connection = True
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _send_quietly(self, response: Response) -> None:
        """Answer when the connection is already failing; a dead peer is not an error."""
        try:
            self._send(response)
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Access lines at DEBUG through the module logger, not on stderr."""
        logger.debug("%s %s", self.address_string(), format % args)
