"""The exporter's gRPC and HTTP senders as mutual-TLS clients with a token, against a
real receiver that requires a client certificate and a token; and the HTTP receiver
refusing an ``Expect: 100-continue`` request without a token before asking for its body.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlspan.collector.exporters.otlp.grpc_sender import GrpcSender
from mlspan.collector.exporters.otlp.http_sender import HttpSender
from mlspan.collector.exporters.retry import Outcome
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
    BearerCredentials,
    BearerTokensConfig,
    TlsClientConfig,
    TlsServerConfig,
)
from tests.collector.ingest.conftest import RecordingConsumer
from tests.collector.security.certs import Certificates
from tests.support.spans import ml_request

pytestmark = pytest.mark.slow

BODY = ml_request(4).SerializeToString()


@pytest.fixture
def mutual(
    tmp_path: Path, certs: Certificates, ingest_token_file: Path
) -> Iterator[tuple[OtlpReceiver, RecordingConsumer]]:
    tls = TlsServerConfig(
        cert_file=str(certs.server_cert),
        key_file=str(certs.server_key),
        client_ca_file=str(certs.client_ca),
    )
    auth = AuthConfig(BearerTokensConfig(token_file=str(ingest_token_file)))
    consumer = RecordingConsumer()
    config = OtlpReceiverConfig(
        protocols=ProtocolsConfig(
            grpc=GrpcConfig(endpoint="127.0.0.1:0", tls=tls, auth=auth),
            http=HttpConfig(endpoint="127.0.0.1:0", tls=tls, auth=auth),
        )
    )
    host = Host(data_dir=tmp_path, stats=IngestStats()).for_component("otlp")
    receiver = OtlpReceiver("otlp", config, consumer, host)
    receiver.start()
    try:
        yield receiver, consumer
    finally:
        receiver.shutdown()


def _client_tls(certs: Certificates, with_cert: bool = True) -> TlsClientConfig:
    return TlsClientConfig(
        ca_file=str(certs.ca),
        cert_file=str(certs.client_cert) if with_cert else "",
        key_file=str(certs.client_key) if with_cert else "",
    )


def test_senders_with_client_certificate_and_token(
    mutual: tuple[OtlpReceiver, RecordingConsumer], certs: Certificates, ingest_token_file: Path
) -> None:
    receiver, consumer = mutual
    assert receiver.grpc is not None and receiver.http is not None
    token = BearerCredentials.from_config(BearerTokensConfig(token_file=str(ingest_token_file)))
    grpc_sender = GrpcSender(
        receiver.grpc.address, {}, secure=True, tls=_client_tls(certs), auth=token
    )
    http_url = f"https://127.0.0.1:{receiver.http.port}/v1/traces"
    http_sender = HttpSender(http_url, {}, tls=_client_tls(certs), auth=token)
    try:
        assert grpc_sender.send(BODY, 4, timeout=10).outcome is Outcome.SENT
        assert http_sender.send(BODY, 4, timeout=10).outcome is Outcome.SENT
    finally:
        grpc_sender.close()
        http_sender.close()
    assert consumer.span_count == 8
    no_token = GrpcSender(receiver.grpc.address, {}, secure=True, tls=_client_tls(certs))
    try:
        refused = no_token.send(BODY, 4, timeout=10)
    finally:
        no_token.close()
    assert refused.outcome is Outcome.PERMANENT
    assert "UNAUTHENTICATED" in refused.message
    no_cert = HttpSender(http_url, {}, tls=_client_tls(certs, with_cert=False), auth=token)
    try:
        failed = no_cert.send(BODY, 4, timeout=10)
    finally:
        no_cert.close()
    assert failed.outcome is Outcome.RETRYABLE  # the handshake failed: a connection error
    assert consumer.span_count == 8


def test_expect_continue_without_a_token_is_refused_before_the_body(
    tmp_path: Path, ingest_token_file: Path
) -> None:
    auth = AuthConfig(BearerTokensConfig(token_file=str(ingest_token_file)))
    config = OtlpReceiverConfig(
        protocols=ProtocolsConfig(http=HttpConfig(endpoint="127.0.0.1:0", auth=auth))
    )
    host = Host(data_dir=tmp_path, stats=IngestStats()).for_component("otlp")
    receiver = OtlpReceiver("otlp", config, RecordingConsumer(), host)
    receiver.start()
    try:
        assert receiver.http is not None
        with socket.create_connection(("127.0.0.1", receiver.http.port), timeout=10) as sock:
            sock.sendall(
                b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-protobuf\r\nContent-Length: 1000000\r\n"
                b"Expect: 100-continue\r\n\r\n"
            )
            answer = sock.recv(4096)
    finally:
        receiver.shutdown()
    assert answer.startswith(b"HTTP/1.1 401 ")
    assert b"100 Continue" not in answer
    assert b'WWW-Authenticate: Bearer realm="mlspan"' in answer
