"""Configuration of TLS and bearer-token authentication, shaped like the OpenTelemetry
Collector's.

Servers (the ``otlp`` receiver's ``grpc`` and ``http`` protocols, the query API)::

    tls: {cert_file: server.crt, key_file: server.key, client_ca_file: clients-ca.crt}
    auth:
      bearer_tokens: {token_file: /run/secrets/mlspan-ingest-token}

Clients (the ``otlp`` exporter)::

    tls: {ca_file: ca.crt, cert_file: client.crt, key_file: client.key, insecure: false}
    auth:
      bearer_tokens: {token_env: DOWNSTREAM_TOKEN}

``tls`` mirrors the Collector's ``configtls`` settings; ``auth.bearer_tokens`` stands in
for its ``bearertokenauth`` extension (``scheme``, ``header``; ``filename`` becomes
``token_file``), configured in place rather than as a separate extension. Tokens are
never written in the configuration itself: they come from a file (a mounted Secret) or
an environment variable, and only the names are checked here; the values are read when
the component starts (see ``tokens``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from mlspan.collector.pipeline.factory import ConfigError

TLS_VERSIONS: Final = ("1.2", "1.3")
_HEADER_NAME: Final = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@dataclass(frozen=True)
class BearerTokensConfig:
    """``auth.bearer_tokens``: where the accepted (or, for a client, the sent) tokens come
    from. A file or variable may hold several tokens separated by newlines or spaces, so
    an old and a new token can both be accepted while clients rotate; a file is read
    again when it changes (a rotated Kubernetes Secret), without a restart."""

    token_file: str = ""
    """A file holding the token(s), e.g. a Secret mounted as a file."""
    token_env: str = ""
    """The name of an environment variable holding the token(s)."""
    scheme: str = "Bearer"
    """The authorization scheme before the token (``bearertokenauth``'s ``scheme``)."""
    header: str = "authorization"
    """The header (gRPC metadata key) carrying ``<scheme> <token>``."""

    def validate(self) -> None:
        """At least one source; a scheme and header name that can appear in a header."""
        if not self.token_file and not self.token_env:
            raise ConfigError("bearer_tokens: set token_file, token_env or both")
        if not self.scheme or any(ch.isspace() for ch in self.scheme):
            raise ConfigError("bearer_tokens.scheme must be one word, e.g. Bearer")
        if not _HEADER_NAME.match(self.header):
            raise ConfigError(f"bearer_tokens.header: '{self.header}' is not a header name")


@dataclass(frozen=True)
class AuthConfig:
    """``auth``: how requests are authenticated (a server) or authenticate (a client)."""

    bearer_tokens: BearerTokensConfig | None = None

    def validate(self) -> None:
        """An ``auth`` section must name a method."""
        if self.bearer_tokens is None:
            raise ConfigError("auth: set bearer_tokens")


def _check_version(version: str) -> None:
    if version not in TLS_VERSIONS:
        raise ConfigError(f"tls.min_version must be one of {', '.join(TLS_VERSIONS)}")


@dataclass(frozen=True)
class TlsServerConfig:
    """``tls`` of a server: its certificate and, for mutual TLS, the CA of clients."""

    cert_file: str = ""
    """PEM certificate (chain) the server presents."""
    key_file: str = ""
    """PEM private key of ``cert_file``."""
    client_ca_file: str = ""
    """PEM CA bundle; when set, clients must present a certificate it signed (mTLS)."""
    min_version: str = "1.2"

    def validate(self) -> None:
        """A server needs both its certificate and key."""
        if not self.cert_file or not self.key_file:
            raise ConfigError("tls: cert_file and key_file are both required")
        _check_version(self.min_version)


@dataclass(frozen=True)
class TlsClientConfig:
    """``tls`` of a client (the ``otlp`` exporter), as the Collector's ``configtls``."""

    insecure: bool = False
    """gRPC only: plain text instead of TLS (for HTTP the URL's scheme decides)."""
    ca_file: str = ""
    """PEM CA bundle trusted for the server's certificate; empty: the system's CAs."""
    cert_file: str = ""
    """Client certificate for mutual TLS (with ``key_file``)."""
    key_file: str = ""
    min_version: str = "1.2"

    def validate(self) -> None:
        """A client certificate needs its key and the other way round."""
        if bool(self.cert_file) != bool(self.key_file):
            raise ConfigError("tls: cert_file and key_file go together")
        if self.insecure and (self.ca_file or self.cert_file):
            raise ConfigError("tls: insecure: true leaves ca_file/cert_file unused")
        _check_version(self.min_version)


@dataclass(frozen=True)
class ApiWritesConfig:
    """``api.writes``: the endpoints that change state (flag, tag, note, alert
    silences...), i.e. every method but GET and HEAD."""

    enabled: bool = True
    """``false`` answers every write with 403."""
    auth: AuthConfig | None = None
    """A separate token for writes; without it, writes take the same token as reads."""

    def validate(self) -> None:
        """Nothing beyond the nested sections."""
