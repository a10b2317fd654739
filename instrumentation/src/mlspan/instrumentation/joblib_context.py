"""Carrying the caller's trace context and call nesting into joblib workers.

scikit-learn runs search candidates, cross-validation folds, a forest's trees and a
ColumnTransformer's transformers through joblib. Loky workers are other processes and
threading workers other threads: neither sees the caller's ``contextvars``, so without
help a candidate fit in a worker would look like the user's own call (a full run, a root
span of a new trace). ``joblib.Parallel.__call__`` is wrapped so that, while an
instrumented call or a span is open, each task runs under ``InWorker``: the W3C trace
context and the nesting of the open call (step, candidate, internal) travel with the
task, pickled for process workers, and are restored around it. scikit-learn's own
``Parallel`` subclass calls ``joblib.Parallel.__call__`` after attaching its config, so
its tasks are covered too. Outside any instrumented call or span, tasks pass unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from mlspan.instrumentation.call_state import CURRENT_CALL, CallState, Nesting

_logger = logging.getLogger(__name__)
_PROPAGATOR = TraceContextTextMapPropagator()


class InWorker:
    """A joblib task that runs under its caller's trace context and call nesting.

    Within the caller's own thread (joblib's sequential backend) it simply calls the
    task. Elsewhere it attaches the caller's context (the live one in a thread, the
    propagated W3C one in another process) and a fresh call state whose only open level
    is the caller's nesting, so the calls inside are classified as they would be inline.
    """

    def __init__(
        self, function: Any, origin: CallState | None, nesting: Nesting | None, carrier: Any
    ) -> None:
        self.function = function
        self.nesting = nesting
        self.carrier = carrier
        self._origin = origin
        self._context: otel_context.Context | None = otel_context.get_current()

    def __getstate__(self) -> dict[str, Any]:
        return {"function": self.function, "nesting": self.nesting, "carrier": self.carrier}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.function = state["function"]
        self.nesting = state["nesting"]
        self.carrier = state["carrier"]
        self._origin = None
        self._context = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        current = CURRENT_CALL.get()
        if self._origin is not None and current is self._origin:
            return self.function(*args, **kwargs)
        tokens = self._enter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self._exit(tokens)

    def _enter(self) -> tuple[object, object] | None:
        try:
            context = self._context
            if context is None:
                context = _PROPAGATOR.extract(self.carrier)
            state = CallState(nesting=[self.nesting]) if self.nesting is not None else None
            return otel_context.attach(context), CURRENT_CALL.set(state)
        except Exception:
            _logger.warning("mlspan could not restore the caller's context", exc_info=True)
            return None

    @staticmethod
    def _exit(tokens: tuple[Any, Any] | None) -> None:
        if tokens is None:
            return
        try:
            CURRENT_CALL.reset(tokens[1])
            otel_context.detach(tokens[0])
        except Exception:
            _logger.warning("mlspan could not leave the caller's context", exc_info=True)


def _capture() -> tuple[CallState | None, Nesting | None, dict[str, str]] | None:
    """What tasks dispatched now must carry, or None when there is nothing to carry."""
    state = CURRENT_CALL.get()
    span_context = trace.get_current_span().get_span_context()
    if state is None and not span_context.is_valid:
        return None
    nesting = None
    if state is not None:
        nesting = Nesting.INTERNAL if state.light else state.inner()
    carrier: dict[str, str] = {}
    if span_context.is_valid:
        _PROPAGATOR.inject(carrier)
    return state, nesting, carrier


def _carried(tasks: Iterable[Any], origin: Any) -> Iterator[Any]:
    state, nesting, carrier = origin
    for task in tasks:
        if isinstance(task, tuple) and len(task) == 3 and callable(task[0]):
            yield InWorker(task[0], state, nesting, carrier), task[1], task[2]
        else:
            yield task


def parallel_call_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """wrapt wrapper of ``joblib.Parallel.__call__(self, iterable)``."""
    try:
        origin = _capture()
    except Exception:
        _logger.warning("mlspan could not capture the caller's context", exc_info=True)
        origin = None
    if origin is None:
        return wrapped(*args, **kwargs)
    if args:
        return wrapped(_carried(args[0], origin), *args[1:], **kwargs)
    if "iterable" in kwargs:
        kwargs = dict(kwargs)
        kwargs["iterable"] = _carried(kwargs["iterable"], origin)
    return wrapped(*args, **kwargs)
