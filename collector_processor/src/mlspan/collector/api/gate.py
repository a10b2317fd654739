"""The query API's connection gate: bounds in front of uvicorn's HTTP protocol.

uvicorn bounds the wait between kept-alive requests (``timeout_keep_alive``), but not
how long a request's head or body may take to arrive, how many connections are served
at once (its ``limit_concurrency`` answers per request, after the head), nor which
status a malformed head gets. Each connection's ``ConnectionGate`` sits between the
socket and uvicorn's ``HttpToolsProtocol`` and adds:

* a connection cap: one connection more than ``max_connections`` is answered 503 with
  ``Retry-After`` and closed before any parsing;
* a write deadline: answer bytes the client leaves unread (the transport's buffer above
  its high-water mark) for ``write_timeout`` abort the connection;
* per-phase deadlines that a client trickling bytes cannot stretch (slowloris): the
  head must be in ``read_header_timeout`` after the connection opened or the request's
  first byte came, the body ``read_timeout`` after the head; a late request gets 408;
* the head read and checked here (``api.head``): 400/411/414/431/505 with the API's
  JSON error body; access rules (401/403) and the body cap (413) decided on the head,
  before a body byte is read or ``100 Continue`` is sent.

Every answer the gate gives itself closes the connection: it is sent, the write side is
shut (FIN), and what the client still sends is swallowed for a bounded time and size,
so the client reads the answer instead of a connection reset. A head that passes goes
to uvicorn re-serialized, with its body as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mlspan.collector.api.head import HEAD_END, Head, HeadError, check_partial, parse_head
from mlspan.collector.api.messages import Response

if TYPE_CHECKING:
    from mlspan.collector.api.limits import ApiLimits
    from mlspan.collector.security.api_access import ApiAccess

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS: Final = 1
LINGER_BYTES: Final = 256 << 20
"""Most of a refused request's body swallowed before the connection closes."""
LINGER_SECONDS: Final = 2.0
"""Longest time spent swallowing after an answer the gate gave."""
OVER_CAP_LINGER_SECONDS: Final = 1.0
LINGERING: Final = 64
"""Answered connections swallowing at once (they no longer count against the cap);
past these, an answer is sent and the connection closed at once."""

_REASONS: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}


def answer_bytes(response: Response) -> bytes:
    """``response`` as a whole HTTP/1.1 answer that closes the connection."""
    reason = _REASONS.get(response.status, "Error")
    lines = [
        f"HTTP/1.1 {response.status} {reason}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
        *(f"{name}: {value}" for name, value in response.headers),
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


@dataclass
class GateSettings:
    """What every connection of one server shares: limits, access rules, the open set."""

    limits: ApiLimits
    access: ApiAccess | None
    open: set[ConnectionGate] = field(default_factory=set)
    """Connections being served (at most ``limits.max_connections``)."""
    refusing: set[ConnectionGate] = field(default_factory=set)
    """Connections the gate answered, swallowing what their client still sends."""
    over_cap: bytes = b""

    def __post_init__(self) -> None:
        error = Response.error(503, "too many connections; retry shortly")
        self.over_cap = answer_bytes(
            Response(
                error.status,
                error.body,
                error.content_type,
                (("Retry-After", str(RETRY_AFTER_SECONDS)),),
            )
        )

    def close_all(self) -> None:
        """Close every open connection (at shutdown)."""
        for gate in [*self.open, *self.refusing]:
            gate.close()


class JsonErrorHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, its rare own 400 (a head the gate passed but the
    parser refused) answered with the API's JSON error body, and requests asking for a
    protocol upgrade answered as plain HTTP without its two warnings each (anyone could
    flood the log with ``Upgrade: websocket``; the server has no WebSockets, ``ws="none"``).
    """

    def _unsupported_upgrade_warning(self) -> None:
        """Logged at DEBUG only: the request is answered as if it asked for no upgrade."""
        logger.debug("upgrade request answered as plain HTTP")

    def send_400_response(self, msg: str) -> None:
        """The JSON 400, then close."""
        self.transport.write(answer_bytes(Response.error(400, msg)))
        self.transport.close()


class _Phase(enum.Enum):
    HEAD = "head"
    BODY = "body"
    DRAIN = "drain"
    CLOSED = "closed"


class ConnectionGate(asyncio.Protocol):
    """One connection: cap, deadlines and head checks, then uvicorn's protocol.

    Built by uvicorn (``Config(http=...)`` with the settings bound by ``partial``).
    """

    def __init__(self, settings: GateSettings, **uvicorn_args: Any) -> None:
        self._settings = settings
        self._limits = settings.limits
        self._inner = JsonErrorHttpToolsProtocol(**uvicorn_args)
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._phase = _Phase.HEAD
        self._buffer = bytearray()
        self._body_left = 0
        self._timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._served = False
        self._forwarded = 0
        self._swallow_left = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Serve under the cap (header deadline armed), else answer 503 and close."""
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        settings = self._settings
        if len(settings.open) >= self._limits.max_connections:
            transport.write(settings.over_cap)
            self._drain(1 << 20, OVER_CAP_LINGER_SECONDS)
            return
        settings.open.add(self)
        self._served = True
        self._inner.connection_made(transport)
        self._arm(self._limits.read_header_timeout)

    def data_received(self, data: bytes) -> None:
        """Pass a checked head and its body on; swallow after an answer."""
        if self._phase is _Phase.BODY:
            self._body(data)
        elif self._phase is _Phase.HEAD:
            self._head(data)
        elif self._phase is _Phase.DRAIN:
            self._swallow_left -= len(data)
            if self._swallow_left <= 0:
                self.close()

    def eof_received(self) -> bool | None:
        """A body cut short gets 400; a half-closed idle connection closes; one whose
        request may still be answered stays open for the answer."""
        if self._phase is _Phase.BODY:
            self._refuse(Response.error(400, "the body ended before Content-Length bytes"), 0)
            return True
        if self._phase is _Phase.HEAD and not self._buffer and self._answering():
            return True
        if self._phase is _Phase.DRAIN:
            self.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection and tell uvicorn's protocol."""
        self._phase = _Phase.CLOSED
        self._cancel_timer()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        self._settings.refusing.discard(self)
        if self._served:
            self._served = False
            self._settings.open.discard(self)
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        """The client stopped reading: its answer must drain before the write deadline."""
        if self._write_timer is None:
            self._write_timer = self._loop.call_later(
                self._limits.write_timeout, self._write_expired
            )
        if self._served:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        """The answer drains again."""
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        if self._served:
            self._inner.resume_writing()

    def _write_expired(self) -> None:
        self._write_timer = None
        if self._transport is not None:
            logger.info("an answer was left unread past the write deadline; connection cut")
            self._transport.abort()

    def _answering(self) -> bool:
        """Whether uvicorn is still answering a request of this connection."""
        cycle = getattr(self._inner, "cycle", None)
        return cycle is not None and not cycle.response_complete

    def close(self) -> None:
        """Close the connection now."""
        self._cancel_timer()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def _head(self, data: bytes) -> None:
        if not self._buffer:
            data = data.lstrip(b"\r\n")  # stray line ends between requests
            if not data:
                return
            if self._forwarded:
                # The first byte of a kept-alive connection's next request: uvicorn's
                # keep-alive wait ends (an empty feed cancels it), the head's deadline runs.
                self._inner.data_received(b"")
                self._arm(self._limits.read_header_timeout)
        self._buffer += data
        match = HEAD_END.search(self._buffer)
        try:
            if match is None:
                check_partial(self._buffer)
                return
            head = parse_head(bytes(self._buffer[: match.end()]))
        except HeadError as error:
            self._refuse(Response.error(error.status, error.message), 0)
            return
        rest = bytes(self._buffer[match.end() :])
        self._buffer.clear()
        self._admit(head, rest)

    def _admit(self, head: Head, rest: bytes) -> None:
        access = self._settings.access
        denied = access.check(head.method, head) if access is not None else None
        declared = _declared_length(head)
        if denied is not None:
            error = Response.error(denied.status, denied.message)
            refusal = Response(error.status, error.body, error.content_type, denied.headers)
            self._refuse(refusal, declared)
            return
        try:
            length = head.content_length(self._limits.max_request_body_size)
        except HeadError as error:
            self._refuse(Response.error(error.status, error.message), declared)
            return
        self._forwarded += 1
        take = min(len(rest), length)
        self._body_left = length - take
        if self._body_left:
            self._phase = _Phase.BODY
            self._arm(self._limits.read_timeout)
        else:
            self._cancel_timer()
        self._inner.data_received(head.serialized(length) + rest[:take])
        if not self._body_left and rest[take:] and self._phase is _Phase.HEAD:
            self._head(rest[take:])

    def _body(self, data: bytes) -> None:
        take = min(len(data), self._body_left)
        self._body_left -= take
        if self._body_left == 0:
            self._phase = _Phase.HEAD
            self._cancel_timer()
        self._inner.data_received(data[:take])
        if take < len(data) and self._phase is _Phase.HEAD:
            self._head(data[take:])

    def _refuse(self, response: Response, declared: int) -> None:
        """Answer, shut the write side, swallow what follows (bounded), close."""
        transport = self._transport
        if transport is None or self._phase in (_Phase.DRAIN, _Phase.CLOSED):
            return
        transport.write(answer_bytes(response))
        self._drain(max(declared, 1 << 20), LINGER_SECONDS)

    def _drain(self, budget: int, seconds: float) -> None:
        """After an answer: the connection leaves the cap and lingers (bounded)."""
        transport = self._transport
        assert transport is not None
        self._phase = _Phase.DRAIN
        self._buffer.clear()
        self._settings.open.discard(self)
        if len(self._settings.refusing) >= LINGERING:
            self.close()
            return
        self._settings.refusing.add(self)
        self._swallow_left = min(budget, LINGER_BYTES)
        if transport.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                transport.write_eof()
        self._arm(seconds, expire=self.close)

    def _arm(self, seconds: float, expire: Any = None) -> None:
        self._cancel_timer()
        self._timer = self._loop.call_later(seconds, expire or self._expired)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        """A phase overran: 408 when a request had begun, else close quietly."""
        self._timer = None
        if self._phase is _Phase.BODY or self._buffer:
            self._refuse(Response.error(408, "request not received in time"), 0)
        elif self._phase is _Phase.HEAD:
            self.close()


def _declared_length(head: Head) -> int:
    """The body the client will send, for swallowing after a refusal (0 if unclear)."""
    values = head.values("Content-Length")
    if len(values) == 1 and values[0].strip().isdigit() and len(values[0].strip()) <= 19:
        return int(values[0].strip())
    return 0
