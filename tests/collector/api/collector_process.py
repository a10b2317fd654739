"""A real ``mlspan collector`` process for query-API tests, fed over OTLP/HTTP.

The collector runs from a YAML file with its OTLP/HTTP receiver, the lineage processor
and the query API on free 127.0.0.1 ports; spans reach the store the way users' spans
do (an ``ExportTraceServiceRequest`` posted to ``/v1/traces``).
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan import semconv
from mlspan.collector.store import open_store
from mlspan.collector.store.records import ComponentRecord, IoRecord, LineageBatch, RunRecord
from tests.support.otlp_client import http_post
from tests.support.otlp_sink import free_port
from tests.support.processes import background_process, poll
from tests.support.spans import AttributeValue, key_values

SERVICE = "api-hardening"


@dataclass(frozen=True)
class RunningCollector:
    """Where the collector process listens."""

    api_url: str
    api_port: int
    http_address: str

    def send(self, spans: list[trace_pb2.Span]) -> None:
        """Post ``spans`` as one OTLP/HTTP protobuf request; it must be accepted."""
        request = trace_service_pb2.ExportTraceServiceRequest(
            resource_spans=[
                trace_pb2.ResourceSpans(
                    resource=resource_pb2.Resource(
                        attributes=key_values({"service.name": SERVICE})
                    ),
                    scope_spans=[trace_pb2.ScopeSpans(spans=spans)],
                )
            ]
        )
        answer = http_post(self.http_address, request.SerializeToString())
        assert answer.status == 200, answer

    def get_json(self, path: str) -> Any:
        """GET ``path``, expecting 200 with strictly valid JSON (no NaN or Infinity)."""
        with urllib.request.urlopen(self.api_url + path, timeout=30) as response:
            assert response.status == 200
            return strict_json(response.read())

    def wait_for_runs(self, count: int) -> list[dict[str, Any]]:
        """The newest runs once the store holds at least ``count`` of them."""

        def ready() -> list[dict[str, Any]] | None:
            runs: list[dict[str, Any]] = self.get_json("/api/v1/runs?limit=100")["runs"]
            return runs if len(runs) >= count else None

        return poll(f"{count} runs in the store", ready, timeout=60)


def strict_json(body: bytes) -> Any:
    """Decode ``body`` as standard JSON: UTF-8, and no ``NaN``/``Infinity`` tokens."""

    def refuse(token: str) -> Any:
        raise AssertionError(f"non-standard JSON token {token}")

    return json.loads(body.decode("utf-8"), parse_constant=refuse)


def fit_span(
    number: int, params: str, outputs: tuple[str, ...] = (), component: str = "train"
) -> trace_pb2.Span:
    """A ``fit`` run with ``mlspan.model.params`` exactly as given."""
    now = time.time_ns()
    attributes: dict[str, AttributeValue] = {
        semconv.OPERATION_NAME: "fit",
        semconv.COMPONENT_NAME: component,
        semconv.MODEL_CLASS: "sklearn.linear_model.LogisticRegression",
        semconv.MODEL_NAME: "churn",
        semconv.MODEL_VERSION: f"v{number}",
        semconv.MODEL_PARAMS: params,
    }
    if outputs:
        attributes[semconv.IO_OUTPUTS] = list(outputs)
    return trace_pb2.Span(
        trace_id=number.to_bytes(16, "big"),
        span_id=number.to_bytes(8, "big"),
        name="fit LogisticRegression",
        start_time_unix_nano=now - 1_000_000,
        end_time_unix_nano=now,
        attributes=key_values(attributes),
    )


def write_raw_runs(data_dir: Path, params: Mapping[int, str], component: str = "train") -> None:
    """Write ``fit`` runs with ``params`` verbatim into the store in ``data_dir``, as a
    collector that did not clean parameters on write left them."""
    now = time.time_ns()
    batch = LineageBatch()
    for number, text in params.items():
        start = now - 1_000_000 * (100 - number)
        batch.runs.append(
            RunRecord(
                run_id(number),
                number.to_bytes(16, "big").hex(),
                "",
                SERVICE,
                "fit LogisticRegression",
                "fit",
                component,
                start,
                start + 1000,
                "ok",
                "",
                "",
                "",
                text,
                "sklearn.linear_model.LogisticRegression",
                "churn",
                f"v{number}",
            )
        )
        batch.io.append(IoRecord(run_id(number), "out", (f"model:test:{number}",), start))
    batch.components.append(ComponentRecord(component, "", (), now))
    data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(data_dir)
    try:
        store.write(batch)
    finally:
        store.close()


def run_id(number: int) -> str:
    """The run id the store gives ``fit_span(number, ...)`` (its span id in hex)."""
    return number.to_bytes(8, "big").hex()


@contextmanager
def running_collector(
    folder: Path, api_limits: Mapping[str, Any] | None = None
) -> Iterator[RunningCollector]:
    """``mlspan collector`` as configured by default (lineage, alerts, drift, query API)
    on free ports, stopped when the block ends."""
    api_port, http_port = free_port(), free_port()
    api: dict[str, Any] = {"endpoint": f"127.0.0.1:{api_port}"}
    if api_limits:
        api["limits"] = dict(api_limits)
    config = {
        "data_dir": str(folder / "data"),
        "api": api,
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{http_port}"}}}},
        "processors": {"lineage": {}, "alerts": {}},
        "connectors": {"drift": {}},
        "service": {
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["lineage", "alerts"],
                    "exporters": ["drift"],
                }
            }
        },
    }
    path = folder / "collector.yaml"
    path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "mlspan.collector.cli.main", "collector"]
    command += ["--config", str(path)]
    api_url = f"http://127.0.0.1:{api_port}"
    with background_process("collector", command, folder, f"{api_url}/openapi.json"):
        yield RunningCollector(api_url, api_port, f"127.0.0.1:{http_port}")
