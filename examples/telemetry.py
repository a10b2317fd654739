"""The one-line mlspan set-up the examples use when run without ``opentelemetry-instrument``.

Two ways to run every example, sharing the same pipeline code:

* zero code: ``opentelemetry-instrument python examples/train.py`` — the OpenTelemetry
  distro finds mlspan's instrumentors through their entry points; configure it with the
  usual ``OTEL_*`` variables (``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_ENDPOINT``,
  ``OTEL_METRICS_EXPORTER=none``, ``OTEL_LOGS_EXPORTER=none``);
* one line: ``python examples/train.py --instrument`` (or ``MLSPAN_EXAMPLE_INSTRUMENT=1``)
  calls :func:`setup`, which is exactly what a user adds at the top of their script.
"""

from __future__ import annotations

import argparse
import os

DEFAULT_ENDPOINT = "http://127.0.0.1:4317"
ENABLE_VARIABLE = "MLSPAN_EXAMPLE_INSTRUMENT"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every example entry point shares."""
    parser.add_argument(
        "--instrument",
        action="store_true",
        default=os.environ.get(ENABLE_VARIABLE, "") not in ("", "0", "false"),
        help=f"set up mlspan with the one-line API (also: {ENABLE_VARIABLE}=1); leave off "
        "when running under opentelemetry-instrument",
    )
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", DEFAULT_ENDPOINT),
        help="OTLP endpoint of the mlspan collector for --instrument (default: %(default)s)",
    )


def setup(service_name: str, endpoint: str) -> None:
    """The one line: export spans over OTLP to ``endpoint`` and instrument scikit-learn
    and pandas (``configure`` calls ``instrument()``; with a TracerProvider of your own,
    call ``mlspan.instrumentation.instrument()`` instead)."""
    from mlspan.instrumentation import configure

    configure(service_name=service_name, endpoint=endpoint)
