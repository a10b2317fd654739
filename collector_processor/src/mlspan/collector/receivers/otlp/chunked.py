"""Reading an HTTP/1.1 body sent with ``Transfer-Encoding: chunked`` (RFC 9112 §7.1).

Exporters that compress as they stream (gzip request bodies of unknown length, as
OkHttp-based ones send) use chunked bodies instead of ``Content-Length``. The body is
read chunk by chunk up to a size limit, so a client cannot make the receiver buffer
more than the limit, and any framing error ends the request (the connection cannot be
reused after it).
"""

from __future__ import annotations

from io import BufferedIOBase
from typing import Final

MAX_LINE: Final = 4096
"""Longest chunk-size or trailer line accepted (size, extensions, CRLF)."""
MAX_TRAILERS: Final = 64


class ChunkedBodyError(ValueError):
    """The chunked framing is malformed or the connection ended inside it."""


class ChunkedTooLargeError(ValueError):
    """The chunks add up to more than the limit."""


def _line(stream: BufferedIOBase) -> bytes:
    line = stream.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise ChunkedBodyError("chunk line too long")
    if not line.endswith(b"\r\n") and not line.endswith(b"\n"):
        raise ChunkedBodyError("body ended inside the chunked framing")
    return line


def read_chunked(stream: BufferedIOBase, limit: int) -> bytes:
    """The whole body (chunk data joined); raises ``ChunkedTooLargeError`` past ``limit``
    bytes and ``ChunkedBodyError`` for bad framing. Trailer fields are read and ignored."""
    parts: list[bytes] = []
    total = 0
    while True:
        size_field = _line(stream).split(b";", 1)[0].strip()
        try:
            if not size_field or not all(c in b"0123456789abcdefABCDEF" for c in size_field):
                raise ValueError(size_field)
            size = int(size_field, 16)
        except ValueError:
            raise ChunkedBodyError(f"bad chunk size {size_field[:20]!r}") from None
        if size == 0:
            break
        total += size
        if total > limit:
            raise ChunkedTooLargeError(f"chunked body over {limit} bytes")
        data = stream.read(size)
        if len(data) < size:
            raise ChunkedBodyError("body ended inside a chunk")
        parts.append(data)
        if _line(stream).strip():
            raise ChunkedBodyError("chunk data longer than its size")
    for _ in range(MAX_TRAILERS):
        if not _line(stream).strip():
            return b"".join(parts)
    raise ChunkedBodyError("too many trailer fields")
