"""OTLP/JSON bodies that once got 500 (or no answer): each class is answered 400 with a
``google.rpc.Status`` message and counted once as ``malformed``; protobuf that does not
parse gets INVALID_ARGUMENT over gRPC. The decoder itself raises only ``DecodeFailure``
whatever JSON value stands anywhere in a valid document."""

from __future__ import annotations

import base64
import copy
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import code_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlspan.collector.receivers.otlp.decode import DecodeFailure, json_to_protobuf
from mlspan.collector.receivers.otlp.http_answers import status_body
from mlspan.collector.receivers.otlp.ingest import printable
from tests.collector.ingest.test_bad_input import Target
from tests.support.otlp_client import http_post
from tests.support.spans import ml_request

JSON = "application/json"
TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"


def _otlp_json_document() -> dict[str, Any]:
    """A valid OTLP/JSON request (hex ids) of two ML spans."""
    document = json_format.MessageToDict(ml_request(2))
    for resource in document["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return document


DOCUMENT = _otlp_json_document()
VALID = json.dumps(DOCUMENT).encode()


def _span(fields: str) -> bytes:
    """A one-span document; ``fields`` is raw JSON inserted into the span object."""
    return (
        b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"' + TRACE_ID.encode() + b'",'
        b'"spanId":"' + SPAN_ID.encode() + b'",' + fields.encode() + b"}]}]}]}"
    )


def _nested(depth: int) -> bytes:
    value = b'{"arrayValue":{"values":[' * depth + b'{"stringValue":"x"}' + b"]}}" * depth
    return _span('"name":"deep","attributes":[{"key":"d","value":' + value.decode() + "}]")


BAD_BODIES: dict[str, bytes] = {
    # invalid UTF-8 and other encodings
    "invalid utf-8 in a value": _span('"name":"x') + b"\xff\xfe",
    "invalid utf-8 at the start": b"\xff" + VALID,
    "a lone continuation byte": VALID.replace(b'"name"', b'"n\x80ame"', 1),
    "utf-16 with a byte order mark": VALID.decode().encode("utf-16"),
    # lone surrogates (valid JSON escapes that UTF-8 cannot encode)
    "lone surrogate as a top-level key": b'{"\\ud800": 1}',
    "lone surrogate as a span key": _span('"\\ud800":"x"'),
    "lone surrogate as an enum name": _span('"kind":"\\udfff"'),
    "lone surrogate as a string value": _span('"name":"\\ud800"'),
    "lone surrogate in a number string": _span('"startTimeUnixNano":"1\\ud800"'),
    # wrong shapes at each level
    "document is an array": b"[1, 2]",
    "resourceSpans is an object": b'{"resourceSpans": {"scopeSpans": []}}',
    "resource is a string": b'{"resourceSpans": [{"resource": "\\ud800"}]}',
    "scopeSpans is a string": b'{"resourceSpans": [{"scopeSpans": "x"}]}',
    "a span is a number": b'{"resourceSpans": [{"scopeSpans": [{"spans": [1]}]}]}',
    "attributes is an object": _span('"attributes":{"key":"k"}'),
    "an attribute value is a string": _span('"attributes":[{"key":"k","value":"v"}]'),
    "kvlist values is a number": _span(
        '"attributes":[{"key":"k","value":{"kvlistValue":{"values":5}}}]'
    ),
    "links is a string": _span('"links":"x"'),
    "a link is a list": _span('"links":[[1]]'),
    # wrong types
    "name is a number": _span('"name":5'),
    "time is a word": _span('"startTimeUnixNano":"soon"'),
    "time is a boolean": _span('"startTimeUnixNano":true'),
    "time is a fraction": _span('"startTimeUnixNano":1.5'),
    "time is a list": _span('"startTimeUnixNano":[1]'),
    # mutated documents
    "truncated": VALID[: len(VALID) // 2],
    "a trailing comma": VALID[:-1] + b",}",
    "a missing colon": VALID.replace(b'":', b'"', 1),
    "an unquoted key": VALID.replace(b'"name"', b"name", 1),
    # deep nesting
    "50,000 open arrays": b"[" * 50_000,
    "50,000 nested objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "50,000 nested arrays in a span": _span('"name":"x","extra":' + "[" * 50_000 + "]" * 50_000),
    "30,000 nested attribute values": _nested(30_000),
    "nesting past protobuf's limit": _nested(150),
    # huge numbers
    "a 5,000-digit integer": _span('"startTimeUnixNano":' + "9" * 5000),
    "an integer over 64 bits": _span('"startTimeUnixNano":' + str(2**64)),
    "a float over the double range": _span('"startTimeUnixNano":1e400'),
    "Infinity": _span('"startTimeUnixNano":Infinity'),
    "NaN": _span('"droppedAttributesCount":NaN'),
    "a negative unsigned count": _span('"droppedAttributesCount":-1'),
    # ids of the wrong length or not hex
    "a trace id of 4 hex digits": _span('"name":"x"').replace(TRACE_ID.encode(), b"5b8e"),
    "a trace id of 34 hex digits": _span('"name":"x"').replace(
        TRACE_ID.encode(), TRACE_ID.encode() + b"00"
    ),
    "a span id of 15 hex digits": _span('"name":"x"').replace(
        SPAN_ID.encode(), SPAN_ID[:-1].encode()
    ),
    "a span id that is not hex": _span('"name":"x"').replace(SPAN_ID.encode(), b"zzzzzzzzzzzzzzzz"),
    "a trace id with spaces": _span('"name":"x"').replace(
        TRACE_ID.encode(), b"  " + TRACE_ID[2:].encode()
    ),
    "a trace id of Arabic-Indic digits": _span('"name":"x"').replace(
        TRACE_ID.encode(), "\u0665".encode() * 32
    ),
    "a span id that is a number": _span('"name":"x"').replace(
        b'"' + SPAN_ID.encode() + b'"', b"12345678"
    ),
    "a parent span id of 2 bytes": _span('"parentSpanId":"abcd"'),
    # enum values out of range
    "kind over int32": _span('"kind":2147483648'),
    "kind under int32": _span('"kind":-2147483649'),
    "kind of an unknown name": _span('"kind":"SPAN_KIND_NOPE"'),
    "status code over int32": _span('"status":{"code":10000000000}'),
    "status code as a float": _span('"status":{"code":1.5}'),
}


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    with tempfile.TemporaryDirectory() as folder:
        shared = Target(Path(folder))
        try:
            yield shared
        finally:
            shared.close()


@pytest.mark.slow
@pytest.mark.parametrize("body", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_bad_json_bodies_get_400_with_a_message(target: Target, body: bytes) -> None:
    before = target.stats.snapshot().requests_rejected.get(("otlp", "malformed"), 0)
    answer = http_post(target.http, body, JSON)
    assert answer.status == 400, answer.body
    assert answer.headers["content-type"] == JSON
    status = json.loads(answer.body.decode("utf-8"))
    assert status["code"] == code_pb2.INVALID_ARGUMENT
    assert status["message"]
    after = target.stats.snapshot().requests_rejected.get(("otlp", "malformed"), 0)
    assert after - before == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    "fields",
    ['"name":"ok"', '"kind":3', '"kind":"SPAN_KIND_SERVER"', '"status":{"code":2}', '"kind":99'],
)
def test_the_same_spans_are_accepted_when_valid(target: Target, fields: str) -> None:
    # An enum number inside int32 but unknown to the schema is kept, as protobuf does.
    answer = http_post(target.http, _span(fields), JSON)
    assert answer.status == 200, answer.body
    assert http_post(target.http, VALID, JSON).status == 200
    target.still_serving()


@pytest.mark.slow
@pytest.mark.parametrize(
    "body",
    [b"\x0a\xff\xff\xff\xff\x0f", b"\x0a\x05\x12\x03\x12\x01", b"\xff" * 16, VALID],
    ids=["bad length", "truncated", "garbage", "JSON over gRPC"],
)
def test_protobuf_that_does_not_parse_is_invalid_argument(target: Target, body: bytes) -> None:
    before = target.stats.snapshot().requests_rejected.get(("otlp", "malformed"), 0)
    assert target.grpc_code(body) is grpc.StatusCode.INVALID_ARGUMENT
    after = target.stats.snapshot().requests_rejected.get(("otlp", "malformed"), 0)
    assert after - before == 1


def test_messages_that_echo_a_lone_surrogate_can_be_sent() -> None:
    message = "bad key '\ud800' in the request"
    assert "\\ud800" in printable(message)
    for json_body in (False, True):
        body, _ = status_body(code_pb2.INVALID_ARGUMENT, message, json_body)
        assert b"\\ud800" in body.replace(b"\\\\", b"\\")
    assert len(printable("x" * 10_000)) <= 512


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


PATHS = [path for path in _paths(DOCUMENT) if path]
TEXT = st.text(st.characters(exclude_categories=["Cn"]), max_size=12) | st.sampled_from(
    ["\ud800", "\udfff", "x\ud800", "traceId", "spanId", "kind", "SPAN_KIND_NOPE", "1" * 32]
)
"""Strings with lone surrogates and names the schema knows, as keys and values."""
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.sampled_from(PATHS), JSON_VALUES)
def test_any_value_anywhere_decodes_or_fails_cleanly(path: tuple[Any, ...], value: Any) -> None:
    document = copy.deepcopy(DOCUMENT)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    body = json.dumps(document).encode("utf-8", "surrogatepass")
    try:
        raw = json_to_protobuf(body)
    except DecodeFailure as failure:
        printable(str(failure)).encode("utf-8")
    else:
        assert isinstance(raw, bytes)


@pytest.mark.slow
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(VALID) - 1),
            st.sampled_from([*b'"{}[],:\\-.eE0u', 0x80, 0xFF, 0xED]),
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_json_documents_get_200_or_400(
    target: Target, edits: list[tuple[int, int, bool]]
) -> None:
    body = bytearray(VALID)
    for position, value, insert in edits:
        if insert:
            body.insert(position, value)
        else:
            body[position] = value
    before = sum(target.stats.snapshot().requests_rejected.values())
    answer = http_post(target.http, bytes(body), JSON)
    assert answer.status in (200, 400), answer.body
    rejected = sum(target.stats.snapshot().requests_rejected.values()) - before
    assert rejected == (answer.status == 400)
    if answer.status == 400:
        assert json.loads(answer.body.decode("utf-8"))["message"]
