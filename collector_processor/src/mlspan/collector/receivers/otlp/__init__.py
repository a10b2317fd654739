"""The ``otlp`` receiver: OTLP/gRPC and OTLP/HTTP (protobuf, JSON, gzip) trace ingest."""

from __future__ import annotations

from mlspan.collector.receivers.otlp.config import (
    GrpcConfig,
    HttpConfig,
    OtlpReceiverConfig,
    ProtocolsConfig,
)
from mlspan.collector.receivers.otlp.ingest import IngestResult, Status, TraceIngest
from mlspan.collector.receivers.otlp.receiver import OtlpReceiver, otlp_receiver_factory

__all__ = [
    "GrpcConfig",
    "HttpConfig",
    "IngestResult",
    "OtlpReceiver",
    "OtlpReceiverConfig",
    "ProtocolsConfig",
    "Status",
    "TraceIngest",
    "otlp_receiver_factory",
]
