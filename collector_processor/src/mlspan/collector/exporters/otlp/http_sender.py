"""Sends OTLP protobuf bytes unchanged with ``POST /v1/traces``.

One keep-alive connection per worker thread (``http.client``). 429, 502, 503 and 504 and
connection failures are retryable, honouring ``Retry-After``; other 4xx/5xx are
permanent, per the OTLP specification.
"""

from __future__ import annotations

import email.utils
import gzip
import http.client
import ssl
import threading
import time
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from mlspan.collector.exporters.retry import SendResult
from mlspan.collector.security.bearer import BearerCredentials
from mlspan.collector.security.config import TlsClientConfig
from mlspan.collector.security.tls import client_ssl_context

PROTOBUF: Final = "application/x-protobuf"
RETRYABLE_STATUSES: Final = frozenset({429, 502, 503, 504})


class HttpSender:
    """Posts requests to one OTLP/HTTP traces URL; an https URL uses TLS per ``tls`` (or
    just ``ca_file``); with ``auth``, a bearer token goes with every request."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        gzip: bool = False,
        ca_file: str = "",
        *,
        tls: TlsClientConfig | None = None,
        auth: BearerCredentials | None = None,
    ) -> None:
        parts = urlsplit(url)
        self._secure = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._secure else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._gzip = gzip
        self._headers = {"Content-Type": PROTOBUF, **headers}
        if gzip:
            self._headers["Content-Encoding"] = "gzip"
        self._auth = auth
        self._context: ssl.SSLContext | None = None
        if self._secure:
            self._context = client_ssl_context(tls or TlsClientConfig(ca_file=ca_file))
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if connection is None:
            if self._context is not None:
                connection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=timeout, context=self._context
                )
            else:
                connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
            self._local.conn = connection
            with self._lock:
                self._all.append(connection)
        connection.timeout = timeout
        return connection

    def send(self, raw: bytes, span_count: int, timeout: float) -> SendResult:
        """One POST."""
        body = gzip.compress(raw, compresslevel=6) if self._gzip else raw
        connection = self._connection(timeout)
        headers = self._headers
        if self._auth is not None:
            name, value = self._auth.header()
            headers = {**headers, name: value}
        try:
            connection.request("POST", self._path, body, headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            self._local.conn = None
            return SendResult.retryable(f"connection failed: {exc}")
        status = response.status
        if 200 <= status < 300:
            return _partial_success(data, response.getheader("Content-Type", ""))
        message = f"HTTP {status}: {_status_message(data, response.getheader('Content-Type', ''))}"
        if status in RETRYABLE_STATUSES:
            return SendResult.retryable(
                message, parse_retry_after(response.getheader("Retry-After"))
            )
        return SendResult.permanent(message)

    def close(self) -> None:
        """Close every connection."""
        with self._lock:
            connections, self._all = self._all, []
        for connection in connections:
            connection.close()


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _partial_success(data: bytes, content_type: str) -> SendResult:
    if not data or not content_type.startswith(PROTOBUF):
        return SendResult.sent()
    response = trace_service_pb2.ExportTraceServiceResponse()
    try:
        response.ParseFromString(data)
    except DecodeError:
        return SendResult.sent()
    partial = response.partial_success
    return SendResult.sent(int(partial.rejected_spans), partial.error_message)


def _status_message(data: bytes, content_type: str) -> str:
    if content_type.startswith(PROTOBUF):
        status = status_pb2.Status()
        try:
            status.ParseFromString(data)
            return str(status.message)
        except DecodeError:
            pass
    return data[:200].decode("utf-8", "replace")
