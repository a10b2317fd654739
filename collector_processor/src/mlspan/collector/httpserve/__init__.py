"""Bounded stdlib HTTP/1.1 serving for the OTLP/HTTP receiver (the query API runs on
uvicorn behind ``api.gate``, which applies the same bounds).

``deadlines``: per-phase deadlines (headers, body, response, idle keep-alive) instead of
a per-read socket timeout, so a client trickling bytes is cut however steadily it
sends; ``phased_handler``: the request loop that applies them; ``capped_server``: a
thread per connection up to a cap, one more answered 503 with ``Retry-After``.
"""

from __future__ import annotations

from mlspan.collector.httpserve.capped_server import CappedHttpServer, service_unavailable
from mlspan.collector.httpserve.deadlines import DeadlineReader, PhaseTimeouts, validate_timeouts
from mlspan.collector.httpserve.phased_handler import PhasedRequestHandler

__all__ = [
    "CappedHttpServer",
    "DeadlineReader",
    "PhaseTimeouts",
    "PhasedRequestHandler",
    "service_unavailable",
    "validate_timeouts",
]
