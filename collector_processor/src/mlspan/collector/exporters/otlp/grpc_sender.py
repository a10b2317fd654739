"""Sends OTLP protobuf bytes unchanged over gRPC ``TraceService/Export``.

The channel is created with identity (de)serializers, so the received bytes go out as
they are: no re-serialization. Status codes follow the OTLP specification: UNAVAILABLE,
CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE and DATA_LOSS are retryable, and
RESOURCE_EXHAUSTED is retryable only when the server sent ``RetryInfo``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from mlspan.collector.exporters.retry import SendResult
from mlspan.collector.security.bearer import BearerCredentials
from mlspan.collector.security.config import TlsClientConfig
from mlspan.collector.security.tls import grpc_channel_credentials

EXPORT_METHOD: Final = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
STATUS_DETAILS_KEY: Final = "grpc-status-details-bin"
_RETRYABLE: Final = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


class GrpcSender:
    """One gRPC channel to an OTLP endpoint; with ``secure``, TLS per ``tls`` (or just
    ``ca_file``); with ``auth``, a bearer token in every call's metadata."""

    def __init__(
        self,
        target: str,
        headers: Mapping[str, str],
        gzip: bool = False,
        secure: bool = False,
        ca_file: str = "",
        *,
        tls: TlsClientConfig | None = None,
        auth: BearerCredentials | None = None,
    ) -> None:
        options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
        if secure:
            credentials = grpc_channel_credentials(tls or TlsClientConfig(ca_file=ca_file))
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._export = self._channel.unary_unary(
            EXPORT_METHOD, request_serializer=None, response_deserializer=None
        )
        self._metadata = tuple((key.lower(), value) for key, value in headers.items())
        self._auth = auth
        self._compression = grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression

    def send(self, raw: bytes, span_count: int, timeout: float) -> SendResult:
        """One export call."""
        metadata = self._metadata
        if self._auth is not None:
            name, value = self._auth.header()
            metadata = (*metadata, (name.lower(), value))
        try:
            response = self._export(
                raw, timeout=timeout, metadata=metadata, compression=self._compression
            )
        except grpc.RpcError as error:
            return classify_rpc_error(error)
        return _partial_success(response)

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()


def classify_rpc_error(error: Any) -> SendResult:
    """Map a failed call to a retryable or permanent result, honouring ``RetryInfo``."""
    code = error.code()
    message = f"{code.name}: {error.details()}"
    delay = retry_delay(error.trailing_metadata() or ())
    if code in _RETRYABLE:
        return SendResult.retryable(message, delay)
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED and delay is not None:
        return SendResult.retryable(message, delay)
    return SendResult.permanent(message)


def retry_delay(trailing_metadata: Any) -> float | None:
    """The ``RetryInfo`` delay in seconds from a status's details, if the server sent one."""
    for key, value in trailing_metadata:
        if key != STATUS_DETAILS_KEY:
            continue
        status = status_pb2.Status()
        try:
            status.ParseFromString(value)
        except DecodeError:
            return None
        for detail in status.details:
            info = error_details_pb2.RetryInfo()
            if detail.Unpack(info):
                return float(info.retry_delay.seconds + info.retry_delay.nanos / 1e9)
    return None


def _partial_success(response: bytes | None) -> SendResult:
    parsed = trace_service_pb2.ExportTraceServiceResponse()
    try:
        parsed.ParseFromString(response or b"")
    except DecodeError:
        return SendResult.sent()
    partial = parsed.partial_success
    return SendResult.sent(int(partial.rejected_spans), partial.error_message)
