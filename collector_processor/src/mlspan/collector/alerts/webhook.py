"""Webhook delivery of alert transitions: bounded queues, a worker each, backoff.

``WebhookNotifier.notify`` only enqueues, so the drift engine and ingest never wait for
a receiver. Each receiver has its own bounded queue and worker thread (a slow receiver
cannot delay another). A delivery is retried on connection errors, timeouts, 5xx, 408
and 429 with the exporters' exponential backoff (``retry_on_failure``; a longer
``Retry-After`` wins) until ``max_elapsed_time``; other 4xx answers are permanent.
Notifications given up on, or refused by a full queue, are counted per receiver and
exported as ``mlspan_alert_notifications_failed_total{receiver}``.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Final

from mlspan.collector.alerts.config import WebhookConfig
from mlspan.collector.alerts.model import Alert, webhook_payload
from mlspan.collector.exporters.retry import Backoff

logger = logging.getLogger(__name__)

_RETRYABLE_STATUSES: Final = frozenset({408, 425, 429})
_STOP: Final = object()


class DeliveryError(Exception):
    """A delivery attempt failed; ``retryable`` says whether another attempt may help."""

    def __init__(self, message: str, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


def post_json(url: str, body: dict[str, Any], timeout: float) -> int:
    """POST ``body`` as JSON; return the status or raise ``DeliveryError``."""
    data = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        with exc:  # closes the error response's socket
            retryable = exc.code >= 500 or exc.code in _RETRYABLE_STATUSES
            retry_after = _seconds(exc.headers.get("Retry-After")) if exc.headers else None
        raise DeliveryError(f"HTTP {exc.code}", retryable, retry_after) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DeliveryError(str(getattr(exc, "reason", exc)), retryable=True) from None
    return status


class _Receiver:
    """One webhook: its queue, its worker and its failure count."""

    def __init__(
        self, config: WebhookConfig, external_url: str, on_failure: Callable[[str], None]
    ) -> None:
        self.config = config
        self.external_url = external_url
        self.on_failure = on_failure
        self.queue: queue.Queue[object] = queue.Queue(maxsize=config.queue_size)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"webhook-{config.name}", daemon=True)

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            try:
                if item is _STOP:
                    return
                assert isinstance(item, list)
                self._deliver(item)
            except Exception:
                # The worker must outlive any one notification.
                logger.exception("webhook %s: delivery failed", self.config.name)
                self.on_failure(self.config.name)
            finally:
                self.queue.task_done()

    def _deliver(self, alerts: list[Alert]) -> None:
        config = self.config
        retry = config.retry_on_failure
        if self.stopping.is_set():
            self.on_failure(config.name)
            return
        body = webhook_payload(config.name, alerts, self.external_url, config.max_alerts)
        backoff = Backoff(retry)
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                post_json(config.url, body, config.timeout_seconds)
                return
            except DeliveryError as exc:
                wait = backoff.next_wait(exc.retry_after)
                elapsed = time.monotonic() - started + wait
                give_up = (
                    not exc.retryable
                    or not retry.enabled
                    or (retry.max_elapsed_time > 0 and elapsed > retry.max_elapsed_time)
                )
                logger.warning(
                    "webhook %s: attempt %d failed: %s%s",
                    config.name,
                    attempt,
                    exc,
                    "; giving up" if give_up else f"; retrying in {wait:.2g} s",
                )
                if give_up or self.stopping.wait(wait):
                    break
        self.on_failure(config.name)


def _seconds(header: str | None) -> float | None:
    """A ``Retry-After`` given in seconds (the HTTP-date form is ignored)."""
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None


class WebhookNotifier:
    """Fans alert transitions out to every configured webhook without blocking."""

    def __init__(self, webhooks: Sequence[WebhookConfig], external_url: str = "") -> None:
        self._lock = threading.Lock()
        self._failures: Counter[str] = Counter({w.name: 0 for w in webhooks})
        self._receivers = [_Receiver(w, external_url, self._count_failure) for w in webhooks]
        self._started = False
        self._stopped = False

    def start(self) -> None:
        """Start one worker per webhook; idempotent."""
        with self._lock:
            if self._started or self._stopped:
                return
            self._started = True
        for receiver in self._receivers:
            receiver.thread.start()

    def notify(self, alerts: Sequence[Alert]) -> None:
        """Queue one notification of ``alerts`` per webhook; never blocks."""
        if not alerts:
            return
        for receiver in self._receivers:
            try:
                receiver.queue.put_nowait(list(alerts))
            except queue.Full:
                logger.warning("webhook %s: queue full, notification dropped", receiver.config.name)
                self._count_failure(receiver.config.name)

    def failures(self) -> dict[str, int]:
        """Notifications given up on (or refused by a full queue), by receiver."""
        with self._lock:
            return dict(self._failures)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Deliver what is queued within ``timeout`` seconds, then stop; idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            started = self._started
        if not started:
            return
        for receiver in self._receivers:
            try:
                receiver.queue.put(_STOP, timeout=timeout)
            except queue.Full:
                receiver.stopping.set()
        for receiver in self._receivers:
            receiver.thread.join(timeout)
            if receiver.thread.is_alive():
                receiver.stopping.set()
                receiver.thread.join(timeout)

    def _count_failure(self, name: str) -> None:
        with self._lock:
            self._failures[name] += 1
