"""Reading and decoding the body of an OTLP/HTTP request.

The framing (``Content-Length`` or ``Transfer-Encoding: chunked``, RFC 9112 §6.3) is
checked and the body read up to ``max_request_body_size``; then its media type and
``Content-Encoding`` are checked and it is decompressed (bounded again) and, for JSON,
turned into protobuf bytes. A refused body raises ``BodyRefused`` with the ``Status``
to answer; reads run under the handler's body deadline (``TimeoutError`` passes
through).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from io import BufferedIOBase

from mlspan.collector.receivers.otlp.chunked import (
    ChunkedBodyError,
    ChunkedTooLargeError,
    read_chunked,
)
from mlspan.collector.receivers.otlp.decode import (
    JSON,
    SUPPORTED_ENCODINGS,
    SUPPORTED_TYPES,
    DecodeFailure,
    TooLargeError,
    decompress,
    json_to_protobuf,
    media_type,
)
from mlspan.collector.receivers.otlp.ingest import Status


class BodyRefused(Exception):
    """The request's body is refused with ``status``; ``linger`` bytes of it are still
    on the way (thrown away before closing so the client reads the answer)."""

    def __init__(self, status: Status, message: str, linger: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.linger = linger


@dataclass(frozen=True)
class Body:
    """A body read whole; ``close`` when the connection cannot be reused after it."""

    data: bytes
    close: bool = False


def is_json(headers: Message) -> bool:
    """Whether the request's media type is OTLP/JSON (answers then use JSON too)."""
    return media_type(headers.get("Content-Type", "")) == JSON


def declared_length(headers: Message) -> int:
    """The ``Content-Length`` as a number, 0 when absent or not a number."""
    try:
        return max(0, int(headers.get("Content-Length") or 0))
    except ValueError:
        return 0


def read_body(rfile: BufferedIOBase, headers: Message, limit: int) -> Body:
    """The body framed by ``Content-Length`` or chunked; raises ``BodyRefused``, after
    which the connection must be closed."""
    transfer = headers.get("Transfer-Encoding", "").strip().lower()
    length_header = headers.get("Content-Length")
    if transfer:
        return _read_chunked(rfile, transfer, length_header is not None, limit)
    if length_header is None:
        raise BodyRefused(Status.MALFORMED, "Content-Length or chunked body required")
    try:
        length = int(length_header)
        if length < 0:
            raise ValueError(length_header)
    except ValueError:
        raise BodyRefused(Status.MALFORMED, "Content-Length is not a valid integer") from None
    if length > limit:
        raise BodyRefused(Status.TOO_LARGE, f"body of {length} bytes over {limit}", length)
    data = rfile.read(length)
    if len(data) < length:
        raise BodyRefused(Status.MALFORMED, "body shorter than Content-Length")
    return Body(data)


def _read_chunked(rfile: BufferedIOBase, transfer: str, has_length: bool, limit: int) -> Body:
    """A ``Transfer-Encoding: chunked`` body. With a Content-Length as well, the
    transfer coding wins and the connection is closed afterwards (RFC 9112 §6.3)."""
    if transfer != "chunked":
        raise BodyRefused(Status.MALFORMED, f"Transfer-Encoding '{transfer}' is not supported")
    try:
        data = read_chunked(rfile, limit)
    except ChunkedTooLargeError as exc:
        raise BodyRefused(Status.TOO_LARGE, str(exc)) from None
    except ChunkedBodyError as exc:
        raise BodyRefused(Status.MALFORMED, str(exc)) from None
    return Body(data, close=has_length)


def decode_body(body: bytes, headers: Message, limit: int) -> bytes:
    """Protobuf ``ExportTraceServiceRequest`` bytes from a body read whole: checks the
    media type and encoding, decompresses (bounded by ``limit``), converts JSON.
    Raises ``BodyRefused`` (the connection stays usable)."""
    content_type = media_type(headers.get("Content-Type", ""))
    encoding = headers.get("Content-Encoding", "").strip().lower()
    if content_type not in SUPPORTED_TYPES:
        raise BodyRefused(
            Status.UNSUPPORTED_MEDIA, f"Content-Type '{content_type}' is not supported"
        )
    if encoding not in SUPPORTED_ENCODINGS:
        raise BodyRefused(
            Status.UNSUPPORTED_MEDIA, f"Content-Encoding '{encoding}' is not supported"
        )
    try:
        raw = decompress(body, encoding, limit)
        if content_type == JSON:
            raw = json_to_protobuf(raw)
    except TooLargeError as exc:
        raise BodyRefused(Status.TOO_LARGE, str(exc)) from None
    except DecodeFailure as exc:
        raise BodyRefused(Status.MALFORMED, str(exc)) from None
    return raw


def drain(rfile: BufferedIOBase, headers: Message, limit: int) -> bool:
    """Read and drop the body of a request refused for its path or method, so the
    connection can serve the next one; False when it must be closed instead (a chunked
    body, not worth reading to refuse it, or a bad or oversized Content-Length)."""
    if headers.get("Transfer-Encoding"):
        return False
    try:
        length = int(headers.get("Content-Length", "0"))
    except ValueError:
        return False
    if not 0 <= length <= limit:
        return False
    rfile.read(length)
    return True
