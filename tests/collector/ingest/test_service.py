"""The collector service end to end: OTLP in over both transports, forwarded to a real
OTLP receiver, ingest metrics on /metrics, overload answered with 429, and the
``mlspan collector`` process shutting down gracefully on SIGTERM and SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from mlspan.collector.pdata import FastSchema, QueueFullError, TraceBatch
from mlspan.collector.pipeline.factory import ConfigError, Factory, Host, Kind
from mlspan.collector.service import Service, parse_config
from mlspan.collector.service.factories import default_factories
from tests.support.otlp_client import grpc_export, http_post
from tests.support.otlp_sink import OtlpSink, free_port
from tests.support.spans import ml_request, wide_ml_request

pytestmark = pytest.mark.slow


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    with OtlpSink() as running:
        yield running


def _document(tmp_path: Path, sink: OtlpSink, **exporter: Any) -> dict[str, Any]:
    return {
        "data_dir": str(tmp_path / "data"),
        "api": {"endpoint": "127.0.0.1:0"},
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": "127.0.0.1:0"},
                    "http": {"endpoint": "127.0.0.1:0"},
                }
            }
        },
        "exporters": {
            "otlp/sink": {
                "endpoint": sink.grpc_endpoint,
                "retry_on_failure": {"initial_interval": 0.05, "max_interval": 0.2},
                **exporter,
            },
            "debug": {"verbosity": "detailed"},
        },
        "service": {
            "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["otlp/sink", "debug"]}}
        },
    }


def _service(document: dict[str, Any]) -> Service:
    factories = default_factories()
    service = Service(parse_config(document, factories), factories)
    service.start()
    return service


def test_spans_in_over_grpc_and_http_are_forwarded_and_counted(
    tmp_path: Path, sink: OtlpSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mlspan.collector.exporters.debug.exporter")
    service = _service(_document(tmp_path, sink))
    try:
        receiver = service.receivers()["otlp"]
        assert receiver.grpc is not None and receiver.http is not None
        with grpc.insecure_channel(receiver.grpc.address) as channel:
            grpc_export(channel, ml_request(7, seed=1).SerializeToString())
        assert (
            http_post(receiver.http.address, ml_request(5, seed=2).SerializeToString()).status
            == 200
        )
        sink.wait_for_spans(12)
        assert service.api is not None
        with urllib.request.urlopen(f"{service.api.url}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        assert 'mlspan_spans_received_total{receiver="otlp"} 12.0' in metrics
    finally:
        service.shutdown()
        service.shutdown()
    expected = {
        s.span_id
        for i, n in ((1, 7), (2, 5))
        for s in ml_request(n, seed=i).resource_spans[0].scope_spans[0].spans
    }
    assert {r.span.span_id for r in sink.received_spans()} == expected
    logged = caplog.text
    assert "traces: 7 spans" in logged and "traces: 5 spans" in logged
    assert "attributes {" in logged


def test_a_10_mb_request_reaches_a_backend_with_a_4_mib_limit(tmp_path: Path) -> None:
    """mlspan accepts up to 16 MiB; the exporter splits what it forwards to the
    backend's 4 MiB, so nothing accepted is refused downstream for size."""
    body = wide_ml_request(48).SerializeToString()
    assert len(body) > 10_000_000
    with OtlpSink(grpc_max_receive_bytes=4 * 1024 * 1024) as sink:
        document = _document(tmp_path, sink)
        document["service"]["pipelines"]["traces"]["exporters"] = ["otlp/sink"]
        service = _service(document)
        try:
            receiver = service.receivers()["otlp"]
            assert receiver.grpc is not None
            with grpc.insecure_channel(
                receiver.grpc.address, options=[("grpc.max_send_message_length", -1)]
            ) as channel:
                grpc_export(channel, body, timeout=30)
            sink.wait_for_spans(48, timeout=30)
            snapshot = service.stats.snapshot()
        finally:
            service.shutdown()
        sent = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
        assert sorted(r.span.SerializeToString() for r in sink.received_spans()) == sorted(
            span.SerializeToString() for span in sent.resource_spans[0].scope_spans[0].spans
        )
        assert len(sink.requests) > 1
    assert snapshot.spans_received == {"otlp": 48}
    assert snapshot.spans_dropped == {}


def test_full_exporter_queue_answers_429_and_resource_exhausted(
    tmp_path: Path, sink: OtlpSink
) -> None:
    sink.stop()
    document = _document(
        tmp_path, sink, sending_queue={"queue_size": 1, "num_consumers": 1}, shutdown_timeout=0.5
    )
    document["service"]["pipelines"]["traces"]["exporters"] = ["otlp/sink"]
    service = _service(document)
    try:
        receiver = service.receivers()["otlp"]
        assert receiver.grpc is not None and receiver.http is not None
        body = ml_request(2).SerializeToString()
        assert http_post(receiver.http.address, body).status == 200
        answer = http_post(receiver.http.address, body)
        assert answer.status == 429
        assert answer.headers["retry-after"] == "1"
        with (
            grpc.insecure_channel(receiver.grpc.address) as channel,
            pytest.raises(grpc.RpcError) as failed,
        ):
            grpc_export(channel, body)
        assert failed.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        snapshot = service.stats.snapshot()
        assert snapshot.requests_rejected == {("otlp", "queue_full"): 2}
        assert snapshot.spans_received == {"otlp": 2}
    finally:
        service.shutdown()


def test_port_in_use_fails_start_and_releases_everything(tmp_path: Path, sink: OtlpSink) -> None:
    document = _document(tmp_path, sink)
    document["receivers"]["otlp"]["protocols"]["http"]["endpoint"] = f"127.0.0.1:{sink.http_port}"
    factories = default_factories()
    service = Service(parse_config(document, factories), factories)
    with pytest.raises(OSError, match="cannot listen on"):
        service.start()
    service.shutdown()


def _wait_for_banner(process: subprocess.Popen[str]) -> dict[str, str]:
    assert process.stdout is not None
    lines: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if "OTLP/gRPC" in line:
            lines["grpc"] = line.split()[-1]
        if "data folder" in line:
            return lines
    raise AssertionError(f"collector did not start (exit {process.poll()})")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_collector_process_flushes_on_signal(
    tmp_path: Path, sink: OtlpSink, sig: signal.Signals
) -> None:
    config = tmp_path / "collector.yaml"
    document = _document(tmp_path, sink)
    grpc_port = free_port()
    document["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] = f"127.0.0.1:{grpc_port}"
    config.write_text(yaml.safe_dump(document))
    env = {**os.environ, "MLSPAN_API_ENDPOINT": "127.0.0.1:0"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlspan.collector.cli.main",
            "collector",
            "--config",
            str(config),
            "--http-endpoint",
            "127.0.0.1:0",
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        banner = _wait_for_banner(process)
        assert banner["grpc"] == f"127.0.0.1:{grpc_port}"
        sink.stop()  # backend down: batches wait in the exporter queue
        with grpc.insecure_channel(banner["grpc"]) as channel:
            for seed in range(5):
                grpc_export(channel, ml_request(4, seed=seed).SerializeToString())
        sink.start()  # back before shutdown: the drain delivers everything
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert sink.span_count == 20
    assert (tmp_path / "data" / "lineage.db").exists()


@dataclass(frozen=True)
class _RefusingConfig:
    def validate(self) -> None:
        """Valid: the failure comes when the component is built."""


def _refuse(config: _RefusingConfig, host: Host, next_consumer: object) -> object:
    raise ConfigError(f"processors.{host.component_id}: cannot be built here")


def test_a_failing_factory_stops_start_and_shuts_down_what_was_built(
    tmp_path: Path, sink: OtlpSink
) -> None:
    factories = [*default_factories(), Factory(Kind.PROCESSOR, "refuse", _RefusingConfig, _refuse)]
    document = _document(tmp_path, sink)
    document["processors"] = {"refuse": {}}
    document["service"]["pipelines"]["traces"]["processors"] = ["refuse"]
    service = Service(parse_config(document, factories), factories)
    with pytest.raises(ConfigError, match=r"processors\.refuse: cannot be built here"):
        service.start()
    built = service.graph.of_kind(Kind.EXPORTER)
    assert sorted(built) == ["debug", "otlp/sink"]
    with pytest.raises(QueueFullError):  # shut down: refuses new batches
        built["debug"].consume(TraceBatch.from_bytes(FastSchema.build(), b""))
    assert service.graph.of_kind(Kind.RECEIVER) == {}
