"""The ``otlp`` receiver with bearer tokens and TLS, on real sockets: gRPC answers
UNAUTHENTICATED and HTTP 401 for a missing or wrong token; TLS with a certificate made
for the test; mutual TLS with a client CA."""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import Host
from mlspan.collector.receivers.otlp import (
    GrpcConfig,
    HttpConfig,
    OtlpReceiver,
    OtlpReceiverConfig,
    ProtocolsConfig,
)
from mlspan.collector.security import (
    AuthConfig,
    BearerTokensConfig,
    TlsServerConfig,
)
from tests.collector.ingest.conftest import RecordingConsumer
from tests.collector.security.certs import Certificates
from tests.collector.security.conftest import INGEST_TOKEN, NEXT_INGEST_TOKEN
from tests.support.otlp_client import grpc_export
from tests.support.processes import poll
from tests.support.spans import ml_request

pytestmark = pytest.mark.slow

BODY = ml_request(3).SerializeToString()


def _receiver(
    tmp_path: Path,
    auth: AuthConfig | None,
    tls: TlsServerConfig | None,
    stats: IngestStats | None = None,
) -> tuple[OtlpReceiver, RecordingConsumer]:
    consumer = RecordingConsumer()
    config = OtlpReceiverConfig(
        protocols=ProtocolsConfig(
            grpc=GrpcConfig(endpoint="127.0.0.1:0", tls=tls, auth=auth),
            http=HttpConfig(endpoint="127.0.0.1:0", tls=tls, auth=auth),
        )
    )
    host = Host(data_dir=tmp_path, stats=stats or IngestStats()).for_component("otlp")
    receiver = OtlpReceiver("otlp", config, consumer, host)
    receiver.start()
    return receiver, consumer


def _unauthenticated(receiver: OtlpReceiver) -> int:
    rejected = receiver.stats.snapshot().requests_rejected
    return rejected.get(("otlp", "unauthenticated"), 0)


@pytest.fixture
def authenticated(
    tmp_path: Path, ingest_token_file: Path
) -> Iterator[tuple[OtlpReceiver, RecordingConsumer]]:
    auth = AuthConfig(BearerTokensConfig(token_file=str(ingest_token_file)))
    receiver, consumer = _receiver(tmp_path, auth, None)
    try:
        yield receiver, consumer
    finally:
        receiver.shutdown()


def _export(channel: grpc.Channel, token: str | None) -> grpc.StatusCode:
    metadata = (("authorization", f"Bearer {token}"),) if token else None
    call = channel.unary_unary(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        request_serializer=None,
        response_deserializer=None,
    )
    try:
        call(BODY, timeout=10, metadata=metadata)
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def _post(
    port: int, token: str | None, context: ssl.SSLContext | None = None
) -> tuple[int, dict[str, str]]:
    if context is None:
        connection: http.client.HTTPConnection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=10
        )
    else:
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    headers = {"Content-Type": "application/x-protobuf"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request("POST", "/v1/traces", BODY, headers)
        response = connection.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


def test_grpc_accepts_only_configured_tokens(
    authenticated: tuple[OtlpReceiver, RecordingConsumer],
) -> None:
    receiver, consumer = authenticated
    assert receiver.grpc is not None
    with grpc.insecure_channel(receiver.grpc.address) as channel:
        assert _export(channel, None) is grpc.StatusCode.UNAUTHENTICATED
        assert _export(channel, "not-the-token-0123456789") is grpc.StatusCode.UNAUTHENTICATED
        assert consumer.span_count == 0
        assert _export(channel, INGEST_TOKEN) is grpc.StatusCode.OK
        assert _export(channel, NEXT_INGEST_TOKEN) is grpc.StatusCode.OK  # rotation
        with pytest.raises(grpc.RpcError) as refused:
            grpc_export(channel, BODY)
    assert consumer.span_count == 6
    assert refused.value.details() == "authentication required"  # type: ignore[attr-defined]
    assert _unauthenticated(receiver) == 3


def test_http_answers_401_with_a_challenge(
    authenticated: tuple[OtlpReceiver, RecordingConsumer],
) -> None:
    receiver, consumer = authenticated
    assert receiver.http is not None
    status, headers = _post(receiver.http.port, None)
    assert (status, headers["www-authenticate"]) == (401, 'Bearer realm="mlspan"')
    status, headers = _post(receiver.http.port, "not-the-token-0123456789")
    assert status == 401
    assert 'error="invalid_token"' in headers["www-authenticate"]
    assert consumer.span_count == 0
    assert _post(receiver.http.port, INGEST_TOKEN)[0] == 200
    assert _post(receiver.http.port, NEXT_INGEST_TOKEN)[0] == 200
    assert consumer.span_count == 6
    assert _unauthenticated(receiver) == 2


def _tls(certs: Certificates, mutual: bool = False) -> TlsServerConfig:
    return TlsServerConfig(
        cert_file=str(certs.server_cert),
        key_file=str(certs.server_key),
        client_ca_file=str(certs.client_ca) if mutual else "",
    )


def _grpc_credentials(
    certs: Certificates, ca: Path | None = None, client: bool = False
) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=(ca or certs.ca).read_bytes(),
        private_key=certs.client_key.read_bytes() if client else None,
        certificate_chain=certs.client_cert.read_bytes() if client else None,
    )


def _ssl_context(
    certs: Certificates, ca: Path | None = None, client: bool = False
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca or certs.ca))
    if client:
        context.load_cert_chain(str(certs.client_cert), str(certs.client_key))
    return context


def test_tls_with_tokens_on_both_transports(
    tmp_path: Path, certs: Certificates, ingest_token_file: Path
) -> None:
    auth = AuthConfig(BearerTokensConfig(token_file=str(ingest_token_file)))
    receiver, consumer = _receiver(tmp_path, auth, _tls(certs))
    try:
        assert receiver.grpc is not None and receiver.http is not None
        with grpc.secure_channel(receiver.grpc.address, _grpc_credentials(certs)) as channel:
            assert _export(channel, INGEST_TOKEN) is grpc.StatusCode.OK
            assert _export(channel, "wrong-token-0123456789") is grpc.StatusCode.UNAUTHENTICATED
        untrusted = _grpc_credentials(certs, ca=certs.other_ca)
        with grpc.secure_channel(receiver.grpc.address, untrusted) as channel:
            assert _export(channel, INGEST_TOKEN) is grpc.StatusCode.UNAVAILABLE
        with grpc.insecure_channel(receiver.grpc.address) as channel:
            assert _export(channel, INGEST_TOKEN) is grpc.StatusCode.UNAVAILABLE
        port = receiver.http.port
        assert _post(port, INGEST_TOKEN, _ssl_context(certs))[0] == 200
        assert _post(port, None, _ssl_context(certs))[0] == 401
        with pytest.raises(ssl.SSLCertVerificationError):
            _post(port, INGEST_TOKEN, _ssl_context(certs, ca=certs.other_ca))
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            _post(port, INGEST_TOKEN)  # plain HTTP to the TLS port: the server hangs up
        # The server still answers TLS clients after the failed handshakes.
        assert _post(port, INGEST_TOKEN, _ssl_context(certs))[0] == 200
    finally:
        receiver.shutdown()
    assert consumer.span_count == 9


def test_mutual_tls_requires_a_client_certificate_from_the_client_ca(
    tmp_path: Path, certs: Certificates
) -> None:
    receiver, consumer = _receiver(tmp_path, None, _tls(certs, mutual=True))
    try:
        assert receiver.grpc is not None and receiver.http is not None
        with_cert = _grpc_credentials(certs, client=True)
        with grpc.secure_channel(receiver.grpc.address, with_cert) as channel:
            assert _export(channel, None) is grpc.StatusCode.OK
        with grpc.secure_channel(receiver.grpc.address, _grpc_credentials(certs)) as channel:
            assert _export(channel, None) is grpc.StatusCode.UNAVAILABLE
        port = receiver.http.port
        assert _post(port, None, _ssl_context(certs, client=True))[0] == 200
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _post(port, None, _ssl_context(certs))
    finally:
        receiver.shutdown()
    assert consumer.span_count == 6


def test_tls_connections_over_the_cap_are_closed_without_a_handshake(
    tmp_path: Path, certs: Certificates
) -> None:
    consumer = RecordingConsumer()
    tls = _tls(certs)
    config = OtlpReceiverConfig(
        protocols=ProtocolsConfig(
            http=HttpConfig(endpoint="127.0.0.1:0", tls=tls, max_connections=1)
        )
    )
    host = Host(data_dir=tmp_path, stats=IngestStats()).for_component("otlp")
    receiver = OtlpReceiver("otlp", config, consumer, host)
    receiver.start()
    try:
        assert receiver.http is not None
        port = receiver.http.port
        context = _ssl_context(certs)
        holder = context.wrap_socket(
            socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost"
        )
        holder.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # takes the only slot
        holder.recv(1)
        started = time.monotonic()
        for _ in range(5):  # each closed at once: the accepting thread never waits for them
            extra = socket.create_connection(("127.0.0.1", port), timeout=10)
            with extra, contextlib.suppress(ConnectionResetError):
                assert extra.recv(1) == b""
        assert time.monotonic() - started < 2.0
        holder.close()

        def served() -> bool | None:
            try:
                return _post(port, None, context)[0] == 200 or None
            except OSError:  # closed unanswered while the slot is still taken
                return None

        poll("a free slot", served)
    finally:
        receiver.shutdown()
