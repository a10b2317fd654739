"""Configuration of the ``otlp`` exporter."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from mlspan.collector.exporters.queued import QueueConfig
from mlspan.collector.exporters.retry import RetryConfig
from mlspan.collector.pipeline.factory import ConfigError
from mlspan.collector.security.config import AuthConfig, TlsClientConfig

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
    on (``ca_file`` to trust a private CA); otherwise the connection is plain text. For
    gRPC a ``tls:`` section also turns TLS on unless it says ``insecure: true``, as in
    the OpenTelemetry Collector. ``auth.bearer_tokens`` sends ``authorization: Bearer
    <token>`` with a token read from a file or an environment variable (see
    docs/security.md).
    """

    endpoint: str = ""
    protocol: Protocol = Protocol.GRPC
    headers: dict[str, str] = field(default_factory=dict)
    """Extra request headers (gRPC metadata), e.g. an authorization token."""
    compression: Compression = Compression.NONE
    timeout: float = 10.0
    """Seconds allowed for one send attempt."""
    ca_file: str = ""
    """Shorthand for ``tls.ca_file``."""
    tls: TlsClientConfig | None = None
    """Client TLS: trusted CA, client certificate for mutual TLS, ``insecure``."""
    auth: AuthConfig | None = None
    """Bearer token sent with every request, from ``token_file`` or ``token_env``."""
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
        if self.ca_file and self.tls is not None:
            raise ConfigError("ca_file: set tls.ca_file instead of both")
        if self.protocol is Protocol.HTTP:
            parts = urlsplit(self.endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"endpoint '{self.endpoint}' must be an http(s) URL")
            tls = self.tls
            if parts.scheme == "http" and tls is not None and (tls.ca_file or tls.cert_file):
                raise ConfigError("tls: an http:// endpoint is plain text; use https://")
        else:
            host, _, port = grpc_target(self.endpoint).rpartition(":")
            if not host or not port.isdigit():
                raise ConfigError(f"endpoint '{self.endpoint}' must be host:port")
            if self.endpoint.startswith("https://") and self.tls and self.tls.insecure:
                raise ConfigError("tls.insecure: true contradicts an https:// endpoint")

    @property
    def secure(self) -> bool:
        """Whether the connection uses TLS: an https endpoint, or for gRPC a ``tls:``
        section without ``insecure: true``."""
        if self.endpoint.startswith("https://"):
            return True
        if self.protocol is Protocol.GRPC and self.tls is not None:
            return not self.tls.insecure and not self.endpoint.startswith("http://")
        return False

    @property
    def client_tls(self) -> TlsClientConfig:
        """The TLS settings in use, ``ca_file`` folded in."""
        return self.tls if self.tls is not None else TlsClientConfig(ca_file=self.ca_file)

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
