"""A bounded shutdown for OTLP span exports: interpreter exit never waits long for a dead
or silent endpoint.

At exit the SDK's ``TracerProvider`` shuts its ``BatchSpanProcessor`` down, which joins
the export thread for up to 30 s before it tells the exporter to stop; meanwhile the OTLP
exporter retries each batch with exponential backoff (1, 2, 4, 8 s) within a 10 s
deadline, and a blackhole endpoint (TCP accepted, never answered) holds each attempt for
the whole deadline. A program whose collector is down therefore took 30 s longer to exit.

``OtlpBudgetInstrumentor`` wraps ``BatchSpanProcessor.shutdown`` (the public method, on
the class) and hands processors whose exporter is an OTLP span exporter to
``ShutdownBudget.shutdown``. That opens a window of ``shutdown_timeout_seconds``
(default 2 s; the first window is shorter by the grace period below, so a dead endpoint
costs the exit at most ``shutdown_timeout_seconds`` in all): while requests are
delivered, each window is followed by another (a
healthy endpoint drains the whole queue; progress is counted per request, so a batch
split into many requests counts as it goes, and a request still in flight to an
endpoint that delivered before is waited for); once a window ends with no request
delivered, or with the last request failed, the exporter is given up: its own
``shutdown()`` is called (which cancels an in-flight gRPC call and interrupts a retry
wait), every batch still handed to it is counted and not sent, and the processor's
shutdown is waited for at most a short grace period more (an HTTP request in flight
cannot be cancelled; the export thread is a daemon thread and ends with the
interpreter). Spans that could not be sent during the whole run are then reported in one
WARNING line naming the endpoint and the option.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from mlspan.instrumentation.options import ENV_PREFIX

_logger = logging.getLogger(__name__)

GRACE_SECONDS: Final = 0.5
"""After giving up, how long the processor's shutdown may still take before it is left
to end with the interpreter (at most a quarter of the timeout)."""


def grace_for(timeout: float) -> float:
    """The grace period after giving up: taken out of the first window, so the whole
    shutdown for an endpoint that never answers stays within ``timeout``."""
    return min(GRACE_SECONDS, timeout / 4)


Progress = Callable[[], tuple[int, bool]]
"""Spans delivered so far, and whether the last request failed."""


@dataclass
class _Window:
    """Shutdown of one processor: what had been delivered when the current window opened."""

    timeout: float
    progress: Progress
    delivered_before: int = 0
    given_up: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.delivered_before = self.progress()[0]

    def goes_on(self, in_flight: int) -> bool:
        """Whether the next window opens: requests were delivered in this one and the
        last did not fail, or a batch is in flight to an endpoint whose last answered
        request was delivered (a slow request to a live endpoint; it ends within the
        exporter's own timeout, and a failure then ends shutdown at the next window)."""
        delivered, last_failed = self.progress()
        moved = delivered > self.delivered_before
        self.delivered_before = delivered
        if last_failed:
            return False
        return moved or (in_flight > 0 and delivered > 0)


class ShutdownBudget:
    """Per-exporter shutdown windows; thread-safe, held by ``OtlpBudgetInstrumentor``."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.unsent = 0
        """Spans handed to a given-up exporter, never sent."""
        self.gave_up = 0
        """Exporters given up at shutdown."""
        self.in_flight = 0
        """Spans in batches being exported right now."""
        self._lock = threading.Lock()
        self._windows: weakref.WeakKeyDictionary[Any, _Window] = weakref.WeakKeyDictionary()
        self._stopped: weakref.WeakSet[Any] = weakref.WeakSet()

    def is_given_up(self, exporter: Any) -> bool:
        """True once ``exporter`` was given up: its batches are counted, not sent."""
        window = self._window(exporter)
        return window is not None and window.given_up.is_set()

    def count_unsent(self, spans: int) -> None:
        """Spans not sent because their exporter was given up."""
        with self._lock:
            self.unsent += spans

    def begin(self, spans: int) -> None:
        """A batch of ``spans`` goes to an exporter (``end`` follows)."""
        with self._lock:
            self.in_flight += spans

    def end(self, spans: int) -> None:
        """The batch given to ``begin`` came back (or raised)."""
        with self._lock:
            self.in_flight -= spans

    def stop_once(self, exporter: Any) -> bool:
        """True the first time ``exporter`` is stopped (its ``shutdown`` should run)."""
        with self._lock:
            if exporter in self._stopped:
                return False
            self._stopped.add(exporter)
            return True

    def first_shutdown(self, exporter: Any) -> bool:
        """True unless ``exporter``'s processor was shut down before (a no-op then)."""
        with self._lock:
            return exporter not in self._windows

    def shutdown(
        self,
        exporter: Any,
        run: Callable[[], object],
        stop: Callable[[], object],
        progress: Progress,
    ) -> bool:
        """Run the processor's shutdown ``run`` within the budget; False if it was left
        running. ``stop`` shuts the exporter down (interrupting its retries);
        ``progress`` tells whether requests are being delivered."""
        window = _Window(self.timeout, progress)
        with self._lock:
            self._windows[exporter] = window
        done = threading.Event()

        def run_then_signal() -> None:
            try:
                run()
            except Exception:
                _logger.warning("mlspan: span processor shutdown failed", exc_info=True)
            finally:
                done.set()

        try:
            threading.Thread(target=self._watch, args=(window, stop), daemon=True).start()
            threading.Thread(target=run_then_signal, daemon=True).start()
        except RuntimeError:  # no new threads at this stage of interpreter exit
            run_then_signal()
        while not done.wait(0.05):
            if window.given_up.is_set():
                if done.wait(grace_for(self.timeout)):
                    break
                window.finished.set()
                return False
        window.finished.set()
        return True

    def _watch(self, window: _Window, stop: Callable[[], object]) -> None:
        """Give the exporter up at the end of the first window without progress."""
        wait = window.timeout - grace_for(window.timeout)
        while not window.finished.wait(wait):
            wait = window.timeout
            with self._lock:
                in_flight = self.in_flight
            if window.goes_on(in_flight):
                continue
            window.given_up.set()
            with self._lock:
                self.gave_up += 1
            try:
                stop()
            except Exception:
                _logger.debug("mlspan: exporter shutdown failed", exc_info=True)
            return

    def _window(self, exporter: Any) -> _Window | None:
        with self._lock:
            return self._windows.get(exporter)


@dataclass(frozen=True)
class Unsent:
    """Spans handed to OTLP exporters since ``instrument()``, by fate."""

    exported: int
    failed: int
    dropped: int
    unsent: int

    @property
    def missing(self) -> int:
        """Spans that did not reach the endpoint."""
        return self.failed + self.dropped + self.unsent


def report_unsent(
    endpoint: str, counts: Unsent, timeout: float, gave_up: bool, left_running: bool
) -> None:
    """Log the one WARNING line about spans that could not be sent (nothing if none).

    The option is named when shutdown gave the endpoint up: waiting longer could have
    sent more. Spans that failed earlier in the run are counted too (the exporter's own
    errors were logged as they happened).
    """
    missing = counts.missing
    if missing == 0 and not gave_up:
        return
    parts = []
    if counts.failed:
        parts.append(f"{counts.failed} failed")
    if counts.unsent:
        parts.append(f"{counts.unsent} given up at shutdown")
    if counts.dropped:
        parts.append(f"{counts.dropped} too large")
    if left_running:
        parts.append("the rest of the queue unsent")
    advice = (
        f"; shutdown waits {timeout:.1f} s for an endpoint that delivers nothing): set "
        f"{ENV_PREFIX}SHUTDOWN_TIMEOUT_SECONDS (option shutdown_timeout_seconds) to wait longer"
        if gave_up
        else ")"
    )
    _logger.warning(
        "mlspan could not send %s%d of %d span(s) to %s (%s%s",
        "at least " if left_running else "",
        missing,
        missing + counts.exported,
        endpoint,
        ", ".join(parts) or "none sent",
        advice,
    )
