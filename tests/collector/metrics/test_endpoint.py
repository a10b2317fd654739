"""``GET /metrics`` on the query API: content type and parseable exposition."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from mlspan.collector.api import ApiServer, Router
from mlspan.collector.metrics import METRICS_PATH, MlspanCollector, register_metrics_route
from mlspan.collector.pdata.stats import IngestStats


@pytest.fixture
def served() -> Iterator[tuple[str, IngestStats]]:
    stats = IngestStats()
    registry = CollectorRegistry()
    registry.register(MlspanCollector(stats))
    router = Router()
    register_metrics_route(router, registry)
    server = ApiServer("127.0.0.1", 0, router)
    server.start()
    try:
        yield server.url, stats
    finally:
        server.shutdown()


@pytest.mark.slow
def test_metrics_are_served_as_prometheus_text(served: tuple[str, IngestStats]) -> None:
    url, stats = served
    stats.spans_received("otlp_grpc", 42)
    with urllib.request.urlopen(f"{url}{METRICS_PATH}", timeout=10) as response:
        content_type = response.headers["Content-Type"]
        text = response.read().decode()
    assert content_type.startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    received = families["mlspan_spans_received"]
    assert received.type == "counter"
    assert [(s.labels, s.value) for s in received.samples] == [({"receiver": "otlp_grpc"}, 42.0)]


def test_route_is_documented_in_openapi() -> None:
    router = Router()
    register_metrics_route(router, CollectorRegistry())
    operation = router.openapi()["paths"][METRICS_PATH]["get"]
    assert "text/plain" in operation["responses"]["200"]["content"]
    response = router.dispatch("GET", METRICS_PATH)
    assert response.status == 200
    assert response.body == b""
