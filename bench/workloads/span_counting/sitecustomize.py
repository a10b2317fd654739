"""Child processes of a counted workload: OpenTelemetry's auto-instrumentation, then the counter.

``count_spans.py`` puts this folder first on ``PYTHONPATH``, so processes the workload
starts (joblib's loky workers, subprocesses) import this module instead of
OpenTelemetry's own ``sitecustomize``. It does what that one does (``initialize()``)
and then adds the span counter to the global tracer provider.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.instrumentation.auto_instrumentation import initialize

initialize()

import workload_span_counter  # noqa: E402  (after the SDK is configured)

workload_span_counter.install(trace.get_tracer_provider())
