"""A small JSON client for the collector's query API, used by the ``mlspan`` CLI.

Errors come back as ``ApiError`` (the server answered with an error body) or
``ApiUnreachableError`` (no answer at all), each with a one-line message for people.

A collector whose API asks for a token (docs/security.md) is reached with the token in
``$MLSPAN_API_TOKEN`` (or a file named by ``$MLSPAN_API_TOKEN_FILE``), sent as
``Authorization: Bearer``; an ``https`` API with a private CA is trusted through
``$MLSPAN_API_CA_FILE``.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, Final

DEFAULT_API: Final = "http://127.0.0.1:4319"
API_ENV: Final = "MLSPAN_API"
TOKEN_ENV: Final = "MLSPAN_API_TOKEN"
TOKEN_FILE_ENV: Final = "MLSPAN_API_TOKEN_FILE"
CA_FILE_ENV: Final = "MLSPAN_API_CA_FILE"
READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods sent without ``Content-Type``; every other one says JSON."""


class ApiError(Exception):
    """The API answered with an error status; ``message`` is its explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ApiUnreachableError(Exception):
    """Nothing answered at the API URL."""


def segment(value: str) -> str:
    """``value`` as one percent-encoded path segment (``/`` included)."""
    return urllib.parse.quote(value, safe=":")


def token_from_environment(environ: Mapping[str, str] | None = None) -> str | None:
    """The API token from ``$MLSPAN_API_TOKEN``, else from the file named by
    ``$MLSPAN_API_TOKEN_FILE`` (its first line); None when neither is set."""
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV, "").strip()
    if token:
        return token
    path = env.get(TOKEN_FILE_ENV, "")
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().split()
    except OSError as exc:
        raise ApiUnreachableError(f"${TOKEN_FILE_ENV}: cannot read {path}: {exc}") from None
    return lines[0] if lines else None


def open_url(
    request: urllib.request.Request | str,
    timeout: float,
    token: str | None = None,
    ca_file: str | None = None,
) -> http.client.HTTPResponse:
    """``urlopen`` with the bearer token and the trusted CA of the API."""
    if isinstance(request, str):
        request = urllib.request.Request(request)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None
    response: http.client.HTTPResponse = urllib.request.urlopen(
        request, timeout=timeout, context=context
    )
    return response


def open_api_url(url: str, timeout: float) -> http.client.HTTPResponse:
    """``open_url`` with the token and CA taken from the environment (CLI commands)."""
    return open_url(url, timeout, token_from_environment(), os.environ.get(CA_FILE_ENV) or None)


class ApiClient:
    """Calls ``base_url`` + path and decodes JSON answers.

    ``token`` and ``ca_file`` default to the environment (``$MLSPAN_API_TOKEN`` or
    ``$MLSPAN_API_TOKEN_FILE``, ``$MLSPAN_API_CA_FILE``).
    """

    def __init__(
        self,
        base_url: str,
        timeout: float = 30.0,
        token: str | None = None,
        ca_file: str | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._token = token
        self._ca_file = ca_file if ca_file is not None else os.environ.get(CA_FILE_ENV) or None

    @property
    def base_url(self) -> str:
        """The API base URL."""
        return self._base

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, object | None] | None = None,
        body: Any = None,
    ) -> Any:
        """Send one request; the decoded JSON answer, or ``ApiError``/``ApiUnreachableError``."""
        query = {
            k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in (params or {}).items()
            if v is not None
        }
        url = self._base + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None or method.upper() not in READ_METHODS:
            # writes must say JSON even without a body (the API answers 415 otherwise)
            request.add_header("Content-Type", "application/json")
        try:
            token = self._token if self._token is not None else token_from_environment()
            with open_url(request, self._timeout, token, self._ca_file) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            with exc:
                raise ApiError(exc.code, _error_message(exc.read(), exc.code)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiUnreachableError(
                f"cannot reach the collector at {self._base}: {reason}"
            ) from None
        except (ValueError, RecursionError) as exc:
            raise ApiUnreachableError(f"{url} did not answer with JSON: {exc}") from None


def _error_message(body: bytes, status: int) -> str:
    try:
        message = json.loads(body)["error"]["message"]
        return str(message)
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}"
