"""Rate-limited logging of rejected feature summaries.

A client sending corrupt summaries in every span must not flood the log: the first
rejection is logged at once, later ones at most once per ``interval`` seconds as one
line with how many were rejected since and the latest reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__package__)

DEFAULT_INTERVAL = 60.0


class RejectionLog:
    """Counts rejected summaries and logs them at most once per ``interval`` seconds."""

    def __init__(
        self, interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._next = float("-inf")
        self._pending = 0
        self.logged = 0
        """Log lines written so far."""

    def record(self, reason: str, span_id: str) -> None:
        """Note one rejected summary of span ``span_id``; log if the interval has passed."""
        self._pending += 1
        now = self._clock()
        if now < self._next:
            return
        logger.warning(
            "rejected %d bad feature summar%s (latest in span %s: %s); the spans' other "
            "data is kept",
            self._pending,
            "y" if self._pending == 1 else "ies",
            span_id,
            reason,
        )
        self._pending = 0
        self._next = now + self._interval
        self.logged += 1
