"""Minimal OTLP clients for tests: raw gRPC ``Export`` calls and HTTP posts."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from typing import Any

import grpc

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def grpc_export(
    channel: grpc.Channel, body: bytes, timeout: float = 10.0, gzip: bool = False
) -> bytes:
    """Send raw request bytes to ``TraceService/Export``; raises ``grpc.RpcError``."""
    call = channel.unary_unary(EXPORT_METHOD, request_serializer=None, response_deserializer=None)
    compression = grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression
    result: bytes = call(body, timeout=timeout, compression=compression)
    return result


@dataclass
class HttpAnswer:
    """Status, headers and body of one HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes


def http_post(
    address: str,
    body: bytes,
    content_type: str = "application/x-protobuf",
    path: str = "/v1/traces",
    method: str = "POST",
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> HttpAnswer:
    """One request on a fresh connection to ``host:port``."""
    host, _, port = address.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        all_headers: dict[str, Any] = {"Content-Type": content_type}
        all_headers.update(headers or {})
        connection.request(method, path, body, all_headers)
        response = connection.getresponse()
        data = response.read()
        return HttpAnswer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        connection.close()
