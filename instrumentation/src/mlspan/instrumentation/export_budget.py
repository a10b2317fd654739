"""OTLP span exports that never send a request above a byte budget.

Usage::

    from mlspan.instrumentation.export_budget import OtlpBudgetInstrumentor

    OtlpBudgetInstrumentor().instrument(max_request_bytes=4 * 1024 * 1024)
    ...
    OtlpBudgetInstrumentor().stats.exported  # spans delivered so far

or with no code change: ``opentelemetry-instrument python train.py`` (entry point
``mlspan_otlp``; ``mlspan.instrumentation.instrument()`` and ``configure()`` apply it too).

The SDK's ``BatchSpanProcessor`` batches by span count (512); with feature summaries a
batch of ``fit`` spans encodes to tens of MB, and a receiver with the common 4 MiB gRPC
limit refuses the whole request, which the exporter only logs. Under
``opentelemetry-instrument`` the provider, processor and exporter exist before any
instrumentor runs, so the budget is applied where every batch passes: the public
``export(spans)`` method of the OTLP span exporter classes (gRPC and HTTP) is wrapped
with ``wrapt``, on the class, lazily when their module is imported. The wrapper splits
a batch into requests whose encoded size is at most ``max_request_bytes`` (an upper
bound, ``otlp_size``, far cheaper than encoding) and exports each; the result is a
failure if any request failed. After two failed requests in a row the rest of the batch
is not sent (the destination is down; each attempt already waited out the exporter's
own retries) and counted as failed. A span larger than the budget on its own cannot be
sent: it is dropped, counted, and logged once at WARNING naming the option.
``BatchSpanProcessor.shutdown`` and the exporters' ``shutdown`` are wrapped too, so that
exit waits at most ``shutdown_timeout_seconds`` for an endpoint that delivers nothing
(``export_shutdown``). ``uninstrument()`` puts the original methods back exactly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.sdk.trace.export import SpanExportResult

from mlspan.instrumentation.export_shutdown import ShutdownBudget, Unsent, report_unsent
from mlspan.instrumentation.options import ENV_PREFIX, InstrumentationOptions
from mlspan.instrumentation.otlp_size import resource_group_bytes, scope_group_bytes, span_bytes
from mlspan.instrumentation.patching import ImportHooks, Patcher

_logger = logging.getLogger(__name__)

EXPORTER_MODULES: Final = (
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
)
"""Modules whose ``OTLPSpanExporter.export`` (and ``shutdown``) is wrapped."""
PROCESSOR_MODULE: Final = "opentelemetry.sdk.trace.export"
"""Module whose ``BatchSpanProcessor.shutdown`` is wrapped."""
_MAX_FAILURES_IN_A_ROW: Final = 2


@dataclass
class ExportStats:
    """What the budget did since ``instrument()``; read the counters, they are thread-safe."""

    max_request_bytes: int
    batches: int = 0
    """Batches the span processor handed to an OTLP exporter."""
    requests: int = 0
    """Requests sent (more than batches when batches were split)."""
    exported: int = 0
    """Spans in requests the exporter reported as delivered."""
    failed: int = 0
    """Spans in requests that failed, or were not sent after failures in a row."""
    dropped: int = 0
    """Spans larger than ``max_request_bytes`` on their own: never sent."""
    largest_request_bytes: int = 0
    """The largest size bound of a request sent."""
    largest_dropped_bytes: int = 0
    """The size bound of the largest dropped span."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _warned: bool = field(default=False, repr=False)
    _last_failed: bool = field(default=False, repr=False)

    def count_batch(self) -> None:
        """One batch arrived at an exporter."""
        with self._lock:
            self.batches += 1

    def count_request(self, spans: int, size: int, delivered: bool) -> None:
        """One request of ``spans`` spans and at most ``size`` bytes was sent."""
        with self._lock:
            self.requests += 1
            self.largest_request_bytes = max(self.largest_request_bytes, size)
            self._last_failed = not delivered
            if delivered:
                self.exported += spans
            else:
                self.failed += spans

    def count_unsent(self, spans: int) -> None:
        """Spans given up after failures in a row."""
        with self._lock:
            self.failed += spans

    def progress(self) -> tuple[int, bool]:
        """``(exported, last request failed)``: how shutdown tells delivery goes on."""
        with self._lock:
            return self.exported, self._last_failed

    def totals(self) -> tuple[int, int, int]:
        """``(exported, failed, dropped)`` read together."""
        with self._lock:
            return self.exported, self.failed, self.dropped

    def count_dropped(self, sizes: Sequence[int]) -> bool:
        """Spans too large to send; True the first time (the caller then warns)."""
        with self._lock:
            self.dropped += len(sizes)
            self.largest_dropped_bytes = max(self.largest_dropped_bytes, *sizes)
            first, self._warned = not self._warned, True
            return first


@dataclass(frozen=True)
class RequestPlan:
    """A batch split into requests within the budget, and the spans too large for any."""

    requests: list[list[Any]]
    sizes: list[int]
    oversized: list[Any]
    oversized_sizes: list[int]


def plan_requests(spans: Sequence[Any], max_request_bytes: int) -> RequestPlan:
    """Split ``spans`` (SDK ``ReadableSpan``s, in order) into requests whose encoded size is
    at most ``max_request_bytes``; a span that exceeds it alone goes to ``oversized``.

    A request's size bound is the sum of its spans' bounds plus, for each distinct
    resource and instrumentation scope in it, the wrapper messages the encoder adds.
    """
    resources: dict[int, int] = {}
    scopes: dict[tuple[int, int], int] = {}
    plan = RequestPlan([], [], [], [])
    current: list[Any] = []
    used = 0
    seen_resources: set[int] = set()
    seen_scopes: set[tuple[int, int]] = set()
    for span in spans:
        resource = span.resource
        resource_key = id(resource)
        scope_key = (resource_key, id(span.instrumentation_scope))
        if resource_key not in resources:
            resources[resource_key] = resource_group_bytes(resource)
        if scope_key not in scopes:
            scopes[scope_key] = scope_group_bytes(span.instrumentation_scope)
        size = span_bytes(span)
        alone = size + resources[resource_key] + scopes[scope_key]
        if alone > max_request_bytes:
            plan.oversized.append(span)
            plan.oversized_sizes.append(alone)
            continue
        extra = size
        extra += 0 if resource_key in seen_resources else resources[resource_key]
        extra += 0 if scope_key in seen_scopes else scopes[scope_key]
        if current and used + extra > max_request_bytes:
            plan.requests.append(current)
            plan.sizes.append(used)
            current, used = [], 0
            seen_resources, seen_scopes = set(), set()
            extra = alone
        current.append(span)
        used += extra
        seen_resources.add(resource_key)
        seen_scopes.add(scope_key)
    if current:
        plan.requests.append(current)
        plan.sizes.append(used)
    return plan


class OtlpBudgetInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Keeps every OTLP span export request within ``max_request_bytes``."""

    _hooks: ImportHooks | None = None
    _patcher: Patcher | None = None
    _stats: ExportStats | None = None
    _budget: ShutdownBudget | None = None
    _exporter_classes: tuple[type, ...] = ()

    def instrumentation_dependencies(self) -> Collection[str]:
        """None: the exporters are patched only if (and when) they are imported."""
        return ()

    @property
    def stats(self) -> ExportStats:
        """The counters of the current (or last) instrumentation."""
        if self._stats is None:
            self._stats = ExportStats(InstrumentationOptions().max_request_bytes)
        return self._stats

    def _instrument(self, **kwargs: Any) -> None:
        options = InstrumentationOptions.resolve(kwargs)
        self._stats = ExportStats(options.max_request_bytes)
        self._budget = ShutdownBudget(options.shutdown_timeout_seconds)
        self._exporter_classes = ()
        self._patcher = Patcher()
        if self._hooks is None:
            self._hooks = ImportHooks((*EXPORTER_MODULES, PROCESSOR_MODULE), self._patch_module)
        self._hooks.activate()

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._hooks is not None:
            self._hooks.deactivate()
        if self._patcher is not None:
            self._patcher.restore_all()
        self._patcher = None
        self._budget = None

    def _patch_module(self, module: ModuleType) -> None:
        patcher = self._patcher
        if patcher is None:
            return
        if module.__name__ == PROCESSOR_MODULE:
            processor = getattr(module, "BatchSpanProcessor", None)
            if isinstance(processor, type):
                patcher.wrap_attribute(processor, "shutdown", self._shutdown_processor)
            return
        exporter = getattr(module, "OTLPSpanExporter", None)
        if isinstance(exporter, type):
            patcher.wrap_attribute(exporter, "export", self._export)
            patcher.wrap_attribute(exporter, "shutdown", self._shutdown_exporter)
            self._exporter_classes = (*self._exporter_classes, exporter)

    def _shutdown_processor(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Shut a ``BatchSpanProcessor`` down within the budget when it exports over OTLP."""
        budget, stats = self._budget, self._stats
        exporter: Any = getattr(instance, "span_exporter", None)
        if (
            budget is None
            or stats is None
            or not self._exporter_classes
            or not isinstance(exporter, self._exporter_classes)
            or not budget.first_shutdown(exporter)
        ):
            return wrapped(*args, **kwargs)
        finished = budget.shutdown(
            exporter,
            lambda: wrapped(*args, **kwargs),
            instance.span_exporter.shutdown,
            stats.progress,
        )
        try:
            endpoint = str(getattr(exporter, "_endpoint", None) or type(exporter).__name__)
            unsent = budget.unsent + (0 if finished else budget.in_flight)
            counts = Unsent(*stats.totals(), unsent=unsent)
            report_unsent(
                endpoint,
                counts,
                budget.timeout,
                gave_up=budget.is_given_up(exporter),
                left_running=not finished,
            )
        except Exception:
            _logger.debug("mlspan could not report unsent spans", exc_info=True)
        return None

    def _shutdown_exporter(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """The first ``shutdown`` runs; a second (the processor's, after the budget gave
        the exporter up) is a quiet no-op instead of the SDK's "already shutdown" warning."""
        budget = self._budget
        if budget is None or budget.stop_once(instance):
            return wrapped(*args, **kwargs)
        return None

    def _export(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        stats, budget = self._stats, self._budget
        spans = args[0] if args else kwargs.get("spans")
        if stats is None or budget is None or not spans or len(args) + len(kwargs) != 1:
            return wrapped(*args, **kwargs)
        if budget.is_given_up(instance):
            budget.count_unsent(len(spans))
            return SpanExportResult.FAILURE
        budget.begin(len(spans))
        try:
            return self._export_batch(wrapped, stats, spans, args, kwargs)
        except Exception:
            if not budget.is_given_up(instance):
                raise
            stats.count_unsent(len(spans))  # the exporter was stopped under this call
            return SpanExportResult.FAILURE
        finally:
            budget.end(len(spans))

    def _export_batch(
        self,
        wrapped: Any,
        stats: ExportStats,
        spans: Sequence[Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        try:
            plan = plan_requests(spans, stats.max_request_bytes)
        except Exception:
            _logger.warning("mlspan could not size an OTLP export batch", exc_info=True)
            return wrapped(*args, **kwargs)
        stats.count_batch()
        if plan.oversized:
            self._drop(stats, plan)
        if len(plan.requests) == 1 and not plan.oversized:
            result = wrapped(*args, **kwargs)
            stats.count_request(len(spans), plan.sizes[0], result is SpanExportResult.SUCCESS)
            return result
        return _send(wrapped, plan, stats)

    @staticmethod
    def _drop(stats: ExportStats, plan: RequestPlan) -> None:
        if stats.count_dropped(plan.oversized_sizes):
            _logger.warning(
                "mlspan dropped %d span(s) larger than the OTLP request budget of %d bytes "
                "(largest about %d bytes): set %sMAX_REQUEST_BYTES (option "
                "max_request_bytes) above it, and the receiver's limit with it, to send "
                "such spans. Further drops are counted, not logged.",
                len(plan.oversized),
                stats.max_request_bytes,
                max(plan.oversized_sizes),
                ENV_PREFIX,
            )


def _send(wrapped: Any, plan: RequestPlan, stats: ExportStats) -> SpanExportResult:
    """Export each planned request; FAILURE if any failed, a drop, or an empty plan."""
    ok = not plan.oversized
    failures = 0
    for index, (request, size) in enumerate(zip(plan.requests, plan.sizes, strict=True)):
        if failures >= _MAX_FAILURES_IN_A_ROW:
            stats.count_unsent(sum(len(rest) for rest in plan.requests[index:]))
            break
        delivered = wrapped(request) is SpanExportResult.SUCCESS
        stats.count_request(len(request), size, delivered)
        failures = 0 if delivered else failures + 1
        ok = ok and delivered
    return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE
