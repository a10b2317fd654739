"""Builds ``otlp`` exporters: a sender behind the shared queue-and-retry engine."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from mlspan.collector.exporters.otlp.config import (
    Compression,
    OtlpExporterConfig,
    Protocol,
    grpc_target,
)
from mlspan.collector.exporters.otlp.grpc_sender import GrpcSender
from mlspan.collector.exporters.otlp.http_sender import HttpSender
from mlspan.collector.exporters.queued import QueueConfig, QueuedExporter, Sender
from mlspan.collector.pdata import TracesConsumer
from mlspan.collector.pipeline.factory import Factory, Host, Kind
from mlspan.collector.queue import BatchQueue, DiskQueue, MemoryQueue
from mlspan.collector.security.bearer import BearerCredentials
from mlspan.collector.security.exposure import is_loopback

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def build_queue(config: QueueConfig, host: Host, component_id: str) -> BatchQueue:
    """An in-memory queue, or a persistent one under ``<data_dir>/queues/<id>``."""
    if config.persistent:
        folder = host.data_dir / "queues" / _UNSAFE.sub("_", component_id)
        return DiskQueue(folder, config.queue_size, fsync=config.fsync)
    return MemoryQueue(config.queue_size)


def _credentials(config: OtlpExporterConfig, name: str) -> BearerCredentials | None:
    """The bearer token to send (read now: a missing file or variable fails start-up)."""
    if config.auth is None or config.auth.bearer_tokens is None:
        return None
    credentials = BearerCredentials.from_config(config.auth.bearer_tokens)
    if config.protocol is Protocol.HTTP:
        host = urlsplit(config.traces_url).hostname or ""
    else:
        host = grpc_target(config.endpoint).rpartition(":")[0].strip("[]")
    if not config.secure and not is_loopback(host):
        logger.warning("exporter %s sends its token to %s in plain text", name, host)
    return credentials


def _sender(config: OtlpExporterConfig, name: str) -> Sender:
    gzip = config.compression is Compression.GZIP
    auth = _credentials(config, name)
    if config.protocol is Protocol.HTTP:
        return HttpSender(config.traces_url, config.headers, gzip, tls=config.client_tls, auth=auth)
    return GrpcSender(
        grpc_target(config.endpoint),
        config.headers,
        gzip,
        config.secure,
        tls=config.client_tls,
        auth=auth,
    )


def create_otlp_exporter(
    config: OtlpExporterConfig, host: Host, next_consumer: TracesConsumer | None
) -> QueuedExporter:
    """An exporter forwarding each batch's bytes unchanged, split into several requests
    when larger than ``max_request_bytes``."""
    name = host.component_id or "otlp"
    return QueuedExporter(
        name=name,
        queue=build_queue(config.sending_queue, host, name),
        sender=_sender(config, name),
        stats=host.stats,
        retry=config.retry_on_failure,
        workers=config.sending_queue.num_consumers,
        timeout=config.timeout,
        shutdown_timeout=config.shutdown_timeout,
        max_request_bytes=config.max_request_bytes,
    )


def otlp_exporter_factory() -> Factory[OtlpExporterConfig]:
    """The ``otlp`` exporter factory."""
    return Factory(Kind.EXPORTER, "otlp", OtlpExporterConfig, create_otlp_exporter)
