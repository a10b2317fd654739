"""A real ``mlspan collector`` process with the performance processor, fed over OTLP/HTTP
by the real ``OutcomeRecorder``."""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.collector.api.collector_process import strict_json
from tests.support.otlp_sink import free_port
from tests.support.processes import background_process, poll

SERVICE = "outcomes-test"


@dataclass(frozen=True)
class PerformanceCollector:
    """Where the collector listens, with helpers to query it."""

    api_url: str
    http_address: str
    data_dir: Path

    def provider(self) -> TracerProvider:
        """A tracer provider exporting every span at once to this collector."""
        exporter = OTLPSpanExporter(endpoint=f"http://{self.http_address}/v1/traces", timeout=10)
        provider = TracerProvider(resource=Resource.create({"service.name": SERVICE}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        return provider

    def get_json(self, path: str) -> Any:
        """GET ``path``: 200 with strictly valid JSON."""
        with urllib.request.urlopen(self.api_url + path, timeout=30) as response:
            assert response.status == 200
            return strict_json(response.read())

    def metrics_text(self) -> str:
        """The ``/metrics`` exposition."""
        with urllib.request.urlopen(self.api_url + "/metrics", timeout=30) as response:
            text: str = response.read().decode("utf-8")
            return text

    def wait_for_count(self, model: str, count: int) -> dict[str, Any]:
        """The result of ``model`` once it holds ``count`` labelled predictions."""

        def ready() -> dict[str, Any] | None:
            results = self.get_json(f"/api/v1/performance?model={model}")["results"]
            return results[0] if results and results[0]["count"] >= count else None

        return poll(f"{count} labels of {model}", ready, timeout=60)


@contextmanager
def performance_collector(
    folder: Path, rules: Sequence[Mapping[str, Any]] = ()
) -> Iterator[PerformanceCollector]:
    """``mlspan collector`` with lineage, performance and alerts (``rules``) on free
    ports, stopped when the block ends."""
    api_port, http_port = free_port(), free_port()
    alerts: dict[str, Any] = {"evaluation_interval_seconds": 1}
    if rules:
        alerts["rules"] = [dict(rule) for rule in rules]
    config = {
        "data_dir": str(folder / "data"),
        "api": {"endpoint": f"127.0.0.1:{api_port}"},
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{http_port}"}}}},
        "processors": {"performance": {}, "alerts": alerts},
        "connectors": {"drift": {}},
        "service": {
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["performance", "alerts"],
                    "exporters": ["drift"],
                }
            }
        },
    }
    path = folder / "collector.yaml"
    path.write_text(yaml.safe_dump(config))
    command = [
        sys.executable,
        "-m",
        "mlspan.collector.cli.main",
        "collector",
        "--config",
        str(path),
    ]
    api_url = f"http://127.0.0.1:{api_port}"
    with background_process("collector", command, folder, f"{api_url}/openapi.json"):
        yield PerformanceCollector(api_url, f"127.0.0.1:{http_port}", folder / "data")
