"""A real OTLP trace receiver for tests, built on opentelemetry-proto's service definitions.

``OtlpSink`` listens on 127.0.0.1 with OTLP/gRPC (``TraceService/Export``) and OTLP/HTTP
(``POST /v1/traces``, protobuf or JSON, optionally gzip) and keeps every
``ExportTraceServiceRequest`` it accepts. It can be stopped and restarted on the same
ports (to simulate a backend that is down for a while) and told to fail the next
requests with a retryable status. Its size limits are a backend's: gRPC's default
receive limit of 4 MiB unless ``grpc_max_receive_bytes`` says otherwise, and, with
``http_max_body_bytes``, 413 for a larger HTTP body.

    with OtlpSink() as sink:
        exporter = OTLPSpanExporter(endpoint=sink.grpc_endpoint, insecure=True)
        ...
        sink.wait_for_spans(10)
        assert sink.span_attributes()[0]["mlspan.model.name"] == "m"

As a pytest fixture::

    @pytest.fixture
    def sink() -> Iterator[OtlpSink]:
        with OtlpSink() as s:
            yield s
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def any_value_to_python(value: common_pb2.AnyValue) -> object:
    """An OTLP ``AnyValue`` as a Python value (arrays as lists, kvlists as dicts)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value_to_python(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value_to_python(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which)


def attributes_to_dict(attributes: Any) -> dict[str, object]:
    """A repeated ``KeyValue`` list as a dict."""
    return {kv.key: any_value_to_python(kv.value) for kv in attributes}


@dataclass(frozen=True)
class ReceivedSpan:
    """One received span with its resource attributes."""

    resource: dict[str, object]
    span: trace_pb2.Span

    @property
    def attributes(self) -> dict[str, object]:
        """The span's attributes as a dict."""
        return attributes_to_dict(self.span.attributes)


@dataclass
class _Failures:
    """Answer the next ``remaining`` requests with these statuses instead of accepting."""

    remaining: int = 0
    grpc_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    http_status: int = 503


class _Servicer(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self, sink: OtlpSink) -> None:
        self._sink = sink

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        failure = self._sink._take_failure()
        if failure is not None:
            context.abort(failure.grpc_code, "sink told to fail")
        metadata = {key: str(value) for key, value in context.invocation_metadata()}
        self._sink._add(request, "grpc", metadata)
        return trace_service_pb2.ExportTraceServiceResponse()


def _handler_class(sink: OtlpSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            limit = sink.http_max_body_bytes
            if limit is not None and length > limit:
                self._reply(413, b"body too large", "text/plain")
                return
            if self.path != "/v1/traces":
                self._reply(404, b"not found", "text/plain")
                return
            failure = sink._take_failure()
            if failure is not None:
                self._reply(failure.http_status, b"sink told to fail", "text/plain", retry=True)
                return
            try:
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                request = trace_service_pb2.ExportTraceServiceRequest()
                content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
                if content_type == "application/json":
                    json_format.Parse(body, request)
                else:
                    request.ParseFromString(body)
            except (ValueError, OSError, EOFError, zlib.error, json_format.ParseError) as exc:
                self._reply(400, str(exc).encode(), "text/plain")
                return
            sink._add(request, "http", {k.lower(): v for k, v in self.headers.items()})
            response = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            self._reply(200, response, "application/x-protobuf")

        def _reply(self, status: int, body: bytes, content_type: str, retry: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if retry:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(body)

    return Handler


class OtlpSink:
    """A real OTLP/gRPC + OTLP/HTTP trace receiver on 127.0.0.1 that records requests."""

    def __init__(
        self,
        grpc_port: int = 0,
        http_port: int = 0,
        grpc_max_receive_bytes: int | None = None,
        http_max_body_bytes: int | None = None,
    ) -> None:
        self.grpc_port = grpc_port or free_port()
        self.http_port = http_port or free_port()
        self.grpc_max_receive_bytes = grpc_max_receive_bytes
        """gRPC's receive limit; None keeps gRPC's default (4 MiB)."""
        self.http_max_body_bytes = http_max_body_bytes
        """Largest HTTP body accepted (413 beyond); None: no limit."""
        self._lock = threading.Condition()
        self._requests: list[tuple[str, trace_service_pb2.ExportTraceServiceRequest]] = []
        self._headers: list[dict[str, str]] = []
        self._failures = _Failures()
        self._grpc: grpc.Server | None = None
        self._http: ThreadingHTTPServer | None = None
        self._http_thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> OtlpSink:
        """Listen on both ports (the same ones after a restart)."""
        if self._grpc is None:
            limit = self.grpc_max_receive_bytes
            options = [] if limit is None else [("grpc.max_receive_message_length", limit)]
            server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=options)
            trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Servicer(self), server)
            bound = server.add_insecure_port(f"{HOST}:{self.grpc_port}")
            if bound != self.grpc_port:
                raise OSError(f"could not bind gRPC port {self.grpc_port}")
            server.start()
            self._grpc = server
        if self._http is None:
            self._http = self._bind_http()
            self._http_thread = threading.Thread(
                target=self._http.serve_forever, name="otlp-sink-http", daemon=True
            )
            self._http_thread.start()
        return self

    def _bind_http(self) -> ThreadingHTTPServer:
        deadline = time.monotonic() + 10
        while True:
            try:
                server = ThreadingHTTPServer((HOST, self.http_port), _handler_class(self))
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
                continue
            server.daemon_threads = True
            return server

    def stop(self) -> None:
        """Stop listening; recorded requests are kept. Safe to call more than once."""
        if self._grpc is not None:
            self._grpc.stop(grace=None).wait()
            self._grpc = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._http_thread is not None:
            self._http_thread.join(timeout=5)
            self._http_thread = None

    def restart(self) -> None:
        """Stop, then listen again on the same ports."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        """Whether the sink is listening."""
        return self._grpc is not None

    def __enter__(self) -> OtlpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- endpoints -------------------------------------------------------------------
    @property
    def grpc_endpoint(self) -> str:
        """``host:port`` for gRPC exporters."""
        return f"{HOST}:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        """Full URL of the ``/v1/traces`` endpoint."""
        return f"http://{HOST}:{self.http_port}/v1/traces"

    # -- behaviour -------------------------------------------------------------------
    def fail_next(
        self,
        count: int,
        grpc_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE,
        http_status: int = 503,
    ) -> None:
        """Refuse the next ``count`` requests (either protocol) with a retryable status."""
        with self._lock:
            self._failures = _Failures(count, grpc_code, http_status)

    def _take_failure(self) -> _Failures | None:
        with self._lock:
            if self._failures.remaining <= 0:
                return None
            self._failures.remaining -= 1
            return self._failures

    def _add(
        self,
        request: trace_service_pb2.ExportTraceServiceRequest,
        protocol: str,
        headers: dict[str, str],
    ) -> None:
        with self._lock:
            self._requests.append((protocol, request))
            self._headers.append(headers)
            self._lock.notify_all()

    # -- what was received -----------------------------------------------------------
    @property
    def requests(self) -> list[trace_service_pb2.ExportTraceServiceRequest]:
        """Every accepted request, in arrival order."""
        with self._lock:
            return [request for _, request in self._requests]

    @property
    def headers(self) -> list[dict[str, str]]:
        """Request headers (HTTP) or metadata (gRPC) of each accepted request, keys
        lowercased."""
        with self._lock:
            return list(self._headers)

    @property
    def protocols(self) -> list[str]:
        """``"grpc"`` or ``"http"`` for each accepted request."""
        with self._lock:
            return [protocol for protocol, _ in self._requests]

    def received_spans(self) -> list[ReceivedSpan]:
        """Every received span with its resource attributes."""
        return list(self._iter_spans())

    def _iter_spans(self) -> Iterator[ReceivedSpan]:
        for request in self.requests:
            for resource_spans in request.resource_spans:
                resource = attributes_to_dict(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        yield ReceivedSpan(resource, span)

    def span_attributes(self) -> list[dict[str, object]]:
        """The attributes of every received span, as dicts."""
        return [received.attributes for received in self._iter_spans()]

    @property
    def span_count(self) -> int:
        """How many spans arrived so far."""
        with self._lock:
            return sum(_count(request) for _, request in self._requests)

    def wait_for_spans(self, count: int, timeout: float = 10.0) -> int:
        """Block until at least ``count`` spans arrived; raises ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                received = sum(_count(request) for _, request in self._requests)
                if received >= count:
                    return received
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"sink received {received} of {count} spans")
                self._lock.wait(remaining)

    def clear(self) -> None:
        """Forget every recorded request."""
        with self._lock:
            self._requests.clear()
            self._headers.clear()


def _count(request: trace_service_pb2.ExportTraceServiceRequest) -> int:
    return sum(len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans)
