"""A small JSON client for the collector's query API, used by the ``mlspan`` CLI.

Errors come back as ``ApiError`` (the server answered with an error body) or
``ApiUnreachableError`` (no answer at all), each with a one-line message for people.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, Final

DEFAULT_API: Final = "http://127.0.0.1:4319"
API_ENV: Final = "MLSPAN_API"


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


class ApiClient:
    """Calls ``base_url`` + path and decodes JSON answers."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout

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
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            with exc:
                raise ApiError(exc.code, _error_message(exc.read(), exc.code)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiUnreachableError(
                f"cannot reach the collector at {self._base}: {reason}"
            ) from None
        except ValueError as exc:
            raise ApiUnreachableError(f"{url} did not answer with JSON: {exc}") from None


def _error_message(body: bytes, status: int) -> str:
    try:
        message = json.loads(body)["error"]["message"]
        return str(message)
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}"
