"""Light calls: the user's own small predict-like calls, recorded at the lowest cost.

A serving loop calls ``predict`` on one row at a time, often inside a request trace, so
what mlspan adds to such a call is paid on every request. A light call is a call of an
``ONLINE_METHODS`` method with fewer than ``online_max_rows`` rows that no other
instrumented call is open around. Its span carries the model's class, name, framework
and version, the operation, the dataset role and rows and the call role; no digests and
no events: its input and output feed the per-model accumulated summary
(``mlspan.instrumentation.online``). Inside a trace every light call gets a child span;
outside any trace a ``RootSpanPacer`` lets one call per ``online_root_span_seconds``
have a root span. Nothing nested in a light call is recorded.

Everything that is the same from one call to the next is computed once: the span name
and the constant attributes per (class, method), and the accumulator's ``ModelKey`` per
(model name, version). Both caches are bounded. The span is made current with
``context.attach``/``detach`` (what ``trace.use_span`` does, without its generator
context manager), and one light ``CallState`` is shared by all light calls: it is never
changed, it only tells nested calls that they are not recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from opentelemetry.util.types import AttributeValue

from mlspan.instrumentation.call_state import CURRENT_CALL, CallState
from mlspan.instrumentation.component_metrics import CURRENT_MODEL_NAME
from mlspan.instrumentation.model_version import class_path, model_version_of
from mlspan.instrumentation.online import ModelKey, OnlineAccumulator, RootSpanPacer
from mlspan.instrumentation.options import InstrumentationOptions
from mlspan.instrumentation.sklearn_methods import FRAMEWORK, PREDICTION_METHODS, dataset_role
from mlspan.instrumentation.span_budget import bound_attributes
from mlspan.semconv import (
    CALL_ROLE,
    DATASET_ROLE,
    DATASET_ROWS,
    MODEL_CLASS,
    MODEL_FRAMEWORK,
    MODEL_NAME,
    MODEL_VERSION,
    OPERATION_NAME,
    CallRole,
)

_logger = logging.getLogger(__name__)

MAX_CACHED: Final = 4096
"""Most entries each cache holds; a full cache starts over (it only saves work)."""

Opened = tuple[trace.Span, dict[str, AttributeValue]]
"""A light call's span and the attributes it was started with."""
_KeyId = tuple[AttributeValue, AttributeValue, AttributeValue | None]
"""Model class, name and version (None when unknown): what a ``ModelKey`` depends on."""


@dataclass(frozen=True, slots=True)
class _Template:
    """The span name and the attributes every light call of one method on one class has."""

    name: str
    path: str
    attributes: dict[str, AttributeValue]


class LightCalls:
    """Records light calls on one tracer with one set of options."""

    def __init__(
        self,
        tracer: trace.Tracer,
        options: InstrumentationOptions,
        accumulator: OnlineAccumulator,
        version_for_predict: Callable[[Any], str | None],
    ) -> None:
        self._tracer = tracer
        self._options = options
        self._accumulator = accumulator
        self._version_for_predict = version_for_predict
        self._pacer = RootSpanPacer(options.online_root_span_seconds)
        self._paced = options.online_root_span_seconds > 0
        self._templates: dict[tuple[type, str], _Template] = {}
        self._keys: dict[_KeyId, ModelKey] = {}
        self._state = CallState(light=True)

    def is_light(self, method_is_online: bool, rows: int | None) -> bool:
        """Whether an outermost call of an online method with ``rows`` rows is light."""
        return method_is_online and rows is not None and rows < self._options.online_max_rows

    def open(self, method: str, instance: Any, rows: int) -> Opened | None:
        """The light call's span (``INVALID_SPAN`` for a bare call that only feeds the
        summary) and attributes, or None when it gets none: the tracer does not record,
        or starting the span failed (logged). The caller then runs the call unrecorded."""
        try:
            return self._open(method, instance, rows)
        except Exception:
            _logger.warning("mlspan could not start the span of %s", method, exc_info=True)
            return None

    def run(
        self,
        opened: Opened,
        method: str,
        x: object,
        rows: int,
        wrapped: Any,
        args: tuple[Any, ...],
        kwargs: Any,
    ) -> Any:
        """Run ``wrapped(*args, **kwargs)`` with the opened span current; its result or
        exception passes through unchanged."""
        span, attributes = opened
        state_token = CURRENT_CALL.set(self._state)
        try:
            span_token = otel_context.attach(trace.set_span_in_context(span))
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as error:
                self._fail(span, error)
                raise
            finally:
                otel_context.detach(span_token)
        finally:
            CURRENT_CALL.reset(state_token)
        self._finish(span, method, attributes, x, rows, result)
        return result

    def _template(self, cls: type, method: str) -> _Template:
        template = self._templates.get((cls, method))
        if template is None:
            if len(self._templates) >= MAX_CACHED:
                self._templates.clear()
            path = class_path(cls)
            attributes: dict[str, AttributeValue] = {
                MODEL_CLASS: path,
                MODEL_NAME: cls.__name__,
                MODEL_FRAMEWORK: FRAMEWORK,
                OPERATION_NAME: method,
                DATASET_ROLE: dataset_role(method).value,
                CALL_ROLE: CallRole.USER.value,
            }
            template = _Template(f"{method} {cls.__name__}", path, attributes)
            self._templates[(cls, method)] = template
        return template

    def _open(self, method: str, instance: Any, rows: int) -> Opened | None:
        template = self._template(type(instance), method)
        attributes = template.attributes.copy()
        name = CURRENT_MODEL_NAME.get() or self._options.model_name
        if name:
            attributes[MODEL_NAME] = name
        stored = model_version_of(instance)
        if stored is not None:
            attributes[MODEL_VERSION] = stored
        attributes[DATASET_ROWS] = rows
        span: trace.Span
        if self._paced and not self._pacer.due() and not _in_trace():
            if not self._pacer.recording:
                return None
            span = trace.INVALID_SPAN
        else:
            span = self._tracer.start_span(template.name, attributes=attributes)
            recording = span.is_recording()
            if self._paced:
                self._pacer.recorded(recording)
            if not recording:
                span.end()
                return None
        if stored is None:
            # once per model (the version is then stored on it); a pickle of the model
            # may call instrumented code, which is nested in this call
            token = CURRENT_CALL.set(self._state)
            try:
                version = self._version_for_predict(instance)
                if version is not None:
                    span.set_attribute(MODEL_VERSION, version)
                    attributes[MODEL_VERSION] = version
            except Exception:
                span.end()
                raise
            finally:
                CURRENT_CALL.reset(token)
        return span, attributes

    def _fail(self, span: trace.Span, error: BaseException) -> None:
        try:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            bound_attributes(span, self._options.max_span_bytes // 2)
        except Exception:
            _logger.warning("mlspan could not record an exception", exc_info=True)
        finally:
            span.end()

    def _finish(
        self,
        span: trace.Span,
        method: str,
        attributes: dict[str, AttributeValue],
        x: object,
        rows: int,
        result: Any,
    ) -> None:
        try:
            if self._options.summaries:
                output = result if method in PREDICTION_METHODS else None
                self._accumulator.add(self._key(attributes), x, output, rows)
        except Exception:
            _logger.warning("mlspan could not finish the span of %s", method, exc_info=True)
        finally:
            span.end()

    def _key(self, attributes: dict[str, AttributeValue]) -> ModelKey:
        """The accumulator's key of the model these attributes describe."""
        cached = (attributes[MODEL_CLASS], attributes[MODEL_NAME], attributes.get(MODEL_VERSION))
        key = self._keys.get(cached)
        if key is None:
            if len(self._keys) >= MAX_CACHED:
                self._keys.clear()
            key = ModelKey(
                str(attributes.get(MODEL_VERSION, "")),
                str(attributes[MODEL_NAME]),
                tuple(
                    (name, str(attributes[name]))
                    for name in (MODEL_CLASS, MODEL_NAME, MODEL_FRAMEWORK, MODEL_VERSION)
                    if name in attributes
                ),
            )
            self._keys[cached] = key
        return key


def _in_trace() -> bool:
    """Whether a valid span is current (a request trace around the call)."""
    return trace.get_current_span().get_span_context().is_valid
