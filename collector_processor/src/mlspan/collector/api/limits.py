"""``api.limits``: the bounds that keep one client from holding the query API.

The API caps how many connections are served at once and how long each phase of a
request may take (``api.gate``); a client trickling
its request one byte at a time (slowloris) is cut when the phase's deadline passes,
however steadily it sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mlspan.collector.httpserve.deadlines import validate_timeouts
from mlspan.collector.pipeline.factory import ConfigError

MIB: Final = 1 << 20
DEFAULT_MAX_BODY_BYTES: Final = MIB


@dataclass(frozen=True)
class ApiLimits:
    """Connection cap, listen backlog, per-phase deadlines and the request body cap."""

    max_connections: int = 64
    """Connections served at once; one more is answered 503 with ``Retry-After`` and
    closed before its request is read."""
    backlog: int = 1024
    """Listen backlog: connections the kernel queues before the server accepts them
    (Linux caps it at ``net.core.somaxconn``), so bursts are queued, not refused."""
    read_header_timeout: float = 10.0
    """Seconds from a connection's start, or a request's first byte, to the end of the
    request line and headers."""
    read_timeout: float = 30.0
    """Seconds to receive a request body once the headers are in."""
    write_timeout: float = 30.0
    """Seconds to send one response."""
    idle_timeout: float = 15.0
    """Seconds a keep-alive connection may wait for its next request."""
    max_request_body_size: int = DEFAULT_MAX_BODY_BYTES
    """Largest request body in bytes; a larger ``Content-Length`` gets 413 before the
    body is read."""

    def validate(self) -> None:
        """Check every bound."""
        if not 1 <= self.max_connections <= 4096:
            raise ConfigError("max_connections must be in [1, 4096]")
        if not 1 <= self.backlog <= 65535:
            raise ConfigError("backlog must be in [1, 65535]")
        validate_timeouts(self)
        if not 1024 <= self.max_request_body_size <= 64 * MIB:
            raise ConfigError("max_request_body_size must be in [1024, 67108864]")
