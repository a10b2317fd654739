"""Count every span a process ends, for the workload runner's delivery round.

``install(tracer_provider)`` adds a ``SpanProcessor`` (through the SDK's public
``add_span_processor``) that appends one line per ended span to ``<dir>/<pid>.spans``,
where ``<dir>`` is ``$MLSPAN_WORKLOAD_SPAN_COUNTS``: the trace id, the span id and
whether the span is an ML span (one the collector's lineage stores as a run, i.e. it
carries the operation or component attribute). A span is counted when it ends, the
moment the SDK hands it to the exporting processor as well, so the count is what the
application tried to send. Writing a line per span (``O_APPEND``, one ``write`` call)
rather than a total at exit keeps the count right when a worker process is killed
instead of exiting: its spans that were never exported are still counted as created.
"""

from __future__ import annotations

import os
from typing import Any, Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from mlspan.semconv import COMPONENT_NAME, OPERATION_NAME

COUNTS_ENV: Final = "MLSPAN_WORKLOAD_SPAN_COUNTS"
"""Folder receiving one ``<pid>.spans`` file per process that ended spans."""


class CountingSpanProcessor(SpanProcessor):
    """Appends ``<trace id> <span id> <0|1>`` for every ended span to one file."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd: int | None = None

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do: spans are counted when they end."""

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        attributes = span.attributes or {}
        ml = OPERATION_NAME in attributes or COMPONENT_NAME in attributes
        line = f"{context.trace_id:032x} {context.span_id:016x} {int(ml)}\n"
        if self._fd is None:  # opened lazily: a forked child writes its own file
            self._fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(self._fd, line.encode())

    def shutdown(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def install(tracer_provider: Any) -> bool:
    """Add the counter to ``tracer_provider`` if it is an SDK provider and a folder is set."""
    folder = os.environ.get(COUNTS_ENV)
    if not folder or not hasattr(tracer_provider, "add_span_processor"):
        return False
    path = os.path.join(folder, f"{os.getpid()}.spans")
    tracer_provider.add_span_processor(CountingSpanProcessor(path))
    return True
