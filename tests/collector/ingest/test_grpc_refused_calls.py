"""A gRPC connection keeps working after many refused exports.

Regression: with the pipeline's fan-out in front of a full queue (``drift`` before an
``otlp`` exporter), each refusal left a reference cycle (the re-raised ``QueueFullError``
and the fan-out's frame) that held the frames below it, and through them the server's
call and its HTTP/2 stream. The collector raises the garbage collector's threshold, so
the streams stayed open: after ~9 refusals (``max_concurrent_streams``) the connection
answered every new call ``UNAVAILABLE`` (RST_STREAM code 7) for minutes.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml

from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import Host
from mlspan.collector.pipeline.fanout import Fanout
from mlspan.collector.receivers.otlp import (
    GrpcConfig,
    OtlpReceiver,
    OtlpReceiverConfig,
    ProtocolsConfig,
)
from tests.collector.ingest.conftest import RecordingConsumer
from tests.support.otlp_client import grpc_export
from tests.support.otlp_sink import OtlpSink, free_port
from tests.support.spans import request_bytes

pytestmark = pytest.mark.slow

REFUSALS = 30


class FailingConsumer:
    """A pipeline stage with a bug: raises on every batch and keeps what it raised (as
    a stage recording its last error would)."""

    def __init__(self) -> None:
        self.raised: list[Exception] = []

    def consume(self, batch: object) -> None:
        error = RuntimeError("stage failed")
        self.raised.append(error)
        raise error


@pytest.fixture
def no_gc() -> Iterator[None]:
    """Cycles are collected only by an explicit collection, as in the tuned collector
    process where a collection is rare."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _receiver(tmp_path: Path, consumer: object, stats: IngestStats) -> OtlpReceiver:
    config = OtlpReceiverConfig(
        protocols=ProtocolsConfig(grpc=GrpcConfig(endpoint="127.0.0.1:0")),
        retry_after_seconds=1,
    )
    host = Host(data_dir=tmp_path, stats=stats)
    receiver = OtlpReceiver("otlp", config, consumer, host)  # type: ignore[arg-type]
    receiver.start()
    return receiver


def _code(channel: grpc.Channel, body: bytes) -> grpc.StatusCode:
    try:
        grpc_export(channel, body, timeout=10)
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()
        return code
    return grpc.StatusCode.OK


def test_refusals_through_a_fanout_do_not_hold_the_connection(tmp_path: Path, no_gc: None) -> None:
    first, second = RecordingConsumer(), RecordingConsumer()
    second.full = True
    receiver = _receiver(tmp_path, Fanout([first, second]), IngestStats())
    assert receiver.grpc is not None
    body = request_bytes(3)
    try:
        with grpc.insecure_channel(receiver.grpc.address) as channel:
            codes = [_code(channel, body) for _ in range(REFUSALS)]
            assert set(codes) == {grpc.StatusCode.RESOURCE_EXHAUSTED}
            second.full = False  # the queue drained
            assert _code(channel, body) is grpc.StatusCode.OK
    finally:
        receiver.shutdown()


def test_internal_errors_do_not_hold_the_connection(tmp_path: Path, no_gc: None) -> None:
    failing, stats = FailingConsumer(), IngestStats()
    receiver = _receiver(tmp_path, failing, stats)
    assert receiver.grpc is not None
    try:
        with grpc.insecure_channel(receiver.grpc.address) as channel:
            codes = [_code(channel, request_bytes(2)) for _ in range(REFUSALS)]
            assert set(codes) == {grpc.StatusCode.INTERNAL}
        assert len(failing.raised) == REFUSALS
        snapshot = stats.snapshot()
        assert snapshot.requests_rejected == {("otlp", "internal"): REFUSALS}
    finally:
        receiver.shutdown()


def _collector_config(tmp_path: Path, sink: OtlpSink, grpc_port: int) -> Path:
    document = {
        "data_dir": str(tmp_path / "data"),
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{grpc_port}"}}}},
        "connectors": {"drift": {}},
        "exporters": {
            "otlp": {
                "endpoint": sink.grpc_endpoint,
                "sending_queue": {"queue_size": 2},
                "retry_on_failure": {"initial_interval": 0.05, "max_interval": 0.2},
            }
        },
        "service": {
            "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["drift", "otlp"]}}
        },
    }
    path = tmp_path / "collector.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _wait_until_listening(process: subprocess.Popen[str], port: int) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if "data folder" in line:
            return
    raise AssertionError(f"collector did not start on {port} (exit {process.poll()})")


def test_a_real_collector_serves_the_same_channel_after_many_refusals(tmp_path: Path) -> None:
    with OtlpSink() as sink:
        sink.stop()  # backend down: the exporter's queue of 2 batches fills
        port = free_port()
        config = _collector_config(tmp_path, sink, port)
        env = {**os.environ, "MLSPAN_API_ENDPOINT": "127.0.0.1:0"}
        command = [sys.executable, "-m", "mlspan.collector.cli.main", "collector"]
        process = subprocess.Popen(
            [*command, "--config", str(config), "--log-level", "WARNING"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        try:
            _wait_until_listening(process, port)
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                codes = [_code(channel, request_bytes(2, seed=n)) for n in range(2 + REFUSALS)]
                assert codes[:2] == [grpc.StatusCode.OK] * 2
                assert codes[2:] == [grpc.StatusCode.RESOURCE_EXHAUSTED] * REFUSALS
                sink.start()  # the queue drains; the same channel is accepted again
                deadline = time.monotonic() + 60
                while (code := _code(channel, request_bytes(2, seed=99))) is not grpc.StatusCode.OK:
                    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED, code
                    assert time.monotonic() < deadline, "the channel was never accepted again"
                    time.sleep(0.2)
            sink.wait_for_spans(6)
        finally:
            process.terminate()
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
