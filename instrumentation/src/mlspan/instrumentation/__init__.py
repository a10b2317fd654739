"""mlspan instrumentation: scikit-learn and pandas calls become OpenTelemetry spans.

One line instruments both libraries, exporting over OTLP::

    import mlspan.instrumentation

    mlspan.instrumentation.configure(service_name="churn", endpoint="http://127.0.0.1:4317")

``configure`` sets up a TracerProvider with an OTLP exporter and calls ``instrument``.
With a TracerProvider of your own (or under ``opentelemetry-instrument``), call
``instrument(**options)`` instead. Options and their ``OTEL_INSTRUMENTATION_MLSPAN_*``
environment variables are described in ``docs/instrumentation.md``.
"""

from __future__ import annotations

from mlspan.instrumentation.setup import configure, flush, instrument, uninstrument

__all__ = ["configure", "flush", "instrument", "uninstrument"]
