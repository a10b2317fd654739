"""Deadlines for the phases of an HTTP request, and a reader that enforces them.

A socket timeout bounds each ``recv``, so a client sending one byte every few seconds
never trips it (slowloris). A deadline bounds a whole phase instead: ``DeadlineReader``
checks it before each read and waits at most until it.
"""

from __future__ import annotations

import io
import math
import socket
import time
from typing import Any, Final, Protocol

from mlspan.collector.pipeline.factory import ConfigError

TIMEOUT_NAMES: Final = ("read_header_timeout", "read_timeout", "write_timeout", "idle_timeout")
MAX_TIMEOUT_SECONDS: Final = 3600.0


class PhaseTimeouts(Protocol):
    """Seconds each phase of a request may take (the config sections that carry them:
    ``api.limits``, ``receivers.otlp.protocols.http``)."""

    @property
    def read_header_timeout(self) -> float:
        """From a connection's start, or a request's first byte, to the end of the headers."""

    @property
    def read_timeout(self) -> float:
        """To receive a request body once the headers are in."""

    @property
    def write_timeout(self) -> float:
        """To send one response."""

    @property
    def idle_timeout(self) -> float:
        """A keep-alive connection's wait for its next request."""


def validate_timeouts(timeouts: PhaseTimeouts) -> None:
    """Every phase timeout in (0, 3600] seconds; raises ``ConfigError`` naming the key."""
    for name in TIMEOUT_NAMES:
        value = getattr(timeouts, name)
        if not 0 < value <= MAX_TIMEOUT_SECONDS:
            raise ConfigError(f"{name} must be in (0, 3600] seconds")


class DeadlineReader(io.RawIOBase):
    """Raw reads from a socket that fail with ``TimeoutError`` once ``deadline`` passed."""

    def __init__(self, connection: socket.socket) -> None:
        super().__init__()
        self._connection = connection
        self.deadline = math.inf
        """``time.monotonic()`` value after which reads fail."""

    def readable(self) -> bool:
        """Always: this is the read side of the connection."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Read what is there, waiting at most until the deadline."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        self._connection.settimeout(remaining)
        return self._connection.recv_into(buffer)

    def expire_in(self, seconds: float) -> None:
        """Set the deadline ``seconds`` from now."""
        self.deadline = time.monotonic() + seconds
