"""The one-line entry points: ``instrument``, ``configure``, ``flush``, ``uninstrument``.

Heavy modules (the OpenTelemetry SDK, the OTLP exporters, the instrumentors) are
imported inside the functions, so importing ``mlspan.instrumentation`` stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

SPAN_ATTRIBUTE_LIMIT: Final = 512
"""Attribute limit of spans from ``configure`` (SDK default 128)."""
SPAN_EVENT_LIMIT: Final = 4096
"""Event limit of spans from ``configure`` (SDK default 128)."""
EVENT_ATTRIBUTE_LIMIT: Final = 512
"""Attributes per event of spans from ``configure`` (SDK default 128)."""
BATCH_QUEUE_SIZE: Final = 8192
"""Spans the ``BatchSpanProcessor`` from ``configure`` queues (SDK default 2048) unless
``OTEL_BSP_MAX_QUEUE_SIZE`` is set: a burst of short calls must not overflow it while a
large batch is being exported."""
BATCH_DELAY_MILLIS: Final = 1000
"""Its schedule delay (SDK default 5000) unless ``OTEL_BSP_SCHEDULE_DELAY`` is set, so
the queue drains steadily instead of in large bursts."""


def instrument(**options: Any) -> None:
    """Instrument scikit-learn and pandas (each only if installed) and bound the size of
    OTLP export requests (``OtlpBudgetInstrumentor``).

    ``tracer_provider`` selects the provider (default: the global one); every other
    keyword is an instrumentation option (see ``InstrumentationOptions``).
    """
    from mlspan.instrumentation.options import InstrumentationOptions

    InstrumentationOptions.resolve(options)  # fail fast on a bad explicit option
    for instrumentor in _instrumentors():
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(**options)


def uninstrument() -> None:
    """Remove all wrappers (restoring the originals) and emit pending online summaries."""
    for instrumentor in _instrumentors():
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()


def flush() -> None:
    """Emit the summaries accumulated from small predict calls now."""
    from mlspan.instrumentation.sklearn import SklearnInstrumentor

    SklearnInstrumentor().flush()


def configure(
    service_name: str | None = None,
    endpoint: str | None = None,
    protocol: str = "grpc",
    headers: Mapping[str, str] | None = None,
    set_global: bool = True,
    instrument_libraries: bool = True,
    **options: Any,
) -> TracerProvider:
    """Set up a TracerProvider exporting over OTLP, and instrument scikit-learn and pandas.

    ``service_name`` and ``endpoint`` default to ``OTEL_SERVICE_NAME`` and
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (else the exporter's default, 127.0.0.1:4317 for
    gRPC); ``protocol`` is ``grpc`` or ``http/protobuf``. The provider's span limits
    are raised (attributes, events) so wide inputs are not truncated, and its
    ``BatchSpanProcessor`` queues more spans and exports sooner than the SDK's defaults
    (``OTEL_BSP_*`` variables still win). No export request exceeds the
    ``max_request_bytes`` option (``OtlpBudgetInstrumentor``), even with
    ``instrument_libraries=False``. The provider is returned and, with ``set_global``,
    installed as the global one.
    """
    from opentelemetry import trace
    from opentelemetry.sdk.environment_variables import (
        OTEL_BSP_MAX_QUEUE_SIZE,
        OTEL_BSP_SCHEDULE_DELAY,
    )
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

    from mlspan.instrumentation.export_budget import OtlpBudgetInstrumentor
    from mlspan.instrumentation.options import InstrumentationOptions

    InstrumentationOptions.resolve(options)  # fail fast on a bad explicit option

    exporter: SpanExporter
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=endpoint, headers=dict(headers) if headers else None)
    elif protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpSpanExporter,
        )

        http_endpoint = endpoint
        if http_endpoint is not None and not http_endpoint.rstrip("/").endswith("/v1/traces"):
            http_endpoint = http_endpoint.rstrip("/") + "/v1/traces"
        exporter = HttpSpanExporter(
            endpoint=http_endpoint, headers=dict(headers) if headers else None
        )
    else:
        raise ValueError(f"protocol must be 'grpc' or 'http/protobuf', got {protocol!r}")
    resource = Resource.create({SERVICE_NAME: service_name} if service_name else {})
    provider = TracerProvider(
        resource=resource,
        span_limits=SpanLimits(
            max_span_attributes=SPAN_ATTRIBUTE_LIMIT,
            max_events=SPAN_EVENT_LIMIT,
            max_event_attributes=EVENT_ATTRIBUTE_LIMIT,
        ),
    )
    processor = BatchSpanProcessor(
        exporter,
        max_queue_size=None if OTEL_BSP_MAX_QUEUE_SIZE in os.environ else BATCH_QUEUE_SIZE,
        schedule_delay_millis=(
            None if OTEL_BSP_SCHEDULE_DELAY in os.environ else BATCH_DELAY_MILLIS
        ),
    )
    provider.add_span_processor(processor)
    if set_global:
        trace.set_tracer_provider(provider)
    if instrument_libraries:
        instrument(tracer_provider=provider, **options)
    elif not OtlpBudgetInstrumentor().is_instrumented_by_opentelemetry:
        OtlpBudgetInstrumentor().instrument(**options)
    return provider


def _instrumentors() -> list[Any]:
    from mlspan.instrumentation.export_budget import OtlpBudgetInstrumentor

    found: list[Any] = [OtlpBudgetInstrumentor()]
    try:
        from mlspan.instrumentation.sklearn import SklearnInstrumentor

        found.append(SklearnInstrumentor())
    except ImportError:
        pass
    try:
        from mlspan.instrumentation.pandas import PandasInstrumentor

        found.append(PandasInstrumentor())
    except ImportError:
        pass
    return found
