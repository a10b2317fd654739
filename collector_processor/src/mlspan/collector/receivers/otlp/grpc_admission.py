"""Which OTLP/gRPC calls the receiver takes on, so that every refusal is counted.

gRPC's own refusals happen before any application code runs and are invisible to the
collector: past ``maximum_concurrent_rpcs`` the server answers RESOURCE_EXHAUSTED
(without ``RetryInfo``, which OTLP clients treat as final: they drop the data), and a
message over the receive limit is refused on its length prefix without the handler
ever being called. Here:

- ``CallCountingExecutor`` is the server's thread pool and counts the calls in flight
  (submitted and not finished: queued or running), the same quantity gRPC compares with
  ``maximum_concurrent_rpcs``.
- ``ExportHandlers`` looks at that count when a call arrives: past ``limit`` it serves
  the call with ``busy``, which answers at once, counted, with ``RetryInfo`` (it runs in
  the pool like any call, so it waits for a free thread; it never reads the request).
  Past ``backstop`` gRPC itself refuses the call before any handler runs; it is
  counted here, on arrival, as that is the last moment the collector sees it.
- Both handlers are stream-unary (one request message read from an iterator): the wire
  format is a unary call's, but the handler runs even when gRPC refused the message as
  too large, so that refusal can be counted too. gRPC does not say why no message came
  (too large, or the client cancelled mid-upload), hence a reason of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any, ParamSpec, TypeVar

import grpc

P = ParamSpec("P")
T = TypeVar("T")

Behavior = Callable[[Iterator[bytes], Any], bytes]
"""A stream-unary handler function: request iterator and servicer context to bytes."""


class CallCountingExecutor(futures.ThreadPoolExecutor):
    """A thread pool that knows how many submitted calls are not finished yet."""

    def __init__(self, max_workers: int, thread_name_prefix: str) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._count_lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Calls submitted and not finished (waiting for a thread, or running)."""
        return self._in_flight

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> futures.Future[T]:
        with self._count_lock:
            self._in_flight += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._finished(None)
            raise
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future: object) -> None:
        with self._count_lock:
            self._in_flight -= 1


class ExportHandlers(grpc.GenericRpcHandler):  # type: ignore[misc]
    """Serves ``method`` with ``export``, or ``busy`` past ``limit`` calls in flight;
    calls ``refused`` for each call gRPC itself will refuse (``backstop`` in flight)."""

    def __init__(
        self,
        method: str,
        executor: CallCountingExecutor,
        export: Behavior,
        busy: Behavior,
        limits: tuple[int, int],
        refused: Callable[[], None],
    ) -> None:
        self._method = method
        self._executor = executor
        self._export = grpc.stream_unary_rpc_method_handler(export)
        self._busy = grpc.stream_unary_rpc_method_handler(busy)
        self._limit, self._backstop = limits
        self._refused = refused

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        """The handler for a call that just arrived (on gRPC's polling thread)."""
        if details.method != self._method:
            return None
        in_flight = self._executor.in_flight
        if in_flight >= self._backstop:
            self._refused()  # gRPC answers RESOURCE_EXHAUSTED before any handler runs
            return self._busy
        if in_flight >= self._limit:
            return self._busy
        return self._export
