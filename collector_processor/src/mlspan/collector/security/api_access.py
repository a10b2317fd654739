"""Who may read and who may write through the query API.

Reads (GET, HEAD) need a read token when ``api.auth`` is set; writes (every other
method: flag, tag, note, silences...) need the write token when ``api.writes.auth`` is
set, or else the read token, and are refused outright when ``api.writes.enabled`` is
false. A write token also reads, so one client can hold a single token. Answers:
401 with ``WWW-Authenticate`` for a missing or wrong token, 403 when the token is valid
but only for reading, or when writes are disabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mlspan.collector.security.bearer import (
    BearerAuthenticator,
    Headers,
    Verdict,
    http_authenticator,
)
from mlspan.collector.security.config import ApiWritesConfig, AuthConfig

READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Refusal:
    """A refused request: the status, a message and extra headers."""

    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()


class ApiAccess:
    """Decides, from the method and headers alone, whether a request may proceed."""

    def __init__(
        self,
        read: BearerAuthenticator | None,
        write: BearerAuthenticator | None,
        writes_enabled: bool = True,
    ) -> None:
        self.read = read
        self.write = write
        self.writes_enabled = writes_enabled

    @classmethod
    def from_config(cls, auth: AuthConfig | None, writes: ApiWritesConfig) -> ApiAccess:
        """Build from ``api.auth`` and ``api.writes``; raises ``TokenError``."""
        write = http_authenticator(writes.auth) if writes.enabled else None
        return cls(http_authenticator(auth), write, writes.enabled)

    @property
    def open_to_anyone(self) -> bool:
        """Whether reads need no token (writes then fall back to the same rule)."""
        return self.read is None

    def check(self, method: str, headers: Headers) -> Refusal | None:
        """None when the request may proceed, else how to refuse it."""
        if method.upper() in READ_METHODS:
            return self._check_read(headers)
        return self._check_write(headers)

    def _check_read(self, headers: Headers) -> Refusal | None:
        if self.read is None:
            return None
        verdict = self.read.check_headers(headers)
        if verdict is Verdict.ACCEPTED:
            return None
        if self.write is not None and self.write.check_headers(headers) is Verdict.ACCEPTED:
            return None
        return _unauthorized(self.read, verdict)

    def _check_write(self, headers: Headers) -> Refusal | None:
        if not self.writes_enabled:
            return Refusal(403, "writes are disabled on this collector (api.writes.enabled)")
        if self.write is None:
            return self._check_read(headers)
        verdict = self.write.check_headers(headers)
        if verdict is Verdict.ACCEPTED:
            return None
        if self.read is not None and self.read.check_headers(headers) is Verdict.ACCEPTED:
            challenge = f'{self.write.tokens.config.scheme} error="insufficient_scope"'
            return Refusal(
                403,
                "this token may only read; writes need the write token",
                (("WWW-Authenticate", challenge),),
            )
        return _unauthorized(self.write, verdict)


def _unauthorized(authenticator: BearerAuthenticator, verdict: Verdict) -> Refusal:
    denial = authenticator.deny(verdict)
    return Refusal(401, denial.message, (("WWW-Authenticate", denial.challenge),))
