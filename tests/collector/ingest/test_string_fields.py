"""Every string field of a request is checked the way a standard OTLP parser checks it.

The collector forwards the bytes it acknowledged unchanged, so a request a standard
parser (opentelemetry-proto's ``ExportTraceServiceRequest.ParseFromString``) refuses
must be refused here too, whole, as malformed: otherwise its spans are acknowledged and
then lost at the backend. Each case puts a marker into one class of string field of a
real request, then makes it invalid UTF-8 (protobuf), corrupts the wire format of the
message holding it (protobuf), or makes it a lone surrogate (OTLP/JSON), and sends it
over gRPC and over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan.collector.pdata import FastSchema
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
from tests.fuzz.seeds import to_otlp_json
from tests.support.otlp_client import grpc_export, http_post
from tests.support.spans import ml_request

Request = trace_service_pb2.ExportTraceServiceRequest
Place = Callable[[Request], None]
MARKER = "Qz7-marker-7zQ"
"""Put into one string field; unique in a request, and shorter than 128 bytes, so its
length prefix is the byte just before it."""
SPANS = 3


def _span(request: Request) -> trace_pb2.Span:
    return request.resource_spans[0].scope_spans[0].spans[0]


def _key(attributes: object) -> None:
    attributes.add().key = MARKER  # type: ignore[attr-defined]


def _value(attributes: object) -> None:
    pair = attributes.add()  # type: ignore[attr-defined]
    pair.key = "fuzz.value"
    pair.value.string_value = MARKER


def _nested_value(attributes: object) -> None:
    pair = attributes.add()  # type: ignore[attr-defined]
    pair.key = "fuzz.nested"
    inner = pair.value.array_value.values.add().kvlist_value.values.add()
    inner.key = "inner"
    inner.value.string_value = MARKER


def _link(request: Request) -> trace_pb2.Span.Link:
    link = _span(request).links.add()
    link.trace_id = bytes(range(1, 17))
    link.span_id = bytes(range(1, 9))
    return link


def _event(request: Request) -> trace_pb2.Span.Event:
    event = _span(request).events.add()
    event.time_unix_nano = 1
    event.name = "fuzz.event"
    return event


def _entity_ref(request: Request) -> common_pb2.EntityRef:
    return request.resource_spans[0].resource.entity_refs.add()


PLACES: dict[str, Place] = {
    "resource.attribute.key": lambda r: _key(r.resource_spans[0].resource.attributes),
    "resource.attribute.value": lambda r: _value(r.resource_spans[0].resource.attributes),
    "resource.entity_ref.type": lambda r: setattr(_entity_ref(r), "type", MARKER),
    "resource_spans.schema_url": lambda r: setattr(r.resource_spans[0], "schema_url", MARKER),
    "scope_spans.schema_url": lambda r: setattr(
        r.resource_spans[0].scope_spans[0], "schema_url", MARKER
    ),
    "scope.name": lambda r: setattr(r.resource_spans[0].scope_spans[0].scope, "name", MARKER),
    "scope.version": lambda r: setattr(r.resource_spans[0].scope_spans[0].scope, "version", MARKER),
    "scope.attribute.key": lambda r: _key(r.resource_spans[0].scope_spans[0].scope.attributes),
    "scope.attribute.value": lambda r: _value(r.resource_spans[0].scope_spans[0].scope.attributes),
    "span.name": lambda r: setattr(_span(r), "name", MARKER),
    "span.trace_state": lambda r: setattr(_span(r), "trace_state", MARKER),
    "span.attribute.key": lambda r: _key(_span(r).attributes),
    "span.attribute.value": lambda r: _value(_span(r).attributes),
    "span.attribute.nested_value": lambda r: _nested_value(_span(r).attributes),
    "span.status.message": lambda r: setattr(_span(r).status, "message", MARKER),
    "event.name": lambda r: setattr(_event(r), "name", MARKER),
    "event.attribute.key": lambda r: _key(_event(r).attributes),
    "event.attribute.value": lambda r: _value(_event(r).attributes),
    "link.trace_state": lambda r: setattr(_link(r), "trace_state", MARKER),
    "link.attribute.key": lambda r: _key(_link(r).attributes),
    "link.attribute.value": lambda r: _value(_link(r).attributes),
}


def _request(place: Place) -> Request:
    request = ml_request(SPANS, seed=7)
    place(request)
    return request


def _not_utf8(place: Place) -> bytes:
    body = _request(place).SerializeToString()
    assert body.count(MARKER.encode()) == 1
    return body.replace(MARKER.encode(), b"\xff" * len(MARKER))


def _corrupt_holder(place: Place) -> bytes:
    """The marker's length prefix raised past the end of the message holding it, so
    that message's wire format is corrupt while every enclosing length stays right."""
    body = bytearray(_request(place).SerializeToString())
    at = body.index(MARKER.encode())
    assert body[at - 1] == len(MARKER)
    body[at - 1] = 0x7F
    return bytes(body)


def _lone_surrogate_json(place: Place) -> bytes:
    body = to_otlp_json(_request(place))
    assert body.count(MARKER.encode()) == 1
    return body.replace(MARKER.encode(), b"\\udcff")


def _standard_parse(raw: bytes) -> Request:
    request = Request()
    request.ParseFromString(raw)
    return request


class Target:
    """A receiver with both transports, shared by the module."""

    def __init__(self, data_dir: Path) -> None:
        self.stats = IngestStats()
        self.consumer = RecordingConsumer()
        config = OtlpReceiverConfig(
            protocols=ProtocolsConfig(
                grpc=GrpcConfig(endpoint="127.0.0.1:0", max_recv_msg_size_mib=1),
                http=HttpConfig(endpoint="127.0.0.1:0", max_request_body_size=LIMIT),
            )
        )
        self.receiver = OtlpReceiver(
            "otlp", config, self.consumer, Host(data_dir=data_dir, stats=self.stats)
        )
        self.receiver.start()
        assert self.receiver.grpc is not None and self.receiver.http is not None
        self.http = self.receiver.http.address
        self.channel = grpc.insecure_channel(self.receiver.grpc.address)

    def malformed(self) -> int:
        return self.stats.snapshot().requests_rejected.get(("otlp", "malformed"), 0)

    def send(self, transport: str, body: bytes) -> bool:
        """Send ``body``; True when accepted, False when refused as malformed."""
        if transport == "grpc":
            try:
                grpc_export(self.channel, body)
            except grpc.RpcError as error:
                assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, error
                return False
            return True
        content_type = "application/json" if transport == "http-json" else None
        answer = http_post(self.http, body, content_type or "application/x-protobuf")
        assert answer.status in (200, 400), answer
        return answer.status == 200

    def close(self) -> None:
        self.channel.close()
        self.receiver.shutdown()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    shared = Target(tmp_path_factory.mktemp("string-fields"))
    try:
        yield shared
    finally:
        shared.close()


BAD_BODIES = {
    "grpc-not-utf8": ("grpc", _not_utf8),
    "grpc-corrupt-holder": ("grpc", _corrupt_holder),
    "http-not-utf8": ("http-protobuf", _not_utf8),
    "http-corrupt-holder": ("http-protobuf", _corrupt_holder),
    "http-json-lone-surrogate": ("http-json", _lone_surrogate_json),
}


@pytest.mark.slow
@pytest.mark.parametrize("place", list(PLACES.values()), ids=list(PLACES))
@pytest.mark.parametrize("case", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_bad_string_field_refuses_the_request(
    target: Target, place: Place, case: tuple[str, Callable[[Place], bytes]]
) -> None:
    transport, make = case
    body = make(place)
    if transport != "http-json":
        with pytest.raises(DecodeError):  # the case is one a standard parser refuses
            _standard_parse(body)
    spans, malformed = target.consumer.span_count, target.malformed()
    assert not target.send(transport, body)
    assert target.malformed() == malformed + 1
    assert target.consumer.span_count == spans


@pytest.mark.slow
@pytest.mark.parametrize("place", list(PLACES.values()), ids=list(PLACES))
@pytest.mark.parametrize("transport", ["grpc", "http-protobuf", "http-json"])
def test_valid_string_field_is_accepted_and_forwarded_parseable(
    target: Target, place: Place, transport: str
) -> None:
    request = _request(place)
    body = to_otlp_json(request) if transport == "http-json" else request.SerializeToString()
    batches = len(target.consumer.batches)
    assert target.send(transport, body)
    (batch,) = target.consumer.batches[batches:]
    assert batch.span_count == SPANS
    assert MARKER.encode() in batch.raw
    _standard_parse(batch.raw)


def test_reduced_schema_refuses_what_the_standard_parser_refuses() -> None:
    """The parse every receiver runs, on its own, for each bad protobuf body above."""
    schema = FastSchema.build()
    for place in PLACES.values():
        for make in (_not_utf8, _corrupt_holder):
            with pytest.raises(DecodeError):
                schema.parse(make(place))
