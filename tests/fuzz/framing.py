"""HTTP framing abuse: raw requests to an OTLP/HTTP receiver whose headers lie.

Each builder takes a random source, the receiver's ``host:port`` and a valid body and
returns a label and the raw bytes of one request: wrong or odd content types, unknown
or lying content encodings (a gzip "bomb" included), Content-Length lies, chunked
bodies with bad sizes, extensions or no end, unusual methods, paths and versions, and
oversized header sections. The sender half-closes after writing, so a request that
promises more body than it sends meets end-of-file rather than a wait.
"""

from __future__ import annotations

import gzip
import random
import zlib
from collections.abc import Callable
from functools import lru_cache
from typing import Final

FramingBuilder = Callable[[random.Random, str, bytes], tuple[str, bytes]]

CONTENT_TYPES: Final = (
    "text/plain",
    "application/protobuf",
    "application/json; charset=utf-16",
    "application/x-protobuf; charset=\x7f",
    "",
    "application/x-protobuf, application/json",
    "APPLICATION/JSON",
    "application/" + "x" * 10_000,
    "multipart/form-data; boundary=x",
)
PROTOBUF: Final = "application/x-protobuf"


def _request(
    host: str,
    headers: list[tuple[str, str]],
    body: bytes,
    method: str = "POST",
    path: str = "/v1/traces",
    version: str = "HTTP/1.1",
) -> bytes:
    head = f"{method} {path} {version}\r\nHost: {host}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("latin-1", "replace") + b"\r\n" + body


def content_type(rng: random.Random, host: str, body: bytes) -> tuple[str, bytes]:
    """An unsupported, parameterised, listed or very long Content-Type."""
    value = rng.choice(CONTENT_TYPES)
    headers = [("Content-Type", value), ("Content-Length", str(len(body)))]
    return "content_type", _request(host, headers, body)


@lru_cache(maxsize=1)
def _bomb() -> bytes:
    """64 MiB of zeros, gzipped (about 64 KB)."""
    return gzip.compress(bytes(64 << 20), compresslevel=9)


def content_encoding(rng: random.Random, host: str, body: bytes) -> tuple[str, bytes]:
    """Unknown encodings, a body that is not what the encoding says, a truncated or
    concatenated gzip stream, or a gzip bomb."""
    which = rng.randrange(6)
    encoding, data = "gzip", body
    if which == 0:
        encoding = rng.choice(("br", "zstd", "compress", "gzip, gzip", "x" * 500))
    elif which == 1:
        data = gzip.compress(body)[: rng.randint(0, 40)]
    elif which == 2:
        data = _bomb()
    elif which == 3:
        encoding, data = "deflate", zlib.compress(body)[:-3] + b"\x00\x00\x00"
    elif which == 4:
        data = gzip.compress(body) + rng.randbytes(20)
    headers = [("Content-Type", PROTOBUF), ("Content-Encoding", encoding)]
    headers.append(("Content-Length", str(len(data))))
    return f"content_encoding:{which}", _request(host, headers, data)


def length_lie(rng: random.Random, host: str, body: bytes) -> tuple[str, bytes]:
    """Content-Length shorter or longer than the body, negative, not a number,
    enormous, repeated with two values, or missing."""
    which = rng.randrange(7)
    values = {
        0: [str(max(0, len(body) - rng.randint(1, 50)))],
        1: [str(len(body) + rng.randint(1, 5000))],
        2: ["-1"],
        3: [rng.choice(("abc", "1e3", "0x10", " 12", "1_000", "１２"))],
        4: ["99999999999999999999"],
        5: [str(len(body)), str(len(body) + 7)],
        6: [],
    }[which]
    headers = [("Content-Type", PROTOBUF)] + [("Content-Length", v) for v in values]
    return f"length_lie:{which}", _request(host, headers, body)


def _chunks(body: bytes, size: int) -> bytes:
    out = b"".join(
        f"{len(body[i : i + size]):x}\r\n".encode() + body[i : i + size] + b"\r\n"
        for i in range(0, len(body), size)
    )
    return out + b"0\r\n\r\n"


def chunked(rng: random.Random, host: str, body: bytes) -> tuple[str, bytes]:
    """Chunked bodies: bad sizes, sizes past the data, no last chunk, extensions,
    trailers, thousands of 1-byte chunks, chunked together with Content-Length."""
    which = rng.randrange(8)
    headers = [("Content-Type", PROTOBUF), ("Transfer-Encoding", "chunked")]
    if which == 0:
        data = (
            rng.choice((b"zz", b"-5", b"", b"1" * 40, b"0x10")) + b"\r\n" + body + b"\r\n0\r\n\r\n"
        )
    elif which == 1:
        data = f"{len(body) + 1000:x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    elif which == 2:
        data = _chunks(body, 512)[:-5]
    elif which == 3:
        data = f"{len(body):x};ext=1;x\r\n".encode() + body + b"\r\n0\r\nX-Trailer: 1\r\n\r\n"
    elif which == 4:
        data = _chunks(body[:5000], 1)
    elif which == 5:
        headers.append(("Content-Length", str(len(body) // 2)))
        data = _chunks(body, 4096)
    elif which == 6:
        headers[1] = (
            "Transfer-Encoding",
            rng.choice(("gzip, chunked", "chunked, identity", " Chunked ", "chunkedx")),
        )
        data = _chunks(body, 4096)
    else:
        data = _chunks(body, 4096).replace(b"\r\n", b"\n")
    return f"chunked:{which}", _request(host, headers, data)


def request_line(rng: random.Random, host: str, body: bytes) -> tuple[str, bytes]:
    """Other methods, odd paths and versions, broken request lines and headers."""
    which = rng.randrange(7)
    headers = [("Content-Type", PROTOBUF), ("Content-Length", str(len(body)))]
    if which == 0:
        method = rng.choice(("GET", "PUT", "HEAD", "OPTIONS", "DELETE", "TRACE", "FOO", "PATCH"))
        return f"request_line:method:{method}", _request(host, headers, body, method=method)
    if which == 1:
        path = rng.choice(
            (
                "/v1/traces?x=1",
                "/v1/traces/",
                "/v1//traces",
                "/%ff",
                "*",
                "/" + "a" * 70_000,
                "/v1/traces#f",
            )
        )
        return "request_line:path", _request(host, headers, body, path=path)
    if which == 2:
        version = rng.choice(("HTTP/1.0", "HTTP/2.0", "HTTP/0.9", "HTTP/9.9", "HTTP/1.1x", ""))
        return "request_line:version", _request(host, headers, body, version=version)
    if which == 3:
        return "request_line:garbage", rng.randbytes(rng.randint(1, 200)) + b"\r\n\r\n"
    if which == 4:
        headers += [(f"X-H{i}", "v") for i in range(rng.choice((150, 2000)))]
        return "request_line:many_headers", _request(host, headers, body)
    if which == 5:
        headers.append(("X-Long", "v" * rng.choice((70_000, 200_000))))
        return "request_line:long_header", _request(host, headers, body)
    raw = _request(host, headers, body).replace(b"Content-Type: ", b"Content-Type ", 1)
    return "request_line:no_colon", raw


FRAMING_BUILDERS: Final[dict[str, FramingBuilder]] = {
    "content_type": content_type,
    "content_encoding": content_encoding,
    "length_lie": length_lie,
    "chunked": chunked,
    "request_line": request_line,
}
