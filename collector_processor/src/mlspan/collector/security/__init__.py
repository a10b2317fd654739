"""Authentication and TLS for the collector's servers and clients.

``config`` holds the ``tls:``/``auth:`` sections (shaped like the OpenTelemetry
Collector's), ``tokens`` the token sources, ``bearer`` the header checks, ``tls`` the
SSL contexts and gRPC credentials, ``grpc_auth`` the gRPC interceptor, ``api_access``
the query API's read/write rules, ``exposure`` the start-up warning for listeners open
to other hosts without authentication. See docs/security.md.
"""

from __future__ import annotations

from mlspan.collector.security.api_access import ApiAccess, Refusal
from mlspan.collector.security.bearer import (
    BearerAuthenticator,
    BearerCredentials,
    Denial,
    Verdict,
)
from mlspan.collector.security.config import (
    ApiWritesConfig,
    AuthConfig,
    BearerTokensConfig,
    TlsClientConfig,
    TlsServerConfig,
)
from mlspan.collector.security.exposure import is_loopback, warn_if_exposed
from mlspan.collector.security.grpc_auth import BearerAuthInterceptor
from mlspan.collector.security.tls import (
    client_ssl_context,
    grpc_channel_credentials,
    grpc_server_credentials,
    server_ssl_context,
)
from mlspan.collector.security.tokens import TokenError, TokenSet

__all__ = [
    "ApiAccess",
    "ApiWritesConfig",
    "AuthConfig",
    "BearerAuthInterceptor",
    "BearerAuthenticator",
    "BearerCredentials",
    "BearerTokensConfig",
    "Denial",
    "Refusal",
    "TlsClientConfig",
    "TlsServerConfig",
    "TokenError",
    "TokenSet",
    "Verdict",
    "client_ssl_context",
    "grpc_channel_credentials",
    "grpc_server_credentials",
    "is_loopback",
    "server_ssl_context",
    "warn_if_exposed",
]
