"""The transport-independent half of the OTLP receiver: parse, check, hand over.

Both transports turn a request into OTLP protobuf bytes and call ``TraceIngest.ingest``,
which parses them once with the reduced ``FastSchema``, refuses spans with malformed ids
(an OTLP partial success: the rest is accepted), and passes the batch to the pipeline.
Every outcome is counted in ``IngestStats``; malformed input is logged, rate-limited.
The pipeline either takes the whole batch or raises ``QueueFullError`` before taking
any of it, so a retryable answer never loses what was acknowledged.

Request bytes are untrusted: any exception while parsing them is the request's fault
(MALFORMED), never an internal error. Messages that echo request content are made safe
to encode (``printable``) before they reach a response or a log.
"""

from __future__ import annotations

import enum
import logging
import threading
import traceback
from dataclasses import dataclass
from typing import Any, Final

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from mlspan.collector.pdata import FastSchema, QueueFullError, TraceBatch, TracesConsumer
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.ratelog import RateLimitedLog

logger = logging.getLogger(__name__)

_ZERO_TRACE: Final = bytes(16)
_ZERO_SPAN: Final = bytes(8)
MAX_MESSAGE: Final = 512
"""Longest message (characters) echoed to a client in an error or partial success."""


def printable(message: str) -> str:
    """``message`` cut to ``MAX_MESSAGE`` characters, with lone surrogates (which a JSON
    document can carry as ``\\ud800`` but UTF-8 cannot encode) escaped as ``\\udXXX``, so
    that writing it into a response or a log can never fail."""
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    return message.encode("utf-8", "backslashreplace").decode("utf-8")


def drop_tracebacks(exc: BaseException) -> None:
    """Detach the tracebacks of ``exc`` and of the exceptions it chains.

    A traceback holds the frames it passed through, and each frame its caller
    (``f_back``), up to the transport's handler and its gRPC call. Whoever keeps the
    exception afterwards (a pipeline stage, a buffering log handler) or a reference cycle
    through it would otherwise keep that call, and its HTTP/2 stream, alive.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        pending += [current.__cause__, current.__context__]


def fault_report(exc: BaseException) -> str:
    """The exception with its traceback, as text for a log; the tracebacks themselves
    are dropped (``drop_tracebacks``) so that no log handler can keep them."""
    text = "".join(traceback.format_exception(exc)).rstrip()
    drop_tracebacks(exc)
    return text


class Status(enum.Enum):
    """How a request ended; transports map it to HTTP statuses and gRPC codes."""

    OK = "ok"
    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    UNSUPPORTED_MEDIA = "unsupported_media"
    QUEUE_FULL = "queue_full"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"
    NOT_RECEIVED = "not_received"
    """gRPC: the call ended before its request arrived (over gRPC's own size limit, or
    cancelled by the client mid-upload; gRPC does not say which)."""


@dataclass(frozen=True)
class IngestResult:
    """The answer to one export request."""

    status: Status
    message: str = ""
    accepted_spans: int = 0
    rejected_spans: int = 0

    def response_bytes(self) -> bytes:
        """A serialized ``ExportTraceServiceResponse`` (partial success when spans were
        refused)."""
        response = trace_service_pb2.ExportTraceServiceResponse()
        if self.rejected_spans:
            response.partial_success.rejected_spans = self.rejected_spans
            response.partial_success.error_message = self.message
        return bytes(response.SerializeToString())


class TraceIngest:
    """Parses and forwards requests for one receiver; thread-safe."""

    def __init__(
        self,
        name: str,
        schema: FastSchema,
        consumer: TracesConsumer,
        stats: IngestStats,
        validate_ids: bool = True,
    ) -> None:
        self.name = name
        self._schema = schema
        self._consumer = consumer
        self._stats = stats
        self._validate_ids = validate_ids
        self._log = RateLimitedLog(logger)
        self._accepting = threading.Event()
        self._accepting.set()

    def stop_accepting(self) -> None:
        """Answer further requests with UNAVAILABLE (used while shutting down)."""
        self._accepting.clear()

    def reject(self, status: Status, message: str) -> IngestResult:
        """Count and log (rate-limited) a refused request."""
        message = printable(message)
        self._stats.request_rejected(self.name, status.value)
        self._log.warning(
            status.value,
            "receiver %s: refused request (%s): %s",
            self.name,
            status.value,
            message,
        )
        return IngestResult(status, message)

    def ingest(self, raw: bytes) -> IngestResult:
        """Parse ``raw`` (OTLP protobuf) and pass it on."""
        if not self._accepting.is_set():
            self._stats.request_rejected(self.name, Status.UNAVAILABLE.value)
            return IngestResult(Status.UNAVAILABLE, "collector is shutting down")
        try:
            batch = TraceBatch.from_bytes(self._schema, raw)
        except Exception as exc:  # untrusted bytes: every parse failure is the request's
            return self.reject(Status.MALFORMED, _parse_failure(exc))
        rejected = 0
        message = ""
        if self._validate_ids and batch.span_count:
            bad = _count_bad_ids(batch)
            if bad:
                try:
                    batch, rejected = _without_bad_ids(self._schema, raw)
                except Exception as exc:  # as above: the request's fault
                    return self.reject(Status.MALFORMED, _parse_failure(exc))
                message = f"{rejected} spans with malformed trace or span ids were refused"
                self._stats.spans_dropped("invalid_id", rejected)
                self._log.warning("invalid_id", "receiver %s: %s", self.name, message)
        if batch.span_count:
            try:
                self._consumer.consume(batch)
            except QueueFullError as exc:
                drop_tracebacks(exc)  # a stage may keep it, or be in a cycle with it
                self._stats.request_rejected(self.name, Status.QUEUE_FULL.value)
                self._log.warning("queue_full", "receiver %s: %s", self.name, exc)
                return IngestResult(Status.QUEUE_FULL, printable(str(exc)) or "queue full")
            self._stats.spans_received(self.name, batch.span_count)
        return IngestResult(Status.OK, message, batch.span_count, rejected)


def _parse_failure(exc: Exception) -> str:
    if isinstance(exc, (DecodeError, RecursionError, ValueError)):
        return f"cannot parse request: {exc}"
    return f"cannot parse request: {type(exc).__name__}: {exc}"


def _count_bad_ids(batch: TraceBatch) -> int:
    return sum(
        1
        for resource in batch.view.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
        if not _valid(span)
    )


def _valid(span: Any) -> bool:
    """OTLP ids: a 16-byte trace id and an 8-byte span id, neither all zero."""
    trace_id = span.trace_id
    span_id = span.span_id
    return (
        len(trace_id) == 16
        and len(span_id) == 8
        and trace_id != _ZERO_TRACE
        and span_id != _ZERO_SPAN
    )


def _without_bad_ids(schema: FastSchema, raw: bytes) -> tuple[TraceBatch, int]:
    """Rebuild the request without the refused spans (rare path: full parse)."""
    request = trace_service_pb2.ExportTraceServiceRequest()
    request.ParseFromString(raw)
    rejected = 0
    for resource in request.resource_spans:
        for scope in resource.scope_spans:
            keep = [span for span in scope.spans if _valid(span)]
            rejected += len(scope.spans) - len(keep)
            del scope.spans[:]
            scope.spans.extend(keep)
    return TraceBatch.from_bytes(schema, request.SerializeToString()), rejected
