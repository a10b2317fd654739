"""pandas instrumentation: file reads and writes become spans linking files and frames.

Usage::

    from mlspan.instrumentation.pandas import PandasInstrumentor

    PandasInstrumentor().instrument(tracer_provider=provider)  # provider optional

or with no code change: ``opentelemetry-instrument python job.py`` (entry point
``mlspan_pandas``).

``pandas.read_csv``, ``read_parquet``, ``read_json``, ``read_excel`` and ``read_sql``
record a span of operation ``read`` whose input is the file's content digest
(``file:xxh3_128:...``) and whose output is the frame's data digest; ``DataFrame.to_csv``,
``to_parquet`` and ``to_json`` record a span of operation ``write`` from the frame's data
digest to the written file's content digest. Both carry the path or URI as
``mlspan.dataset.source``. The functions are wrapped when pandas is imported.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection
from types import ModuleType
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.trace import Status, StatusCode
from opentelemetry.util.types import AttributeValue

from mlspan.instrumentation.call_state import CURRENT_CALL, CallState
from mlspan.instrumentation.digest import ALGORITHM, digest_file
from mlspan.instrumentation.features import shape_of
from mlspan.instrumentation.package import _instruments_pandas
from mlspan.instrumentation.patching import ImportHooks, Patcher
from mlspan.instrumentation.provenance import Provenance, finalize_sources
from mlspan.instrumentation.version import __version__
from mlspan.instrumentation.warning_location import keep_warning_locations
from mlspan.semconv import (
    DATASET_COLUMNS,
    DATASET_DIGEST,
    DATASET_ROWS,
    DATASET_SOURCE,
    DIGEST_ALGORITHM,
    IO_INPUTS,
    IO_OUTPUTS,
    OPERATION_NAME,
    OperationName,
)

READERS: Final = ("read_csv", "read_parquet", "read_json", "read_excel", "read_sql")
WRITERS: Final = ("to_csv", "to_parquet", "to_json")
_SOURCE_KEYWORDS: Final = ("filepath_or_buffer", "path", "path_or_buf", "io", "sql")
_MAX_SOURCE: Final = 1000

_logger = logging.getLogger(__name__)


def _source(args: tuple[Any, ...], kwargs: dict[str, Any]) -> object:
    if args:
        return args[0]
    for keyword in _SOURCE_KEYWORDS:
        if keyword in kwargs:
            return kwargs[keyword]
    return None


def _source_text(source: object) -> str | None:
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        return text if isinstance(text, str) else None
    return None


def _local_file(source: object) -> str | None:
    text = _source_text(source)
    if text is None or "://" in text or "\n" in text:
        return None
    return text if os.path.isfile(text) else None


class _Recorder:
    """Records the read and write calls of pandas on one tracer."""

    def __init__(self, tracer: trace.Tracer, provenance: Provenance) -> None:
        self._tracer = tracer
        self._provenance = provenance

    def finalizer(self) -> Any:
        """Wrapper of ``NDFrame.__finalize__``: results inherit their sources' ancestors."""

        def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            result = wrapped(*args, **kwargs)
            try:
                other = args[0] if args else kwargs.get("other")
                self._provenance.derive(instance, finalize_sources(other))
            except Exception:
                _logger.debug("provenance of a pandas result not recorded", exc_info=True)
            return result

        return wrapper

    def reader(self, name: str) -> Any:
        def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            return self._call(name, OperationName.READ, wrapped, None, args, kwargs)

        return wrapper

    def writer(self, name: str) -> Any:
        def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            return self._call(name, OperationName.WRITE, wrapped, instance, args, kwargs)

        return wrapper

    def _call(
        self,
        name: str,
        operation: OperationName,
        wrapped: Any,
        frame: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        state = CURRENT_CALL.get()
        if state is not None and state.light:
            return wrapped(*args, **kwargs)
        outermost = state is None
        state = state or CallState()
        token = CURRENT_CALL.set(state) if outermost else None
        try:
            span = self._start(name, operation, frame, args, kwargs, state)
            if span is None:
                return wrapped(*args, **kwargs)
            with trace.use_span(
                span, end_on_exit=False, record_exception=False, set_status_on_exception=False
            ):
                try:
                    result = wrapped(*args, **kwargs)
                except BaseException as error:
                    span.record_exception(error)
                    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
                    span.end()
                    raise
            self._finish(span, operation, result, args, kwargs, state)
            return result
        finally:
            if token is not None:
                CURRENT_CALL.reset(token)

    def _start(
        self,
        name: str,
        operation: OperationName,
        frame: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        state: CallState,
    ) -> trace.Span | None:
        try:
            source = _source(args, kwargs)
            attributes: dict[str, AttributeValue] = {
                OPERATION_NAME: operation.value,
                DIGEST_ALGORITHM: ALGORITHM,
            }
            text = _source_text(source)
            if text is not None:
                attributes[DATASET_SOURCE] = text[:_MAX_SOURCE]
            span = self._tracer.start_span(name, attributes=attributes)
            if not span.is_recording():
                span.end()
                return None
            if operation is OperationName.READ:
                path = _local_file(source)
                span.set_attribute(IO_INPUTS, [digest_file(path)] if path else [])
            else:
                digest = self._describe_frame(span, frame, IO_INPUTS, state)
                upstream = sorted(self._provenance.ancestors(frame) - {digest})
                outputs = self._provenance.matching_outputs(frame)
                if upstream or outputs:
                    inputs = [digest] if digest else []
                    span.set_attribute(IO_INPUTS, [*inputs, *upstream, *outputs])
            return span
        except Exception:
            _logger.warning("mlspan could not start %s", name, exc_info=True)
            return None

    def _describe_frame(
        self, span: trace.Span, frame: Any, key: str, state: CallState
    ) -> str | None:
        digest = state.digest(frame)
        span.set_attribute(key, [digest] if digest else [])
        if digest:
            span.set_attribute(DATASET_DIGEST, digest)
        shape = shape_of(frame)
        if shape is not None:
            span.set_attribute(DATASET_ROWS, shape[0])
            span.set_attribute(DATASET_COLUMNS, shape[1])
        return digest

    def _finish(
        self,
        span: trace.Span,
        operation: OperationName,
        result: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        state: CallState,
    ) -> None:
        try:
            if operation is OperationName.READ:
                digest = self._describe_frame(span, result, IO_OUTPUTS, state)
                if digest:
                    self._provenance.mark(result, [digest])
            else:
                path = _local_file(_source(args, kwargs))
                span.set_attribute(IO_OUTPUTS, [digest_file(path)] if path else [])
        except Exception:
            _logger.warning("mlspan could not finish a span", exc_info=True)
        finally:
            span.end()


class PandasInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """OpenTelemetry instrumentor for pandas file reads and writes."""

    _hooks: ImportHooks | None = None
    _patcher: Patcher | None = None
    _recorder: _Recorder | None = None
    _provenance: Provenance | None = None

    @property
    def provenance(self) -> Provenance | None:
        """What live frames derive from, while instrumented (used by the sklearn spans)."""
        return self._provenance

    def instrumentation_dependencies(self) -> Collection[str]:
        """pandas >= 2.0."""
        return _instruments_pandas

    def _instrument(self, **kwargs: Any) -> None:
        tracer = trace.get_tracer(
            __name__, __version__, tracer_provider=kwargs.get("tracer_provider")
        )
        self._provenance = Provenance()
        self._recorder = _Recorder(tracer, self._provenance)
        self._patcher = Patcher()
        keep_warning_locations(self._patcher)
        if self._hooks is None:
            self._hooks = ImportHooks(("pandas",), self._patch_module)
        self._hooks.activate()

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._hooks is not None:
            self._hooks.deactivate()
        if self._patcher is not None:
            self._patcher.restore_all()
        self._patcher = self._recorder = self._provenance = None

    def _patch_module(self, module: ModuleType) -> None:
        patcher, recorder = self._patcher, self._recorder
        if patcher is None or recorder is None:
            return
        for name in READERS:
            patcher.wrap_attribute(module, name, recorder.reader(name))
        for name in WRITERS:
            patcher.wrap_method(module.DataFrame, name, recorder.writer(name))
        patcher.wrap_method(module.DataFrame, "__finalize__", recorder.finalizer())
