"""The ``debug`` exporter: logs batches (``basic``), spans (``normal``) or every
attribute and event (``detailed``) through the ``logging`` module.

Logging runs on the shared queue-and-retry engine's worker thread, so a slow log
handler never blocks a receiver; when the small queue fills up, batches are refused
like with any other exporter.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from mlspan.collector.exporters.queued import QueuedExporter
from mlspan.collector.exporters.retry import RetryConfig, SendResult
from mlspan.collector.pdata import FastSchema, TraceBatch, TracesConsumer, plain_attributes
from mlspan.collector.pipeline.factory import ConfigError, Factory, Host, Kind
from mlspan.collector.queue import MemoryQueue

logger = logging.getLogger(__name__)


class Verbosity(str, enum.Enum):
    """How much the debug exporter logs."""

    BASIC = "basic"
    NORMAL = "normal"
    DETAILED = "detailed"


@dataclass(frozen=True)
class DebugExporterConfig:
    """``exporters.debug``."""

    verbosity: Verbosity = Verbosity.BASIC
    queue_size: int = 100
    """Batches waiting to be logged."""

    def validate(self) -> None:
        """Check the queue size."""
        if self.queue_size < 1:
            raise ConfigError("queue_size must be >= 1")


class LogSender:
    """A ``Sender`` that writes spans to a logger."""

    def __init__(self, verbosity: Verbosity, schema: FastSchema, log: logging.Logger) -> None:
        self._verbosity = verbosity
        self._schema = schema
        self._log = log

    def send(self, raw: bytes, span_count: int, timeout: float) -> SendResult:
        """Log one batch."""
        self._log.info("traces: %d spans, %d bytes", span_count, len(raw))
        if self._verbosity is Verbosity.BASIC:
            return SendResult.sent()
        for ref in TraceBatch.from_bytes(self._schema, raw).spans():
            span = ref.span
            self._log.info(
                "span %s/%s parent=%s service=%s name=%r duration_ms=%.3f",
                ref.trace_id,
                ref.span_id,
                ref.parent_span_id or "-",
                ref.service,
                span.name,
                (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6,
            )
            if self._verbosity is Verbosity.DETAILED:
                self._log.info("  attributes %s", plain_attributes(span.attributes))
                for event in span.events:
                    self._log.info("  event %r %s", event.name, plain_attributes(event.attributes))
        return SendResult.sent()

    def close(self) -> None:
        """Nothing to release."""


def create_debug_exporter(
    config: DebugExporterConfig, host: Host, next_consumer: TracesConsumer | None
) -> QueuedExporter:
    """A debug exporter logging through this module's logger."""
    return QueuedExporter(
        name=host.component_id or "debug",
        queue=MemoryQueue(config.queue_size),
        sender=LogSender(config.verbosity, FastSchema.build(), logger),
        stats=host.stats,
        retry=RetryConfig(enabled=False),
        shutdown_timeout=5.0,
    )


def debug_exporter_factory() -> Factory[DebugExporterConfig]:
    """The ``debug`` exporter factory."""
    return Factory(Kind.EXPORTER, "debug", DebugExporterConfig, create_debug_exporter)
