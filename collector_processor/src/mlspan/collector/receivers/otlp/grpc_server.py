"""OTLP/gRPC ``TraceService/Export`` served with the sync gRPC server.

The method is registered with no request deserializer, so the handler receives the
request bytes and parses them once with the reduced schema (``TraceIngest``) instead of
gRPC building a full ``ExportTraceServiceRequest`` first. gRPC decompresses gzip requests.

The configured size limit is checked here, on the request's length, so an oversized
request is answered RESOURCE_EXHAUSTED *and counted* (``too_large``): gRPC's own check
refuses a message before any handler runs. gRPC's limit is therefore set
``HARD_LIMIT_FACTOR`` times higher, as the bound on what a request may make the server
buffer; a request past that is refused by gRPC, and counted as ``not_received`` (see
``grpc_admission``, which also counts calls refused for being too many).

Status codes follow the OTLP specification: INVALID_ARGUMENT for a malformed request
(not retryable), RESOURCE_EXHAUSTED with ``RetryInfo`` when queues are full, UNAVAILABLE
with ``RetryInfo`` while shutting down or when too many calls are in flight. Each
connection may have as many calls in flight as there are server threads; more wait in
the client's connection rather than being refused.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, Final, NoReturn

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from mlspan.collector.receivers.otlp.config import MIB, GrpcConfig
from mlspan.collector.receivers.otlp.grpc_admission import CallCountingExecutor, ExportHandlers
from mlspan.collector.receivers.otlp.ingest import (
    IngestResult,
    Status,
    TraceIngest,
    fault_report,
    printable,
)
from mlspan.collector.security.bearer import Verdict
from mlspan.collector.security.grpc_auth import auth_interceptors
from mlspan.collector.security.tls import add_grpc_port

logger = logging.getLogger(__name__)

SERVICE: Final = "opentelemetry.proto.collector.trace.v1.TraceService"
EXPORT_METHOD: Final = f"/{SERVICE}/Export"
STATUS_DETAILS_KEY: Final = "grpc-status-details-bin"
HARD_LIMIT_FACTOR: Final = 4
"""gRPC's own receive limit, as a multiple of the configured one (see the module
docstring): 64 MiB by default, which covers the 18-55 MB batches an SDK's default
512-span batch of wide ML spans reaches."""
_GRPC_INT_MAX: Final = 2**31 - 1
QUEUED_CALLS_FACTOR: Final = 4
"""Calls in flight across connections (queued or running), as a multiple of the server
threads, past which a call is answered UNAVAILABLE with ``RetryInfo``, counted."""
BACKSTOP_FACTOR: Final = 8
"""Calls in flight past which gRPC itself refuses (RESOURCE_EXHAUSTED, counted on
arrival): the bound on refusals waiting for a thread."""

_CODES: Final = {
    Status.MALFORMED: (grpc.StatusCode.INVALID_ARGUMENT, code_pb2.INVALID_ARGUMENT),
    Status.TOO_LARGE: (grpc.StatusCode.RESOURCE_EXHAUSTED, code_pb2.RESOURCE_EXHAUSTED),
    Status.UNSUPPORTED_MEDIA: (grpc.StatusCode.INVALID_ARGUMENT, code_pb2.INVALID_ARGUMENT),
    Status.QUEUE_FULL: (grpc.StatusCode.RESOURCE_EXHAUSTED, code_pb2.RESOURCE_EXHAUSTED),
    Status.UNAVAILABLE: (grpc.StatusCode.UNAVAILABLE, code_pb2.UNAVAILABLE),
    Status.INTERNAL: (grpc.StatusCode.INTERNAL, code_pb2.INTERNAL),
    Status.NOT_RECEIVED: (grpc.StatusCode.RESOURCE_EXHAUSTED, code_pb2.RESOURCE_EXHAUSTED),
}
_END_WAIT_S: Final = 0.2
_RETRYABLE: Final = frozenset({Status.QUEUE_FULL, Status.UNAVAILABLE})


def grpc_receive_limit(limit: int) -> int:
    """gRPC's own receive limit for a configured limit of ``limit`` bytes."""
    return min(limit * HARD_LIMIT_FACTOR, _GRPC_INT_MAX)


def status_details(code: int, message: str, retry_after: float | None) -> bytes:
    """A serialized ``google.rpc.Status``, with ``RetryInfo`` when a delay is given."""
    status = status_pb2.Status(code=code, message=message)
    if retry_after is not None:
        seconds = int(retry_after)
        info = error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(
                seconds=seconds, nanos=int((retry_after - seconds) * 1e9)
            )
        )
        detail = any_pb2.Any()
        detail.Pack(info)
        status.details.append(detail)
    return bytes(status.SerializeToString())


def _ends(context: Any) -> bool:
    """Whether the call ends within ``_END_WAIT_S``: gRPC reports a refused message and
    the end of the call as two events, in either order."""
    deadline = time.monotonic() + _END_WAIT_S
    while context.is_active():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class GrpcReceiver:
    """The gRPC half of an ``otlp`` receiver."""

    def __init__(self, config: GrpcConfig, ingest: TraceIngest, retry_after: float) -> None:
        self.config = config
        self._ingest = ingest
        self._retry_after = retry_after
        self._server: grpc.Server | None = None
        self._limit = config.max_recv_msg_size_mib * MIB
        self.port = 0
        self.on_denied: Callable[[Verdict], None] | None = None
        """Called for each call refused for a missing or wrong token (counting)."""

    def start(self) -> None:
        """Bind and serve; raises ``OSError`` when the address cannot be bound."""
        if self._server is not None:
            return
        threads = self.config.max_concurrent_requests
        executor = CallCountingExecutor(threads, f"otlp-grpc-{self._ingest.name}")
        server = grpc.server(
            executor,
            options=[
                ("grpc.max_receive_message_length", grpc_receive_limit(self._limit)),
                ("grpc.so_reuseport", 0),
                # Per connection, no more calls in flight than there are server threads:
                # an exporter's further calls wait in its connection (HTTP/2 flow
                # control) instead of reaching the limit below.
                ("grpc.max_concurrent_streams", self.config.max_concurrent_requests),
            ],
            # Across connections: past this, gRPC itself answers RESOURCE_EXHAUSTED, which
            # carries no RetryInfo (a last resort: ``ExportHandlers`` refuses first).
            maximum_concurrent_rpcs=threads * BACKSTOP_FACTOR,
            # Calls without an accepted bearer token end UNAUTHENTICATED (auth: set).
            interceptors=auth_interceptors(self.config.auth, self.on_denied),
        )
        handlers = ExportHandlers(
            EXPORT_METHOD,
            executor,
            self._export,
            self._busy,
            (threads * QUEUED_CALLS_FACTOR, threads * BACKSTOP_FACTOR),
            self._refused_by_grpc,
        )
        server.add_generic_rpc_handlers((handlers,))
        try:
            port = add_grpc_port(server, self.config.endpoint, self.config.tls)
        except RuntimeError as exc:
            raise OSError(f"cannot listen on {self.config.endpoint}: {exc}") from exc
        if port == 0:
            raise OSError(f"cannot listen on {self.config.endpoint}")
        server.start()
        self.port = port
        self._server = server
        logger.info("OTLP/gRPC receiver listening on %s", self.address)

    @property
    def address(self) -> str:
        """``host:port`` actually bound."""
        host = self.config.endpoint.rpartition(":")[0]
        return f"{host}:{self.port}"

    def shutdown(self, grace: float = 5.0) -> None:
        """Stop accepting calls and wait up to ``grace`` seconds for running ones."""
        server, self._server = self._server, None
        if server is not None:
            server.stop(grace).wait()

    def _export(self, requests: Iterator[bytes], context: Any) -> bytes:
        try:
            request = self._receive(requests, context)
            if isinstance(request, IngestResult):
                result = request
            elif len(request) > self._limit:
                message = f"request of {len(request)} bytes over {self._limit}"
                result = self._ingest.reject(Status.TOO_LARGE, message)
            else:
                result = self._ingest.ingest(request)
            if result.status is Status.OK:
                return result.response_bytes()
        except Exception as exc:  # a bug: answer INTERNAL, keep the server thread
            # Logged as text: the traceback reaches ``context``, and whatever kept it
            # would keep the call and its HTTP/2 stream alive.
            name = self._ingest.name
            logger.error("receiver %s: unexpected error\n%s", name, fault_report(exc))
            result = self._ingest.reject(Status.INTERNAL, "internal error")
        self._abort(context, result)

    def _receive(self, requests: Iterator[bytes], context: Any) -> bytes | IngestResult:
        """The call's one request message, or the refusal when none came: gRPC refused
        the message (over its limit) or the client cancelled, and the call ends; or the
        client sent no message at all, and the call goes on."""
        try:
            return next(requests)
        except StopIteration:
            if not _ends(context):
                return self._ingest.reject(Status.MALFORMED, "the call carried no request")
        except grpc.RpcError:
            pass
        limit = grpc_receive_limit(self._limit)
        message = f"no request received: over gRPC's limit of {limit} bytes, or cancelled"
        return self._ingest.reject(Status.NOT_RECEIVED, message)

    def _busy(self, _requests: Iterator[bytes], context: Any) -> bytes:
        """Too many calls in flight: UNAVAILABLE with RetryInfo, without reading."""
        message = "too many calls in progress"
        self._abort(context, self._ingest.reject(Status.UNAVAILABLE, message))

    def _refused_by_grpc(self) -> None:
        message = "too many calls in progress (refused by gRPC)"
        self._ingest.reject(Status.UNAVAILABLE, message)

    def _abort(self, context: Any, result: IngestResult) -> NoReturn:
        grpc_code, rpc_code = _CODES[result.status]
        delay = self._retry_after if result.status in _RETRYABLE else None
        message = printable(result.message)
        details = status_details(rpc_code, message, delay)
        context.set_trailing_metadata(((STATUS_DETAILS_KEY, details),))
        context.abort(grpc_code, message)
        raise AssertionError("unreachable: context.abort raises")
