"""What the collector acknowledges and forwards, a conformant OTLP backend can parse.

Found by ``bench/fuzz.py`` (26 of ~100,000 payloads): requests whose instrumentation
scope or resource-spans fields were corrupt were acknowledged, forwarded, and refused by
the backend, so their spans were lost after the client was told they were accepted. Each
case here puts bytes that are not UTF-8 into one string field of a real request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import grpc
import pytest

from tests.fuzz.backend import ParsingBackend
from tests.fuzz.collector import CollectorProcess, forwarding_document
from tests.fuzz.proto_mutators import MARKER
from tests.fuzz.seeds import Request, Seeds, spans_of
from tests.support.otlp_client import grpc_export

pytestmark = pytest.mark.slow

Place = Callable[[Request], None]


def _scope_name(request: Request) -> None:
    request.resource_spans[0].scope_spans[0].scope.name = MARKER


def _scope_version(request: Request) -> None:
    request.resource_spans[0].scope_spans[0].scope.version = MARKER


def _schema_url(request: Request) -> None:
    request.resource_spans[0].schema_url = MARKER


def _span_name(request: Request) -> None:
    spans_of(request)[0].name = MARKER


def _status_message(request: Request) -> None:
    spans_of(request)[0].status.message = MARKER


PLACES = [
    pytest.param(_scope_name, id="scope.name"),
    pytest.param(_scope_version, id="scope.version"),
    pytest.param(_schema_url, id="resource_spans.schema_url"),
    pytest.param(_span_name, id="span.name"),
    pytest.param(_status_message, id="span.status.message"),
]


@pytest.fixture(scope="module")
def forwarding(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[CollectorProcess, ParsingBackend]]:
    folder = tmp_path_factory.mktemp("forwarding")
    backend = ParsingBackend(folder / "unparseable")
    backend.start()
    try:
        with CollectorProcess(folder / "collector", forwarding_document(backend.endpoint)) as c:
            yield c, backend
    finally:
        backend.stop()


@pytest.mark.parametrize("place", PLACES)
def test_not_utf8_is_refused_or_forwarded_parseable(
    place: Place, seeds: Seeds, forwarding: tuple[CollectorProcess, ParsingBackend]
) -> None:
    collector, backend = forwarding
    request = seeds.fresh(3, seed=sum(map(ord, place.__name__)))
    place(request)
    body = request.SerializeToString().replace(MARKER.encode(), b"\xff" * len(MARKER), 1)
    before_parsed, before_bad = backend.parsed_spans, backend.unparseable_count
    with grpc.insecure_channel(collector.grpc_address) as channel:
        try:
            grpc_export(channel, body)
        except grpc.RpcError as error:
            assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
            return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if backend.unparseable_count > before_bad or backend.parsed_spans >= before_parsed + 3:
            break
        time.sleep(0.1)
    assert backend.unparseable_count == before_bad, backend.unparseable
    assert backend.parsed_spans >= before_parsed + 3
