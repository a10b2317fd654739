"""Request heads as the API's connection gate reads them: statuses and re-serialization."""

from __future__ import annotations

import pytest

from mlspan.collector.api.head import (
    HEAD_END,
    MAX_HEADERS,
    HeadError,
    check_partial,
    parse_head,
)


def status_of(raw: bytes) -> int:
    with pytest.raises(HeadError) as refused:
        parse_head(raw)
    return refused.value.status


def test_a_plain_head_parses_and_serializes_with_one_content_length() -> None:
    head = parse_head(
        b"POST /api/v1/x?y=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
        b"content-length: 2\r\nX-Tab:\tv \r\n\r\n"
    )
    assert (head.method, head.target, head.version) == ("POST", "/api/v1/x?y=1", b"HTTP/1.1")
    assert head.values("CONTENT-LENGTH") == ["2", "2"]
    assert head.content_length(10) == 2
    assert head.serialized(2) == (
        b"POST /api/v1/x?y=1 HTTP/1.1\r\nHost: a\r\nX-Tab: v\r\nContent-Length: 2\r\n\r\n"
    )


def test_bare_line_feeds_are_read_and_sent_on_as_crlf() -> None:
    raw = b"GET / HTTP/1.0\nHost: a\n\n"
    match = HEAD_END.search(raw)
    assert match is not None and match.end() == len(raw)
    assert parse_head(raw).serialized(0) == b"GET / HTTP/1.0\r\nHost: a\r\n\r\n"


def test_exactly_the_header_cap_is_accepted_one_more_is_431() -> None:
    lines = b"".join(b"X-%d: 1\r\n" % i for i in range(MAX_HEADERS))
    assert len(parse_head(b"GET / HTTP/1.1\r\n" + lines + b"\r\n").headers) == MAX_HEADERS
    check_partial(b"GET / HTTP/1.1\r\n" + lines + b"\r\n")
    assert status_of(b"GET / HTTP/1.1\r\n" + lines + b"X-Last: 1\r\n\r\n") == 431


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /a\r\n\r\n", 400),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET  / HTTP/1.1\r\n\r\n", 400),
        (b"G(T / HTTP/1.1\r\n\r\n", 400),
        (b"GET /\xff HTTP/1.1\r\n\r\n", 400),
        (b"GET http://[::1/ HTTP/1.1\r\n\r\n", 400),
        (b"GET ftp://x/ HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/1.2\r\n\r\n", 505),
        (b"GET / HTTX/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n folded: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    ],
)
def test_malformed_heads_get_their_status(raw: bytes, status: int) -> None:
    assert status_of(raw) == status


def test_absolute_targets_are_accepted() -> None:
    assert parse_head(b"GET http://host:1/a?b HTTP/1.1\r\n\r\n").target == "http://host:1/a?b"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"Transfer-Encoding: chunked\r\n", 411),
        (b"Content-Length: 5\r\nContent-Length: 6\r\n", 400),
        (b"Content-Length: 5, 6\r\n", 400),
        (b"Content-Length: -1\r\n", 400),
        (b"Content-Length: 1e3\r\n", 400),
        (b"Content-Length: 99999999999999999999\r\n", 400),
        (b"Content-Length: 11\r\n", 413),
    ],
)
def test_body_framing_is_checked(headers: bytes, status: int) -> None:
    head = parse_head(b"POST / HTTP/1.1\r\n" + headers + b"\r\n")
    with pytest.raises(HeadError) as refused:
        head.content_length(10)
    assert refused.value.status == status


def test_partial_heads_are_refused_as_soon_as_they_are_too_long() -> None:
    check_partial(b"GET /" + b"a" * 1000)
    with pytest.raises(HeadError, match="request line"):
        check_partial(b"GET /" + b"a" * 70_000)
    with pytest.raises(HeadError, match="headers over"):
        check_partial(b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000)
