"""OTLP/HTTP receiver over a real socket: encodings, partial success and status codes."""

from __future__ import annotations

import base64
import gzip
import json
import socket
import time
import zlib

import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from mlspan import semconv
from mlspan.collector.pdata import int_attribute, string_attribute, strings_attribute
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.receivers.otlp import OtlpReceiver
from tests.collector.ingest.conftest import LIMIT, RecordingConsumer
from tests.support.otlp_client import http_post
from tests.support.spans import ml_request

pytestmark = pytest.mark.slow

JSON = "application/json"
PROTOBUF = "application/x-protobuf"


def _address(receiver: OtlpReceiver) -> str:
    assert receiver.http is not None
    return receiver.http.address


def _otlp_json(request: trace_service_pb2.ExportTraceServiceRequest) -> dict[str, object]:
    """OTLP/JSON as the specification writes it: hex ids, lowerCamelCase keys."""
    document = json_format.MessageToDict(request)
    for resource in document["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return document


def test_sdk_http_exporter_with_gzip(
    receiver: OtlpReceiver, consumer: RecordingConsumer, stats: IngestStats
) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "infer"}))
    exporter = OTLPSpanExporter(
        endpoint=f"http://{_address(receiver)}/v1/traces", compression=Compression.Gzip
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("test").start_as_current_span("predict") as span:
        span.set_attribute(semconv.DATASET_ROWS, 42)
    provider.shutdown()
    ref = next(consumer.batches[0].spans())
    assert (ref.service, ref.span.name) == ("infer", "predict")
    assert int_attribute(ref.span.attributes, semconv.DATASET_ROWS) == 42
    assert stats.snapshot().spans_received == {"otlp": 1}


def test_protobuf_body_is_forwarded_byte_for_byte(
    receiver: OtlpReceiver, consumer: RecordingConsumer
) -> None:
    body = ml_request(20).SerializeToString()
    answer = http_post(_address(receiver), body)
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/x-protobuf"
    assert trace_service_pb2.ExportTraceServiceResponse.FromString(answer.body) == (
        trace_service_pb2.ExportTraceServiceResponse()
    )
    assert consumer.batches[0].raw == body


def test_json_with_hex_ids_camel_case_and_string_int64(
    receiver: OtlpReceiver, consumer: RecordingConsumer
) -> None:
    request = ml_request(5)
    document = _otlp_json(request)
    answer = http_post(_address(receiver), json.dumps(document).encode(), JSON)
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"] == JSON
    assert json.loads(answer.body) == {}
    received = trace_service_pb2.ExportTraceServiceRequest.FromString(consumer.batches[0].raw)
    assert received == request
    ref = next(consumer.batches[0].spans())
    original = request.resource_spans[0].scope_spans[0].spans[0]
    assert ref.trace_id == original.trace_id.hex()
    assert ref.span_id == original.span_id.hex()
    assert strings_attribute(ref.span.attributes, semconv.IO_OUTPUTS)


def test_json_with_snake_case_keys_enum_numbers_and_unknown_fields(
    receiver: OtlpReceiver, consumer: RecordingConsumer
) -> None:
    document = {
        "resource_spans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]
                },
                "scope_spans": [
                    {
                        "spans": [
                            {
                                "trace_id": "5b8efff798038103d269b633813fc60c",
                                "span_id": "eee19b7ec3c1b174",
                                "name": "fit",
                                "kind": 1,
                                "start_time_unix_nano": "1544712660000000000",
                                "end_time_unix_nano": 1544712661000000000,
                                "attributes": [
                                    {"key": "rows", "value": {"intValue": "9007199254740993"}}
                                ],
                                "someFutureField": {"x": 1},
                            }
                        ]
                    }
                ],
            }
        ]
    }
    answer = http_post(_address(receiver), json.dumps(document).encode(), f"{JSON}; charset=utf-8")
    assert answer.status == 200, answer.body
    ref = next(consumer.batches[0].spans())
    assert ref.service == "svc"
    assert ref.trace_id == "5b8efff798038103d269b633813fc60c"
    assert ref.span.start_time_unix_nano == 1544712660000000000
    assert int_attribute(ref.span.attributes, "rows") == 9007199254740993
    assert string_attribute(ref.span.attributes, "rows") is None


@pytest.mark.parametrize("json_body", [False, True])
def test_partial_success_in_the_request_encoding(
    receiver: OtlpReceiver, consumer: RecordingConsumer, json_body: bool
) -> None:
    request = ml_request(6)
    request.resource_spans[0].scope_spans[0].spans[1].span_id = b"\x00" * 8
    if json_body:
        document = _otlp_json(request)
        answer = http_post(_address(receiver), json.dumps(document).encode(), JSON)
        partial = json.loads(answer.body)["partialSuccess"]
        assert partial["rejectedSpans"] == "1"
    else:
        answer = http_post(_address(receiver), request.SerializeToString())
        response = trace_service_pb2.ExportTraceServiceResponse.FromString(answer.body)
        assert response.partial_success.rejected_spans == 1
    assert answer.status == 200
    assert consumer.span_count == 5


def _status_message(body: bytes) -> str:
    return str(status_pb2.Status.FromString(body).message)


@pytest.mark.parametrize(
    ("body", "content_type", "headers", "reason"),
    [
        (b"\x0a\xff\xff\xff\xff\x0f", "application/x-protobuf", {}, "cannot parse"),
        (b"{not json", JSON, {}, "invalid JSON"),
        (b"[1, 2]", JSON, {}, "must be an object"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', JSON, {}, "hex"),
        (b'{"resourceSpans": 7}', JSON, {}, "array"),
        (
            b"\x1f\x8b\x08\x00garbage",
            "application/x-protobuf",
            {"Content-Encoding": "gzip"},
            "gzip",
        ),
        (
            gzip.compress(b"abc")[:-6],
            "application/x-protobuf",
            {"Content-Encoding": "gzip"},
            "gzip",
        ),
    ],
)
def test_malformed_bodies_get_400_and_are_counted(
    receiver: OtlpReceiver,
    stats: IngestStats,
    body: bytes,
    content_type: str,
    headers: dict[str, str],
    reason: str,
) -> None:
    answer = http_post(_address(receiver), body, content_type, headers=headers)
    assert answer.status == 400
    message = (
        json.loads(answer.body)["message"] if content_type == JSON else _status_message(answer.body)
    )
    assert reason in message
    assert stats.snapshot().requests_rejected == {("otlp", "malformed"): 1}


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [("text/plain", ""), ("application/xml", ""), ("", ""), ("application/x-protobuf", "br")],
)
def test_wrong_content_type_or_encoding_gets_415(
    receiver: OtlpReceiver, stats: IngestStats, content_type: str, encoding: str
) -> None:
    headers = {"Content-Encoding": encoding} if encoding else {}
    answer = http_post(
        _address(receiver), ml_request(1).SerializeToString(), content_type, headers=headers
    )
    assert answer.status == 415
    assert stats.snapshot().requests_rejected == {("otlp", "unsupported_media"): 1}


def test_body_over_the_limit_gets_413_by_content_length(
    receiver: OtlpReceiver, stats: IngestStats
) -> None:
    answer = http_post(_address(receiver), b"\x00" * (LIMIT + 1))
    assert answer.status == 413
    assert answer.headers["connection"] == "close"
    assert stats.snapshot().requests_rejected == {("otlp", "too_large"): 1}


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compression_bomb_gets_413(
    receiver: OtlpReceiver, consumer: RecordingConsumer, encoding: str
) -> None:
    payload = b"\x00" * (64 * LIMIT)
    body = gzip.compress(payload) if encoding == "gzip" else zlib.compress(payload)
    assert len(body) < LIMIT // 8
    answer = http_post(_address(receiver), body, headers={"Content-Encoding": encoding})
    assert answer.status == 413
    assert "decompressed" in _status_message(answer.body)
    assert consumer.batches == []


def test_concatenated_gzip_members_are_one_body(
    receiver: OtlpReceiver, consumer: RecordingConsumer
) -> None:
    body = ml_request(3).SerializeToString()
    compressed = gzip.compress(body[:100]) + gzip.compress(body[100:])
    answer = http_post(_address(receiver), compressed, headers={"Content-Encoding": "gzip"})
    assert answer.status == 200
    assert consumer.batches[0].raw == body


def test_full_queue_gets_429_with_retry_after(
    receiver: OtlpReceiver, consumer: RecordingConsumer, stats: IngestStats
) -> None:
    consumer.full = True
    answer = http_post(_address(receiver), ml_request(2).SerializeToString())
    assert answer.status == 429
    assert answer.headers["retry-after"] == "2"
    # Refused, not lost: the sender retries, so no span counts as dropped.
    assert stats.snapshot().spans_dropped == {}
    assert stats.snapshot().requests_rejected == {("otlp", "queue_full"): 1}


def test_shutting_down_gets_503_with_retry_after(receiver: OtlpReceiver) -> None:
    receiver.ingest.stop_accepting()
    answer = http_post(_address(receiver), ml_request(1).SerializeToString())
    assert answer.status == 503
    assert answer.headers["retry-after"] == "2"


def test_unknown_path_method_and_missing_length(receiver: OtlpReceiver) -> None:
    body = ml_request(1).SerializeToString()
    assert http_post(_address(receiver), body, path="/v1/metrics").status == 404
    assert http_post(_address(receiver), b"", method="GET").status == 405
    host, _, port = _address(receiver).rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n\r\n"
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 400")


def _chunked(body: bytes, size: int) -> bytes:
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    framed = b"".join(f"{len(c):x};ext=1\r\n".encode() + c + b"\r\n" for c in chunks)
    return framed + b"0\r\nX-Trailer: yes\r\n\r\n"


def _post_raw(receiver: OtlpReceiver, head: bytes, payloads: list[bytes]) -> list[bytes]:
    """Send requests with ``head`` on one connection; the raw answers."""
    host, _, port = _address(receiver).rpartition(":")
    answers = []
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        reader = sock.makefile("rb")
        for payload in payloads:
            sock.sendall(head + payload)
            status = reader.readline()
            headers = {}
            while (line := reader.readline().strip()) != b"":
                key, _, value = line.partition(b":")
                headers[key.strip().lower()] = value.strip()
            answers.append(status + reader.read(int(headers.get(b"content-length", b"0"))))
    return answers


CHUNKED_HEAD = (
    b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
    b"Transfer-Encoding: chunked\r\n"
)


def test_chunked_bodies_are_read_and_the_connection_reused(
    receiver: OtlpReceiver, consumer: RecordingConsumer
) -> None:
    first = ml_request(3, seed=1).SerializeToString()
    second = gzip.compress(ml_request(4, seed=2).SerializeToString())
    answers = _post_raw(receiver, CHUNKED_HEAD + b"\r\n", [_chunked(first, 100)])
    answers += _post_raw(
        receiver, CHUNKED_HEAD + b"Content-Encoding: gzip\r\n\r\n", [_chunked(second, 7)] * 2
    )
    assert [a.split(b" ", 2)[1] for a in answers] == [b"200"] * 3
    assert consumer.span_count == 3 + 4 + 4


def test_bad_or_oversized_chunked_bodies_are_refused_and_counted(
    receiver: OtlpReceiver, consumer: RecordingConsumer, stats: IngestStats
) -> None:
    head = CHUNKED_HEAD + b"\r\n"
    big = _chunked(b"\x0a" * (LIMIT + 1), 1 << 14)
    assert _post_raw(receiver, head, [big])[0].startswith(b"HTTP/1.1 413")
    for broken in (b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcdef\r\n0\r\n\r\n", b"5\r\nab"):
        host, _, port = _address(receiver).rpartition(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(head + broken)
            if broken.endswith(b"ab"):
                sock.shutdown(socket.SHUT_WR)  # the client gives up mid-chunk
            assert sock.recv(100).startswith(b"HTTP/1.1 400")
    gzip_head = CHUNKED_HEAD.replace(b"chunked", b"gzip, chunked") + b"\r\n"
    assert _post_raw(receiver, gzip_head, [b"0\r\n\r\n"])[0].startswith(b"HTTP/1.1 400")
    rejected = stats.snapshot().requests_rejected
    assert rejected == {("otlp", "too_large"): 1, ("otlp", "malformed"): 4}
    assert consumer.span_count == 0
    assert http_post(_address(receiver), ml_request(2).SerializeToString()).status == 200


def test_connections_over_the_cap_get_503(receiver: OtlpReceiver) -> None:
    host, _, port = _address(receiver).rpartition(":")
    idle = [socket.create_connection((host, int(port)), timeout=5) for _ in range(4)]
    try:
        with socket.create_connection((host, int(port)), timeout=5) as extra:
            answer = extra.recv(1000)
        assert answer.startswith(b"HTTP/1.1 503")
        assert b"Retry-After: 2" in answer
    finally:
        for sock in idle:
            sock.close()


def test_client_leaving_mid_body_is_counted_and_the_receiver_keeps_serving(
    receiver: OtlpReceiver, consumer: RecordingConsumer, stats: IngestStats
) -> None:
    host, _, port = _address(receiver).rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            b"Content-Length: 1000\r\n\r\n" + b"\x0a" * 10
        )
    deadline = time.monotonic() + 5
    while not stats.snapshot().requests_rejected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stats.snapshot().requests_rejected == {("otlp", "malformed"): 1}
    assert http_post(_address(receiver), ml_request(2).SerializeToString()).status == 200
    assert consumer.span_count == 2


def test_oversized_body_announced_with_expect_100_is_refused_before_sending(
    receiver: OtlpReceiver, stats: IngestStats
) -> None:
    host, _, port = _address(receiver).rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            + f"Content-Length: {LIMIT * 8}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 413")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        body = ml_request(1).SerializeToString()
        sock.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            + f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100")
        sock.sendall(body)
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
    assert stats.snapshot().requests_rejected == {("otlp", "too_large"): 1}
