"""Send outcomes, retry settings and exponential backoff for exporters.

Modelled on the OpenTelemetry Collector's ``retry_on_failure``: the first retry waits
``initial_interval``, each next one ``multiplier`` times longer up to ``max_interval``,
each jittered by ``randomization_factor``; a server's own delay (``Retry-After`` or
gRPC ``RetryInfo``) wins when it is longer. No wait exceeds ``max_interval``: the jitter
range is cut at the cap (so waits at the cap still spread below it instead of piling up
on it). ``max_elapsed_time`` of 0 retries forever.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from mlspan.collector.pipeline.factory import ConfigError


class Outcome(enum.Enum):
    """What became of one send attempt."""

    SENT = "sent"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class SendResult:
    """The outcome of one attempt, with the server's requested delay and details."""

    outcome: Outcome
    message: str = ""
    retry_after: float | None = None
    rejected_spans: int = 0
    """Spans the server refused in a partial-success answer (the rest were taken)."""

    @classmethod
    def sent(cls, rejected_spans: int = 0, message: str = "") -> SendResult:
        """Delivered (possibly with a partial-success rejection)."""
        return cls(Outcome.SENT, message, None, rejected_spans)

    @classmethod
    def retryable(cls, message: str, retry_after: float | None = None) -> SendResult:
        """Failed in a way that may succeed later."""
        return cls(Outcome.RETRYABLE, message, retry_after)

    @classmethod
    def permanent(cls, message: str) -> SendResult:
        """Failed for good (bad request, unauthorised, ...)."""
        return cls(Outcome.PERMANENT, message)


@dataclass(frozen=True)
class RetryConfig:
    """``retry_on_failure``: exponential backoff for retryable send failures."""

    enabled: bool = True
    initial_interval: float = 5.0
    """Seconds before the first retry."""
    max_interval: float = 30.0
    """Longest wait between two attempts, in seconds."""
    max_elapsed_time: float = 300.0
    """Give up on a batch after this many seconds (0: never give up)."""
    multiplier: float = 1.5
    randomization_factor: float = 0.5
    """Each wait is drawn from ``interval * (1 ± randomization_factor)``, at most
    ``max_interval``."""

    def validate(self) -> None:
        """Check intervals and factors."""
        if self.initial_interval <= 0:
            raise ConfigError("initial_interval must be > 0")
        if self.max_interval < self.initial_interval:
            raise ConfigError("max_interval must be >= initial_interval")
        if self.max_elapsed_time < 0:
            raise ConfigError("max_elapsed_time must be >= 0")
        if self.multiplier < 1:
            raise ConfigError("multiplier must be >= 1")
        if not 0 <= self.randomization_factor < 1:
            raise ConfigError("randomization_factor must be in [0, 1)")


class Backoff:
    """The sequence of waits for one batch."""

    def __init__(self, config: RetryConfig, rng: random.Random | None = None) -> None:
        self._config = config
        self._interval = config.initial_interval
        self._rng = rng or random.Random()

    def next_wait(self, server_delay: float | None = None) -> float:
        """Seconds to wait before the next attempt, never more than ``max_interval``.

        The wait is uniform in ``[interval * (1 - factor), interval * (1 + factor)]`` with
        the upper end cut at ``max_interval``: clamping a draw instead would put up to
        half of all waits at exactly the cap and re-synchronise the retries that jitter
        is there to spread.
        """
        factor = self._config.randomization_factor
        cap = self._config.max_interval
        low = self._interval * (1 - factor)
        high = min(self._interval * (1 + factor), cap)
        wait = self._rng.uniform(low, high)
        self._interval = min(self._interval * self._config.multiplier, cap)
        if server_delay is not None:
            wait = max(wait, min(server_delay, cap))
        return wait
