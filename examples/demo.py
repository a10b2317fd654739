"""A minimal instrumented example that prints its spans (the full demo replaces it)."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from mlspan.semconv import OPERATION_NAME, OperationName


def main() -> None:
    """Emit one span carrying an mlspan attribute and print it."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    tracer = provider.get_tracer("mlspan.demo")
    with tracer.start_as_current_span("fit demo") as span:
        span.set_attribute(OPERATION_NAME, OperationName.FIT.value)
    provider.shutdown()


if __name__ == "__main__":
    main()
