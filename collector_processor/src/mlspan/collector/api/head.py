"""Reading and checking the head of an HTTP/1.1 request before the server parses it.

The query API's connection gate (``api.gate``) reads each request head itself, bounded
in size, so that every protocol error is answered with the API's JSON error body and
the status the error deserves (400, 411, 414, 431, 505) instead of a parser's generic
400, and so that a request refused on its head alone (access, body size) costs no body
read. A head that passes is handed on re-serialized: CRLF line ends, one
``Content-Length``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

MAX_REQUEST_LINE: Final = 65536
"""Longest request line in bytes; longer ones get 414."""
MAX_HEADER_BYTES: Final = 65536
"""Most bytes of header lines; more get 431."""
MAX_HEADERS: Final = 100
"""Most header lines; more get 431."""

HEAD_END: Final = re.compile(rb"\r?\n\r?\n")
"""The blank line ending a head (bare LF line ends are accepted, as the stdlib did)."""
_TOKEN: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET: Final = re.compile(rb"[\x21-\x7e]+")
_VERSION: Final = re.compile(rb"HTTP/([0-9])\.([0-9])")
_BAD_VALUE: Final = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_CONTENT_LENGTH: Final = re.compile(r"[0-9]{1,19}")
_SERVED_VERSIONS: Final = (b"HTTP/1.0", b"HTTP/1.1")


class HeadError(Exception):
    """A head refused with ``status`` and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Head:
    """A request head that parsed: method, target, version and headers (latin-1 text)."""

    method: str
    target: str
    version: bytes
    headers: tuple[tuple[str, str], ...]

    def items(self) -> tuple[tuple[str, str], ...]:
        """The headers as ``(name, value)`` pairs (what ``ApiAccess.check`` reads)."""
        return self.headers

    def values(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case)."""
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]

    def content_length(self, cap: int) -> int:
        """The declared body length: 411 for ``Transfer-Encoding``, 400 for conflicting
        or malformed values, 413 past ``cap``."""
        if self.values("Transfer-Encoding"):
            raise HeadError(411, "Transfer-Encoding is not accepted; send Content-Length")
        declared = {
            part.strip() for value in self.values("Content-Length") for part in value.split(",")
        }
        if len(declared) > 1:
            raise HeadError(400, "conflicting Content-Length headers")
        value = declared.pop() if declared else "0"
        if not _CONTENT_LENGTH.fullmatch(value):
            raise HeadError(400, "Content-Length is not a non-negative integer")
        if int(value) > cap:
            raise HeadError(413, f"request body over {cap} bytes")
        return int(value)

    def serialized(self, content_length: int) -> bytes:
        """The head as the server's parser reads it: CRLF line ends, one Content-Length."""
        lines = [f"{self.method} {self.target} ".encode("latin-1") + self.version]
        lines.extend(
            f"{name}: {value}".encode("latin-1")
            for name, value in self.headers
            if name.lower() != "content-length"
        )
        if content_length:
            lines.append(b"Content-Length: %d" % content_length)
        return b"\r\n".join(lines) + b"\r\n\r\n"


def check_partial(buffer: bytes | bytearray) -> None:
    """Refuse a head still arriving once it is already too long (414, 431)."""
    line_end = buffer.find(b"\n")
    if line_end < 0:
        if len(buffer) > MAX_REQUEST_LINE:
            raise HeadError(414, f"request line over {MAX_REQUEST_LINE} bytes")
        return
    if line_end > MAX_REQUEST_LINE:
        raise HeadError(414, f"request line over {MAX_REQUEST_LINE} bytes")
    if len(buffer) - line_end > MAX_HEADER_BYTES:
        raise HeadError(431, f"request headers over {MAX_HEADER_BYTES} bytes")
    if buffer.count(b"\n", line_end + 1) > MAX_HEADERS + 1:  # the blank line ends a head
        raise HeadError(431, f"more than {MAX_HEADERS} request headers")


def parse_head(raw: bytes) -> Head:
    """Parse a whole head (up to and including its blank line); ``HeadError`` if bad."""
    check_partial(raw)
    lines = [line[:-1] if line.endswith(b"\r") else line for line in raw.split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise HeadError(400, "empty request line")
    words = lines[0].split(b" ")
    if len(words) != 3:
        if len(words) == 2 and _TOKEN.fullmatch(words[0]):
            raise HeadError(400, "HTTP/0.9 requests are not served")
        raise HeadError(400, "malformed request line")
    method, target, version = words
    if not _TOKEN.fullmatch(method):
        raise HeadError(400, "malformed method")
    _check_target(target)
    if version not in _SERVED_VERSIONS:
        if _VERSION.fullmatch(version):
            raise HeadError(505, "HTTP version not supported; use HTTP/1.1")
        raise HeadError(400, "malformed HTTP version")
    if len(lines) - 1 > MAX_HEADERS:
        raise HeadError(431, f"more than {MAX_HEADERS} request headers")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise HeadError(400, "malformed header line")
        value = value.strip(b" \t")
        if _BAD_VALUE.search(value):
            raise HeadError(400, "a header value holds a control character")
        headers.append((name.decode("latin-1"), value.decode("latin-1")))
    return Head(method.decode("ascii"), target.decode("ascii"), version, tuple(headers))


def _check_target(target: bytes) -> None:
    if not _TARGET.fullmatch(target):
        raise HeadError(400, "malformed request target")
    if target.startswith(b"/") or target == b"*":
        return
    try:
        parts = urlsplit(target.decode("ascii"))
    except ValueError as exc:
        raise HeadError(400, f"malformed request target: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HeadError(400, "malformed request target")
