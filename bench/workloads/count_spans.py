"""Run a program under ``opentelemetry-instrument`` and count the spans it creates.

    MLSPAN_WORKLOAD_SPAN_COUNTS=DIR opentelemetry-instrument python count_spans.py prog.py [args]

By the time this launcher runs, OpenTelemetry's ``sitecustomize`` has configured the
SDK and the instrumentors. The launcher adds a counting ``SpanProcessor`` to the global
tracer provider with the public ``add_span_processor``, puts ``span_counting/`` first on
``PYTHONPATH`` so that processes the program starts (joblib workers) count their spans
too, and runs the program with ``runpy`` as ``__main__``. Every counting process
appends one line per ended span to ``DIR/<pid>.spans`` (see
``span_counting/workload_span_counter.py``). At exit the provider is flushed, so the
spans are on their way to the collector when the runner starts comparing.

Used only in the runner's delivery round: the counter's writes are not timed.
"""

from __future__ import annotations

import atexit
import os
import runpy
import sys
from pathlib import Path

COUNTING_PATH = Path(__file__).resolve().parent / "span_counting"


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: count_spans.py PROGRAM [ARGS...]")
    sys.path.insert(0, str(COUNTING_PATH))
    import workload_span_counter
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    if not workload_span_counter.install(provider):
        raise SystemExit(
            f"count_spans.py: no SDK tracer provider ({type(provider).__name__}) or "
            f"${workload_span_counter.COUNTS_ENV} unset; run under opentelemetry-instrument"
        )
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is not None:
        # Registered after the SDK's own exit hook, so it runs first (atexit is LIFO).
        atexit.register(force_flush)
    paths = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(COUNTING_PATH), paths) if p)
    sys.path.remove(str(COUNTING_PATH))

    program = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path.insert(0, str(Path(program).resolve().parent))
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main()
