"""The OTLP backend the fuzzed collector forwards to: a real gRPC server that parses each
request as any OTLP receiver would, and keeps the ones it cannot parse.

The collector forwards what it acknowledged; if a conformant receiver
(``opentelemetry-proto``'s message, protobuf's own parser) cannot parse it, those spans
are lost downstream after the client was told they were accepted. Such requests are
answered INVALID_ARGUMENT, as a backend would, and saved under ``folder`` for replay.
The server can be stopped and started again on the same port (a backend outage).
"""

from __future__ import annotations

import threading
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from tests.support.otlp_client import EXPORT_METHOD
from tests.support.otlp_sink import HOST, free_port

_SERVICE, _, _METHOD = EXPORT_METHOD.lstrip("/").partition("/")


class ParsingBackend:
    """OTLP/gRPC ``Export`` on 127.0.0.1 that counts what it could and could not parse."""

    def __init__(self, folder: Path, saved_at_most: int = 20) -> None:
        self.folder = folder
        self.saved_at_most = saved_at_most
        self.port = free_port()
        self.parsed_spans = 0
        self.unparseable: list[Path] = []
        self.unparseable_count = 0
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None

    @property
    def endpoint(self) -> str:
        """``host:port`` for the collector's exporter."""
        return f"{HOST}:{self.port}"

    def _export(self, body: bytes, context: Any) -> bytes:
        try:
            request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
        except DecodeError as exc:
            with self._lock:
                self.unparseable_count += 1
                if len(self.unparseable) < self.saved_at_most:
                    self.folder.mkdir(parents=True, exist_ok=True)
                    path = self.folder / f"forwarded-{self.unparseable_count:04d}.bin"
                    path.write_bytes(body)
                    self.unparseable.append(path)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"cannot parse: {exc}")
        with self._lock:
            self.parsed_spans += sum(
                len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans
            )
        return b""

    def start(self) -> None:
        """Listen (again) on the same port."""
        if self._server is not None:
            return
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        handler = grpc.method_handlers_generic_handler(
            _SERVICE, {_METHOD: grpc.unary_unary_rpc_method_handler(self._export)}
        )
        server.add_generic_rpc_handlers((handler,))
        if server.add_insecure_port(self.endpoint) != self.port:
            raise OSError(f"cannot bind {self.endpoint}")
        server.start()
        self._server = server

    def stop(self) -> None:
        """Stop listening (a backend outage); safe to call more than once."""
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None
