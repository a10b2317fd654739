"""Rate-limited logging, so a flood of bad requests cannot flood the log."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final

DEFAULT_INTERVAL: Final = 10.0


class RateLimitedLog:
    """Logs at most one message per key per ``interval`` seconds.

    The next message logged for a key says how many were suppressed in between.
    """

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def log(self, level: int, key: str, message: str, *args: object) -> bool:
        """Log unless ``key`` was logged less than ``interval`` ago; True if logged."""
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False
            self._last[key] = now
            suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            message = f"{message} ({suppressed} similar messages suppressed)"
        self._logger.log(level, message, *args)
        return True

    def warning(self, key: str, message: str, *args: object) -> bool:
        """``log`` at WARNING."""
        return self.log(logging.WARNING, key, message, *args)

    def error(self, key: str, message: str, *args: object) -> bool:
        """``log`` at ERROR."""
        return self.log(logging.ERROR, key, message, *args)
