"""Fixtures: an ``otlp`` receiver on loopback ports feeding a recording consumer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from mlspan.collector.pdata import QueueFullError, TraceBatch
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import Host
from mlspan.collector.receivers.otlp import (
    GrpcConfig,
    HttpConfig,
    OtlpReceiver,
    OtlpReceiverConfig,
    ProtocolsConfig,
)

LIMIT = 1 << 20
"""Request size limit of the test receiver (1 MiB)."""


class RecordingConsumer:
    """The next pipeline stage in receiver tests: keeps every batch; ``full`` makes it
    refuse batches the way a full bounded queue does."""

    def __init__(self) -> None:
        self.batches: list[TraceBatch] = []
        self.full = False
        self._lock = threading.Lock()

    def consume(self, batch: TraceBatch) -> None:
        if self.full:
            raise QueueFullError("test queue full")
        with self._lock:
            self.batches.append(batch)

    @property
    def span_count(self) -> int:
        with self._lock:
            return sum(batch.span_count for batch in self.batches)


@pytest.fixture
def consumer() -> RecordingConsumer:
    return RecordingConsumer()


@pytest.fixture
def stats() -> IngestStats:
    return IngestStats()


@pytest.fixture
def receiver(
    tmp_path: Path, consumer: RecordingConsumer, stats: IngestStats
) -> Iterator[OtlpReceiver]:
    config = OtlpReceiverConfig(
        protocols=ProtocolsConfig(
            grpc=GrpcConfig(endpoint="127.0.0.1:0", max_recv_msg_size_mib=1),
            http=HttpConfig(endpoint="127.0.0.1:0", max_request_body_size=LIMIT, max_connections=4),
        ),
        retry_after_seconds=2,
    )
    host = Host(data_dir=tmp_path, stats=stats).for_component("otlp")
    component = OtlpReceiver("otlp", config, consumer, host)
    component.start()
    try:
        yield component
    finally:
        component.shutdown()


@pytest.fixture
def channel(receiver: OtlpReceiver) -> Iterator[grpc.Channel]:
    assert receiver.grpc is not None
    with grpc.insecure_channel(
        receiver.grpc.address, options=[("grpc.max_send_message_length", -1)]
    ) as chan:
        yield chan
