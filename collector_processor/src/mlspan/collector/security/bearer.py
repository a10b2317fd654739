"""Checking and sending ``Authorization: Bearer <token>`` (RFC 6750).

``BearerAuthenticator`` is the server side: it reads the configured header from a
request's headers (HTTP) or metadata (gRPC) and says whether the token is missing,
wrong, or accepted. ``BearerCredentials`` is the client side: the header to send, taken
from the token source on every call so that a rotated file is followed.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from mlspan.collector.security.config import AuthConfig, BearerTokensConfig
from mlspan.collector.security.tokens import TokenSet

REALM: Final = "mlspan"


class Headers(Protocol):
    """Request headers: a mapping or ``http.server``'s ``email.message.Message``."""

    def items(self) -> Iterable[tuple[str, str]]:
        """``(name, value)`` pairs."""
        ...


class Verdict(enum.Enum):
    """What a request's credentials amount to."""

    ACCEPTED = "accepted"
    MISSING = "missing"
    INVALID = "invalid"


@dataclass(frozen=True)
class Denial:
    """Why a request was refused, with the ``WWW-Authenticate`` challenge to send."""

    verdict: Verdict
    message: str
    challenge: str


class BearerAuthenticator:
    """Accepts requests that carry one of the configured tokens."""

    def __init__(self, tokens: TokenSet) -> None:
        self.tokens = tokens
        self.header = tokens.config.header.lower()
        self._scheme = tokens.config.scheme.lower()

    @classmethod
    def from_config(cls, config: BearerTokensConfig) -> BearerAuthenticator:
        """Read the tokens now; raises ``TokenError`` when none can be read."""
        return cls(TokenSet(config))

    def check(self, value: str | None) -> Verdict:
        """The verdict on one header value (``None`` when the header is absent)."""
        if value is None or not value.strip():
            return Verdict.MISSING
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != self._scheme or not token.strip():
            return Verdict.INVALID
        return Verdict.ACCEPTED if self.tokens.matches(token.strip()) else Verdict.INVALID

    def check_headers(self, headers: Headers) -> Verdict:
        """The verdict on HTTP headers (any case of the header name)."""
        for name, value in headers.items():
            if name.lower() == self.header:
                return self.check(value)
        return Verdict.MISSING

    def check_metadata(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> Verdict:
        """The verdict on gRPC invocation metadata."""
        for key, value in metadata or ():
            if key == self.header:
                return self.check(value if isinstance(value, str) else None)
        return Verdict.MISSING

    def deny(self, verdict: Verdict) -> Denial:
        """The answer for a refused request: a message and an RFC 6750 challenge."""
        scheme = self.tokens.config.scheme
        if verdict is Verdict.MISSING:
            return Denial(verdict, "authentication required", f'{scheme} realm="{REALM}"')
        return Denial(
            verdict,
            "invalid or expired token",
            f'{scheme} realm="{REALM}", error="invalid_token"',
        )


class BearerCredentials:
    """The header a client sends: ``(header, "<scheme> <token>")``."""

    def __init__(self, tokens: TokenSet) -> None:
        self.tokens = tokens

    @classmethod
    def from_config(cls, config: BearerTokensConfig) -> BearerCredentials:
        """Read the token now; raises ``TokenError`` when none can be read."""
        return cls(TokenSet(config))

    def header(self) -> tuple[str, str]:
        """Header name and value, the token read afresh (cheap: a file is re-read only
        when it changed)."""
        config = self.tokens.config
        return config.header, f"{config.scheme} {self.tokens.first}"


def http_authenticator(auth: AuthConfig | None) -> BearerAuthenticator | None:
    """The authenticator of an ``auth`` section (None without one), reading its tokens
    now; raises ``TokenError`` when they cannot be read."""
    if auth is None or auth.bearer_tokens is None:
        return None
    return BearerAuthenticator.from_config(auth.bearer_tokens)
