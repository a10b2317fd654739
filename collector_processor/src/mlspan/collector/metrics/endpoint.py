"""``GET /metrics``: a registry in the Prometheus text exposition format."""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from mlspan.collector.api.router import Request, Response, Router

METRICS_PATH: Final = "/metrics"
CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4
"""Text format 0.0.4, which every Prometheus version parses."""


def metrics_text(registry: CollectorRegistry) -> bytes:
    """Collect ``registry`` now and render it as Prometheus text."""
    return generate_latest(registry)


def register_metrics_route(router: Router, registry: CollectorRegistry) -> None:
    """Serve ``registry`` at ``/metrics`` on the query API."""

    def handle(_request: Request) -> Response:
        return Response(body=metrics_text(registry), content_type=CONTENT_TYPE)

    router.add(
        "GET",
        METRICS_PATH,
        handle,
        summary="Prometheus metrics, computed at scrape time",
        description="Drift, validation, alert and ingest metrics in the text exposition "
        "format 0.0.4; scrape it with Prometheus.",
        response_content_type=CONTENT_TYPE,
        tags=("metrics",),
        operation_id="metrics",
    )
