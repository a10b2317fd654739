"""Configuration of the ``otlp`` receiver.

As in the OpenTelemetry Collector, a protocol section that is present (even empty, as
in ``grpc:``) turns that protocol on; with no ``protocols`` section both are on.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from typing import Final

from mlspan.collector.httpserve.deadlines import validate_timeouts
from mlspan.collector.pipeline.factory import ConfigError
from mlspan.collector.security.config import AuthConfig, TlsServerConfig

logger = logging.getLogger(__name__)

DEFAULT_GRPC_ENDPOINT: Final = "127.0.0.1:4317"
DEFAULT_HTTP_ENDPOINT: Final = "127.0.0.1:4318"
MIB: Final = 1 << 20


def split_endpoint(endpoint: str, where: str = "endpoint") -> tuple[str, int]:
    """``(host, port)`` from ``host:port`` or ``[v6]:port``; raises ``ConfigError``."""
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{where}: '{endpoint}' is not host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts local connections."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class GrpcConfig:
    """``protocols.grpc``: OTLP/gRPC ``TraceService/Export``."""

    endpoint: str = DEFAULT_GRPC_ENDPOINT
    """Listen address; loopback by default, another interface only when set here."""
    max_recv_msg_size_mib: int = 16
    """Largest request (after decompression); larger ones get RESOURCE_EXHAUSTED and are
    counted as ``too_large`` (gRPC's own limit is a multiple of it, see ``grpc_server``)."""
    max_concurrent_requests: int = 8
    """Requests handled at once (server threads)."""
    tls: TlsServerConfig | None = None
    """Serve over TLS (``client_ca_file``: mutual TLS); see docs/security.md."""
    auth: AuthConfig | None = None
    """Require ``authorization: Bearer <token>`` metadata (else UNAUTHENTICATED)."""

    def validate(self) -> None:
        """Check the endpoint and limits."""
        split_endpoint(self.endpoint)
        if not 1 <= self.max_recv_msg_size_mib <= 1024:
            raise ConfigError("max_recv_msg_size_mib must be in [1, 1024]")
        if not 1 <= self.max_concurrent_requests <= 256:
            raise ConfigError("max_concurrent_requests must be in [1, 256]")


@dataclass(frozen=True)
class HttpConfig:
    """``protocols.http``: OTLP/HTTP ``POST /v1/traces``, protobuf or JSON, gzip or not."""

    endpoint: str = DEFAULT_HTTP_ENDPOINT
    traces_url_path: str = "/v1/traces"
    max_request_body_size: int = 16 * MIB
    """Largest body in bytes, checked on Content-Length and again after decompression."""
    max_connections: int = 64
    """Connections served at once; more get 503 with Retry-After."""
    read_header_timeout: float = 10.0
    """Seconds from a connection's start, or a request's first byte, to the end of the
    request line and headers; later: 408 and close, however steadily bytes arrive."""
    read_timeout: float = 30.0
    """Seconds to receive a request body once the headers are in (a deadline for the
    whole body, not per read)."""
    write_timeout: float = 30.0
    """Seconds to send one response."""
    idle_timeout: float = 60.0
    """Seconds a keep-alive connection may wait for its next request."""
    tls: TlsServerConfig | None = None
    """Serve HTTPS (``client_ca_file``: mutual TLS); see docs/security.md."""
    auth: AuthConfig | None = None
    """Require ``Authorization: Bearer <token>`` (else 401 with ``WWW-Authenticate``)."""

    def validate(self) -> None:
        """Check the endpoint, path and limits."""
        split_endpoint(self.endpoint)
        if not self.traces_url_path.startswith("/"):
            raise ConfigError("traces_url_path must start with '/'")
        if not 1024 <= self.max_request_body_size <= 1024 * MIB:
            raise ConfigError("max_request_body_size must be in [1024, 1073741824]")
        if not 1 <= self.max_connections <= 4096:
            raise ConfigError("max_connections must be in [1, 4096]")
        validate_timeouts(self)


@dataclass(frozen=True)
class ProtocolsConfig:
    """Which transports to serve; an absent section is off."""

    grpc: GrpcConfig | None = None
    http: HttpConfig | None = None

    def validate(self) -> None:
        """At least one protocol."""
        if self.grpc is None and self.http is None:
            raise ConfigError("protocols: enable grpc, http or both")


def _both() -> ProtocolsConfig:
    return ProtocolsConfig(GrpcConfig(), HttpConfig())


@dataclass(frozen=True)
class OtlpReceiverConfig:
    """``receivers.otlp``."""

    protocols: ProtocolsConfig = field(default_factory=_both)
    retry_after_seconds: int = 1
    """Delay suggested to clients (Retry-After, gRPC RetryInfo) when queues are full."""
    validate_ids: bool = True
    """Refuse spans whose trace id is not 16 bytes or span id not 8 bytes (or all zero),
    answering with an OTLP partial success."""

    def validate(self) -> None:
        """Check the retry hint."""
        if not 0 <= self.retry_after_seconds <= 3600:
            raise ConfigError("retry_after_seconds must be in [0, 3600]")
