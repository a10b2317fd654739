"""Query API fuzzing: every route of the collector's ``/openapi.json``, hostile inputs.

``ApiFuzzer`` reads the route list from the running server (so new routes are fuzzed
without changes here) and builds raw HTTP requests: path parameters that are huge,
percent-encoded garbage or lone surrogates; query parameters that overflow or are not
numbers (``cursor=99999999999999999999.x``, ``since=1e18``,
``stale_after_days=1e308``...); write bodies of the wrong JSON type, nested 50,000
levels, invalid UTF-8 or truncated; and methods no route declares (HEAD, OPTIONS...).
Each request is a raw ``Payload`` of transport ``api``, so failures save and replay like
OTLP ones.
"""

from __future__ import annotations

import json
import random
import urllib.request
from typing import Any, Final
from urllib.parse import quote

from tests.fuzz.payloads import JSON, Payload

API: Final = "api"
PATH_VALUES: Final = (
    "x",
    "",
    "%ED%A0%80",
    "%FF%FE",
    "%00",
    "..%2F..%2Fetc%2Fpasswd",
    "a" * 5000,
    "%25",
    "data:" + "f" * 64,
    "%F0%9F%98%80",
    "file:%0A%0D",
    "9" * 40,
)
QUERY_VALUES: Final = (
    "",
    "-1",
    "0",
    "1e18",
    "1e308",
    "1e309",
    "-1e308",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "99999999999999999999",
    "99999999999999999999.x",
    "1.5",
    "0x10",
    "%ED%A0%80",
    "%FF",
    "%00",
    "x" * 10_000,
    "1_000",
    "true",
    "[1]",
)
BODIES: Final[tuple[bytes, ...]] = (
    b"[1]",
    b'"x"',
    b"5",
    b"null",
    b"true",
    b"{}",
    b'{"reason": 5}',
    b'{"reason": null, "tags": "x"}',
    b'{"tags": [1, null, {}]}',
    b'{"text": ["a"]}',
    b'{"tags": {"a": {"b": 1}}}',
    b'{"reason": "' + b"r" * 200_000 + b'"}',
    b"[" * 50_000 + b"]" * 50_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b'{"reason": "\xff\xfe"}',
    b'{"reason": "\\ud800"}',
    b'{"\\ud800": 1}',
    b'{"reason": "x"',
    b"",
    b"\x00\x01\x02",
    b'{"reason": 1e999}',
    b'{"reason": NaN}',
)
ODD_METHODS: Final = ("HEAD", "OPTIONS", "TRACE", "CONNECT", "FOO", "PUT", "PATCH")


class ApiFuzzer:
    """Raw requests against the routes a running API server describes."""

    def __init__(self, api_url: str, seed: int, known_ids: list[str] | None = None) -> None:
        self.host = api_url.removeprefix("http://").rstrip("/")
        self.rng = random.Random(seed)
        self.known_ids = known_ids or []
        with urllib.request.urlopen(f"{api_url}/openapi.json", timeout=30) as response:
            document: dict[str, Any] = json.load(response)
        self.routes: list[tuple[str, str, list[dict[str, Any]], bool]] = [
            (method.upper(), path, list(op.get("parameters", [])), "requestBody" in op)
            for path, operations in document["paths"].items()
            for method, op in operations.items()
        ]

    def _path_value(self) -> str:
        if self.known_ids and self.rng.random() < 0.4:
            return self.rng.choice(self.known_ids)
        return self.rng.choice(PATH_VALUES)

    def _query(self, parameters: list[dict[str, Any]]) -> str:
        names = [p["name"] for p in parameters if p.get("in") == "query"]
        names += self.rng.sample(["limit", "cursor", "since", "x"], self.rng.randint(0, 2))
        chosen = [n for n in names if self.rng.random() < 0.7]
        pairs = [f"{n}={self.rng.choice(QUERY_VALUES)}" for n in chosen]
        if self.rng.random() < 0.1 and chosen:
            pairs.append(f"{chosen[0]}=1")  # the same parameter twice
        return ("?" + "&".join(pairs)) if pairs else ""

    def next(self) -> Payload:
        """One fuzzed request to a random route (or a method it does not declare)."""
        rng = self.rng
        method, template, parameters, has_body = rng.choice(self.routes)
        path = template
        for parameter in parameters:
            if parameter.get("in") == "path":
                value = self._path_value()
                encoded = value if "%" in value else quote(value, safe=":")
                path = path.replace("{" + parameter["name"] + "}", encoded)
        path += self._query(parameters)
        if rng.random() < 0.1:
            method = rng.choice(ODD_METHODS)
        body = b""
        if has_body or rng.random() < 0.05:
            body = rng.choice(BODIES)
            if rng.random() < 0.3:
                body = json.dumps({"reason": "r", "tags": ["a"], "text": "t"}).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nConnection: close\r\n"
        if body or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Type: {JSON}\r\nContent-Length: {len(body)}\r\n"
        raw = head.encode("latin-1", "replace") + b"\r\n" + body
        return Payload(API, "api", f"{method} {template}", raw, JSON, raw=True)
