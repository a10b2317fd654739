"""Bearer tokens read from files and environment variables, compared in constant time.

A ``TokenSet`` holds the SHA-256 digests of the accepted tokens; ``matches`` hashes the
presented token and compares it with every digest using ``hmac.compare_digest``, so
neither the time taken nor the token length tells an attacker how close a guess was.
Files are checked for changes at most once per ``RELOAD_SECONDS``: a rotated Secret is
picked up without a restart, and a file that cannot be read then keeps the tokens
already loaded (a Kubernetes Secret update swaps a symlink, briefly).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from mlspan.collector.pipeline.factory import ConfigError
from mlspan.collector.security.config import BearerTokensConfig

logger = logging.getLogger(__name__)

RELOAD_SECONDS: Final = 1.0
MIN_TOKEN_LENGTH: Final = 16
"""Shorter tokens are accepted but logged as weak (guessable)."""
_SEPARATORS: Final = re.compile(r"[\s,]+")


class TokenError(ConfigError):
    """The configured token source is missing or empty (a configuration error found at
    start-up, when the values are read)."""


def split_tokens(text: str) -> tuple[str, ...]:
    """The tokens in ``text``: separated by whitespace, newlines or commas."""
    return tuple(token for token in _SEPARATORS.split(text) if token)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class TokenSet:
    """The tokens of one ``bearer_tokens`` section."""

    def __init__(
        self,
        config: BearerTokensConfig,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._environ = os.environ if environ is None else environ
        self._clock = clock
        self._lock = threading.Lock()
        self._file_state: tuple[int, int] | None = None
        self._checked = clock()
        self._tokens, self._digests = self._load(strict=True)

    @property
    def first(self) -> str:
        """The token a client sends: the first one of the file, else of the variable."""
        self._maybe_reload()
        return self._tokens[0]

    def matches(self, candidate: str) -> bool:
        """Whether ``candidate`` is one of the tokens, in time independent of both."""
        self._maybe_reload()
        presented = _digest(candidate)
        found = False
        for digest in self._digests:
            found |= hmac.compare_digest(presented, digest)
        return found

    def __len__(self) -> int:
        return len(self._tokens)

    def _maybe_reload(self) -> None:
        if not self.config.token_file:
            return
        now = self._clock()
        if now - self._checked < RELOAD_SECONDS:
            return
        with self._lock:
            if now - self._checked < RELOAD_SECONDS:
                return
            self._checked = now
            try:
                if self._stat() == self._file_state:
                    return
                tokens, digests = self._load(strict=False)
            except (OSError, TokenError) as exc:
                logger.warning("keeping the loaded tokens: %s", exc)
                return
            self._tokens, self._digests = tokens, digests
            logger.info("tokens reloaded from %s", self.config.token_file)

    def _stat(self) -> tuple[int, int]:
        stat = Path(self.config.token_file).stat()
        return stat.st_mtime_ns, stat.st_size

    def _load(self, strict: bool) -> tuple[tuple[str, ...], tuple[bytes, ...]]:
        config = self.config
        tokens: list[str] = []
        if config.token_file:
            try:
                state = self._stat()
                text = Path(config.token_file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise TokenError(f"cannot read token_file {config.token_file}: {exc}") from exc
            self._file_state = state
            tokens.extend(split_tokens(text))
        if config.token_env:
            value = self._environ.get(config.token_env)
            if value is None:
                raise TokenError(f"token_env: ${config.token_env} is not set")
            tokens.extend(split_tokens(value))
        if not tokens:
            sources = " and ".join(
                f"{kind} {name}"
                for kind, name in (
                    ("token_file", config.token_file),
                    ("token_env", config.token_env),
                )
                if name
            )
            raise TokenError(f"no token in {sources}")
        if strict:
            weak = sum(len(token) < MIN_TOKEN_LENGTH for token in tokens)
            if weak:
                logger.warning(
                    "%d bearer token(s) shorter than %d characters: use long random tokens",
                    weak,
                    MIN_TOKEN_LENGTH,
                )
        unique = tuple(dict.fromkeys(tokens))
        return unique, tuple(_digest(token) for token in unique)
