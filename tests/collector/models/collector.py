"""A real ``mlspan collector`` process with the lineage, models and performance
processors, and tracer providers exporting to it over OTLP/HTTP."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from mlspan.instrumentation.pandas import PandasInstrumentor
from mlspan.instrumentation.sklearn import SklearnInstrumentor
from tests.collector.api.collector_process import strict_json
from tests.support.otlp_sink import free_port
from tests.support.processes import background_process


@dataclass(frozen=True)
class ModelsCollector:
    """Where the collector listens, with helpers to query it."""

    api_url: str
    http_address: str
    data_dir: Path

    def provider(self, service: str) -> TracerProvider:
        """A provider exporting every span at once to this collector as ``service``."""
        exporter = OTLPSpanExporter(endpoint=f"http://{self.http_address}/v1/traces", timeout=10)
        provider = TracerProvider(
            resource=Resource.create({"service.name": service}),
            span_limits=SpanLimits(max_span_attributes=512, max_events=4096),
        )
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        return provider

    def get_json(self, path: str) -> Any:
        """GET ``path``: 200 with strictly valid JSON."""
        with urllib.request.urlopen(self.api_url + path, timeout=30) as response:
            assert response.status == 200
            return strict_json(response.read())

    def status_of(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Any request: its status and JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.api_url + path, data=data, method=method)
        if data is not None or method not in ("GET", "HEAD"):
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, strict_json(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, strict_json(exc.read())


@contextmanager
def instrumented(provider: TracerProvider) -> Iterator[None]:
    """scikit-learn and pandas instrumented on ``provider`` for the block."""
    SklearnInstrumentor().instrument(tracer_provider=provider)
    PandasInstrumentor().instrument(tracer_provider=provider)
    try:
        yield
    finally:
        SklearnInstrumentor().uninstrument()
        PandasInstrumentor().uninstrument()
        provider.shutdown()


@contextmanager
def models_collector(
    folder: Path,
    writes: bool = True,
    processors: tuple[str, ...] = ("lineage", "models", "performance"),
) -> Iterator[ModelsCollector]:
    """``mlspan collector`` with ``processors`` (by default lineage, models and
    performance) on free ports, stopped when the block ends."""
    api_port, http_port = free_port(), free_port()
    config = {
        "data_dir": str(folder / "data"),
        "api": {"endpoint": f"127.0.0.1:{api_port}", "writes": {"enabled": writes}},
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{http_port}"}}}},
        "processors": {name: {} for name in processors},
        "service": {
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": list(processors),
                    "exporters": [],
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
        yield ModelsCollector(api_url, f"127.0.0.1:{http_port}", folder / "data")
