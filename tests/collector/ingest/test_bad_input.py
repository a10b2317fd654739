"""Bad input on both receivers: the collector answers each request, counts every
rejection and keeps serving (random bytes, truncated and mutated payloads, wrong content
types, huge bodies, deeply nested and oversized attribute values)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import Host
from mlspan.collector.receivers.otlp import (
    GrpcConfig,
    HttpConfig,
    OtlpReceiver,
    OtlpReceiverConfig,
    ProtocolsConfig,
)
from tests.collector.ingest.conftest import LIMIT, RecordingConsumer
from tests.support.otlp_client import grpc_export, http_post
from tests.support.spans import ml_request

pytestmark = pytest.mark.slow

VALID = ml_request(8).SerializeToString()
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


class Target:
    """A receiver with its stats, consumer and a gRPC channel, shared by a module."""

    def __init__(self, data_dir: Path) -> None:
        self.stats = IngestStats()
        self.consumer = RecordingConsumer()
        config = OtlpReceiverConfig(
            protocols=ProtocolsConfig(
                grpc=GrpcConfig(endpoint="127.0.0.1:0", max_recv_msg_size_mib=1),
                http=HttpConfig(endpoint="127.0.0.1:0", max_request_body_size=LIMIT),
            )
        )
        host = Host(data_dir=data_dir, stats=self.stats)
        self.receiver = OtlpReceiver("otlp", config, self.consumer, host)
        self.receiver.start()
        assert self.receiver.grpc is not None and self.receiver.http is not None
        self.http = self.receiver.http.address
        self.channel = grpc.insecure_channel(
            self.receiver.grpc.address, options=[("grpc.max_send_message_length", -1)]
        )

    def rejected(self) -> int:
        return sum(self.stats.snapshot().requests_rejected.values())

    def grpc_code(self, body: bytes) -> grpc.StatusCode:
        try:
            grpc_export(self.channel, body)
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()
            return code
        return grpc.StatusCode.OK

    def still_serving(self) -> None:
        before = self.consumer.span_count
        assert self.grpc_code(VALID) is grpc.StatusCode.OK
        assert http_post(self.http, VALID).status == 200
        assert self.consumer.span_count == before + 16

    def close(self) -> None:
        self.channel.close()
        self.receiver.shutdown()


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    with tempfile.TemporaryDirectory() as folder:
        shared = Target(Path(folder))
        try:
            yield shared
        finally:
            shared.close()


def _check(target: Target, body: bytes, content_type: str = "application/x-protobuf") -> None:
    """Send ``body`` on both transports; every refusal must be counted exactly once."""
    before = target.rejected()
    code = target.grpc_code(body)
    assert code in (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT), code
    answer = http_post(target.http, body, content_type)
    assert answer.status in (200, 400, 415), answer.status
    refused = (code is not grpc.StatusCode.OK) + (answer.status != 200)
    assert target.rejected() - before == refused


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(target: Target, body: bytes) -> None:
    _check(target, body)


@FUZZ
@given(st.integers(min_value=1, max_value=len(VALID) - 1))
def test_truncated_payloads(target: Target, cut: int) -> None:
    _check(target, VALID[:cut])


@FUZZ
@given(
    st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8)
)
def test_mutated_payloads(target: Target, edits: list[tuple[int, int]]) -> None:
    body = bytearray(VALID)
    for position, value in edits:
        body[position] = value
    _check(target, bytes(body))


@FUZZ
@given(st.binary(max_size=512), st.sampled_from(["application/json", "application/x-protobuf"]))
def test_random_bodies_in_both_encodings(target: Target, body: bytes, content_type: str) -> None:
    before = target.rejected()
    answer = http_post(target.http, body, content_type)
    assert answer.status in (200, 400)
    assert target.rejected() - before == (answer.status != 200)


CONTENT_TYPES = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40).filter(
    lambda t: t.split(";")[0].strip().lower() not in {"application/json", "application/x-protobuf"}
)


@FUZZ
@given(CONTENT_TYPES)
def test_wrong_content_types(target: Target, content_type: str) -> None:
    before = target.rejected()
    answer = http_post(target.http, VALID, content_type)
    assert answer.status == 415
    assert target.rejected() - before == 1


def _delimited(field: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    length = len(payload)
    varint = bytearray()
    while True:
        byte = length & 0x7F
        length >>= 7
        varint.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes([field << 3 | 2]) + bytes(varint) + payload


def _nested_any_value(depth: int) -> bytes:
    """Protobuf bytes of an ``AnyValue`` holding kvlists ``depth`` levels deep."""
    value = _delimited(1, b"leaf")  # AnyValue.string_value
    for _ in range(depth):
        key_value = _delimited(1, b"k") + _delimited(2, value)  # KeyValue{key, value}
        value = _delimited(6, _delimited(1, key_value))  # AnyValue.kvlist_value.values
    return value


def _with_span_attribute(value: bytes) -> bytes:
    """A one-span request with attribute ``deep`` = ``value`` appended as raw bytes
    (Span.attributes is field 9; spans, scope_spans and resource_spans are fields 2, 2
    and 1 of their parents)."""
    span = ml_request(1).resource_spans[0].scope_spans[0].spans[0]
    attribute = _delimited(1, b"deep") + _delimited(2, value)
    span_bytes = span.SerializeToString() + _delimited(9, attribute)
    return _delimited(1, _delimited(2, _delimited(2, span_bytes)))


def test_deeply_nested_attribute_values_are_refused(target: Target) -> None:
    for depth in (10, 200, 5000):
        before = target.rejected()
        body = _with_span_attribute(_nested_any_value(depth))
        code = target.grpc_code(body)
        status = http_post(target.http, body).status
        if depth == 10:
            assert (code, status) == (grpc.StatusCode.OK, 200)
        else:
            assert (code, status) == (grpc.StatusCode.INVALID_ARGUMENT, 400)
            assert target.rejected() - before == 2
    target.still_serving()


def test_deeply_nested_json_is_refused(target: Target) -> None:
    # 150 levels parse as JSON but exceed protobuf's nesting limit; 15,000 exceed Python's.
    for depth in (150, 15_000):
        body = (
            b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":'
            b'"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",'
            b'"attributes":[{"key":"deep","value":'
            + b'{"kvlistValue":{"values":[{"key":"k","value":' * depth
            + b'{"stringValue":"x"}'
            + b"}]}}" * depth
            + b"}]}]}]}]}"
        )
        assert len(body) < LIMIT
        before = target.rejected()
        assert http_post(target.http, body, "application/json").status == 400
        assert target.rejected() - before == 1
    target.still_serving()


def test_oversized_attribute_values(target: Target) -> None:
    request = ml_request(1)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.add(key="big").value.string_value = "x" * (LIMIT // 2)
    before = target.consumer.span_count
    assert target.grpc_code(request.SerializeToString()) is grpc.StatusCode.OK
    assert http_post(target.http, request.SerializeToString()).status == 200
    assert target.consumer.span_count == before + 2
    span.attributes[-1].value.string_value = "x" * (4 * LIMIT)
    rejected = target.rejected()
    assert target.grpc_code(request.SerializeToString()) is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert http_post(target.http, request.SerializeToString()).status == 413
    assert target.rejected() - rejected == 2  # gRPC's own refusal is counted too
    target.still_serving()


def test_everything_accepted_before_bad_input_is_kept(target: Target) -> None:
    target.still_serving()
    kept = list(target.consumer.batches)
    for body in (b"\x00\x01", VALID[:-3], b"\xff" * 100):
        target.grpc_code(body)
        http_post(target.http, body)
    assert target.consumer.batches[: len(kept)] == kept
    target.still_serving()
