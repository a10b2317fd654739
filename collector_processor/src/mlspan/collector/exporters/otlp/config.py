"""Configuration of the ``otlp`` exporter."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from mlspan.collector.exporters.queued import QueueConfig
from mlspan.collector.exporters.retry import RetryConfig
from mlspan.collector.pipeline.factory import ConfigError

TRACES_PATH = "/v1/traces"
DEFAULT_MAX_REQUEST_BYTES: Final = 4 * 1024 * 1024
"""4 MiB: gRPC's default receive limit, kept by Jaeger, the OpenTelemetry Collector and
most OTLP backends."""
MIN_REQUEST_BYTES: Final = 1024
MAX_REQUEST_BYTES: Final = 2**31 - 1
"""The largest message gRPC can carry."""


class Protocol(str, enum.Enum):
    """Transport to the next OTLP hop."""

    GRPC = "grpc"
    HTTP = "http"


class Compression(str, enum.Enum):
    """Request compression."""

    NONE = "none"
    GZIP = "gzip"


@dataclass(frozen=True)
class OtlpExporterConfig:
    """``exporters.otlp``: where and how to forward traces.

    ``endpoint`` is ``host:port`` (or ``http(s)://host:port``) for gRPC, and a URL for
    HTTP; an HTTP URL without a path gets ``/v1/traces``. An ``https`` scheme turns TLS
    on (``ca_file`` to trust a private CA); otherwise the connection is plain text.
    """

    endpoint: str = ""
    protocol: Protocol = Protocol.GRPC
    headers: dict[str, str] = field(default_factory=dict)
    """Extra request headers (gRPC metadata), e.g. an authorization token."""
    compression: Compression = Compression.NONE
    timeout: float = 10.0
    """Seconds allowed for one send attempt."""
    ca_file: str = ""
    sending_queue: QueueConfig = field(default_factory=QueueConfig)
    retry_on_failure: RetryConfig = field(default_factory=RetryConfig)
    shutdown_timeout: float = 10.0
    """Seconds to keep sending queued batches after shutdown starts."""
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    """Largest request the endpoint accepts (serialized, before compression). A larger
    batch is sent as several requests that each fit; a span too large to fit alone is
    dropped and counted (``span_too_large``)."""

    def validate(self) -> None:
        """Check the endpoint and timeouts."""
        if not self.endpoint:
            raise ConfigError("endpoint is required")
        if self.timeout <= 0:
            raise ConfigError("timeout must be > 0")
        if self.shutdown_timeout < 0:
            raise ConfigError("shutdown_timeout must be >= 0")
        if not MIN_REQUEST_BYTES <= self.max_request_bytes <= MAX_REQUEST_BYTES:
            raise ConfigError(
                f"max_request_bytes must be in [{MIN_REQUEST_BYTES}, {MAX_REQUEST_BYTES}]"
            )
        if self.protocol is Protocol.HTTP:
            parts = urlsplit(self.endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"endpoint '{self.endpoint}' must be an http(s) URL")
        else:
            host, _, port = grpc_target(self.endpoint).rpartition(":")
            if not host or not port.isdigit():
                raise ConfigError(f"endpoint '{self.endpoint}' must be host:port")

    @property
    def secure(self) -> bool:
        """Whether the endpoint asks for TLS."""
        return self.endpoint.startswith("https://")

    @property
    def traces_url(self) -> str:
        """The full HTTP URL of the traces endpoint."""
        parts = urlsplit(self.endpoint)
        if parts.path in ("", "/"):
            return self.endpoint.rstrip("/") + TRACES_PATH
        return self.endpoint


def grpc_target(endpoint: str) -> str:
    """``host:port`` from an endpoint that may carry an http(s) scheme."""
    for scheme in ("http://", "https://"):
        if endpoint.startswith(scheme):
            return endpoint[len(scheme) :].rstrip("/")
    return endpoint
