"""What one instrumented scikit-learn call records: its span, digests, versions, summaries.

``SklearnRecorder.call`` is the body of every wrapper. The user's method always runs
exactly once with the caller's arguments, its result or exception passes through
untouched, and any failure of the recording itself is logged, never raised.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from opentelemetry.util.types import AttributeValue

from mlspan.instrumentation.background import BackgroundSummaries, Pending
from mlspan.instrumentation.call_state import CURRENT_CALL, CallState
from mlspan.instrumentation.digest import ALGORITHM
from mlspan.instrumentation.emit import add_summaries
from mlspan.instrumentation.features import shape_of
from mlspan.instrumentation.model_version import (
    class_path,
    compute_model_version,
    feature_kinds_of,
    fitted_model_id,
    model_version_of,
    params_json,
    store_feature_kinds,
    store_model_version,
)
from mlspan.instrumentation.online import ModelKey, OnlineAccumulator
from mlspan.instrumentation.options import InstrumentationOptions
from mlspan.instrumentation.provenance import Provenance
from mlspan.instrumentation.summarize import Summarizer, SummaryCache
from mlspan.semconv import (
    DATASET_COLUMNS,
    DATASET_DIGEST,
    DATASET_ROLE,
    DATASET_ROWS,
    DATASET_TARGET_DIGEST,
    DIGEST_ALGORITHM,
    IO_INPUTS,
    IO_OUTPUTS,
    MODEL_CLASS,
    MODEL_FRAMEWORK,
    MODEL_FRAMEWORK_VERSION,
    MODEL_NAME,
    MODEL_PARAMS,
    MODEL_VERSION,
    OPERATION_NAME,
    PREDICTION_DIGEST,
    DatasetRole,
    FeatureOrigin,
)

_logger = logging.getLogger(__name__)

FRAMEWORK: Final = "scikit-learn"
METHODS: Final = (
    "fit",
    "partial_fit",
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "transform",
    "fit_transform",
    "fit_predict",
    "score",
)
FIT_METHODS: Final = frozenset({"fit", "partial_fit", "fit_transform", "fit_predict"})
PREDICTION_METHODS: Final = frozenset(
    {"predict", "predict_proba", "predict_log_proba", "decision_function", "fit_predict"}
)
OUTPUT_METHODS: Final = frozenset({"transform", "fit_transform"})
ONLINE_METHODS: Final = frozenset(
    {"predict", "predict_proba", "predict_log_proba", "decision_function", "transform"}
)


@dataclass
class _Call:
    """One recorded call: its span and what the end of the call still needs."""

    span: trace.Span
    method: str
    x: object
    x_digest: str | None = None
    y_digest: str | None = None
    rows: int | None = None
    light: bool = False
    pending: list[Pending] = field(default_factory=list)
    attributes: dict[str, AttributeValue] = field(default_factory=dict)


def _provenance() -> Provenance | None:
    """The pandas instrumentor's provenance map, when it is active (never imports it)."""
    module = sys.modules.get(f"{__package__}.pandas")
    if module is None:
        return None
    provenance = module.PandasInstrumentor().provenance
    return provenance if isinstance(provenance, Provenance) else None


def _arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[object, object]:
    x = args[0] if args else kwargs.get("X", kwargs.get("raw_documents"))
    y = args[1] if len(args) > 1 else kwargs.get("y", kwargs.get("Y"))
    return x, y


class SklearnRecorder:
    """Records scikit-learn calls on one tracer with one set of options."""

    def __init__(
        self,
        tracer: trace.Tracer,
        options: InstrumentationOptions,
        accumulator: OnlineAccumulator,
    ) -> None:
        self._tracer = tracer
        self._options = options
        self._summaries = SummaryCache(Summarizer.from_options(options))
        self._background = BackgroundSummaries(self._summaries)
        self._accumulator = accumulator
        self._framework_version = ""
        self._class_paths: dict[type, str] = {}
        self.exported: set[type] = set()
        """Classes scikit-learn's public modules export; other sklearn classes are internal."""

    def records(self, cls: type) -> bool:
        """Whether calls on instances of ``cls`` get spans.

        scikit-learn's internal helpers (e.g. the private binning transformer inside
        HistGradientBoosting) inherit wrapped mixin methods but are implementation
        details: only exported classes and classes outside scikit-learn are recorded.
        """
        module = getattr(cls, "__module__", None)
        return cls in self.exported or not str(module).startswith("sklearn.")

    def close(self) -> None:
        """Finish background work (at uninstrument)."""
        self._background.close()

    def wrapper(self, method: str) -> Any:
        """The wrapt wrapper for ``method``."""

        def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            return self.call(method, wrapped, instance, args, kwargs)

        return wrapper

    def call(
        self, method: str, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any
    ) -> Any:
        """Run ``wrapped(*args, **kwargs)`` inside a span describing the call."""
        state = CURRENT_CALL.get()
        if instance is None or isinstance(instance, type) or not self.records(type(instance)):
            return wrapped(*args, **kwargs)
        if state is not None and (state.light or id(instance) in state.active):
            return wrapped(*args, **kwargs)
        outermost = state is None
        if state is None:
            state = CallState()
        token = CURRENT_CALL.set(state) if outermost else None
        state.active.add(id(instance))
        try:
            record = self._start(method, instance, args, kwargs, state)
            if record is None:
                return wrapped(*args, **kwargs)
            return self._run(record, instance, wrapped, args, kwargs)
        finally:
            state.active.discard(id(instance))
            if token is not None:
                CURRENT_CALL.reset(token)

    def _run(self, record: _Call, instance: Any, wrapped: Any, args: Any, kwargs: Any) -> Any:
        with trace.use_span(
            record.span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        ):
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as error:
                self._fail(record, error)
                raise
        self._finish(record, instance, result)
        return result

    def _model_attributes(self, instance: Any, light: bool) -> dict[str, AttributeValue]:
        cls = type(instance)
        path = self._class_paths.get(cls)
        if path is None:
            path = self._class_paths[cls] = class_path(cls)
        attributes: dict[str, AttributeValue] = {
            MODEL_CLASS: path,
            MODEL_NAME: type(instance).__name__,
            MODEL_FRAMEWORK: FRAMEWORK,
        }
        if not light:
            if not self._framework_version:
                sklearn = sys.modules.get("sklearn")
                self._framework_version = str(getattr(sklearn, "__version__", ""))
            attributes[MODEL_FRAMEWORK_VERSION] = self._framework_version
        return attributes

    def _start(
        self, method: str, instance: Any, args: Any, kwargs: Any, state: CallState
    ) -> _Call | None:
        try:
            return self._open(method, instance, args, kwargs, state)
        except Exception:
            _logger.warning("mlspan could not start the span of %s", method, exc_info=True)
            return None

    def _open(
        self, method: str, instance: Any, args: Any, kwargs: Any, state: CallState
    ) -> _Call | None:
        x, y = _arguments(args, kwargs)
        shape = shape_of(x)
        rows = shape[0] if shape else None
        light = (
            method in ONLINE_METHODS
            and rows is not None
            and rows < self._options.online_max_rows
            and not state.active - {id(instance)}
        )
        attributes = self._model_attributes(instance, light)
        attributes[OPERATION_NAME] = method
        attributes[DATASET_ROLE] = _role(method).value
        stored = None if method in FIT_METHODS else model_version_of(instance)
        if stored is not None:
            attributes[MODEL_VERSION] = stored
        if rows is not None and shape is not None:
            attributes[DATASET_ROWS] = rows
            if not light:
                attributes[DATASET_COLUMNS] = shape[1]
        span = self._tracer.start_span(f"{method} {type(instance).__name__}", attributes=attributes)
        if not span.is_recording():
            span.end()
            return None
        record = _Call(span, method, x, rows=rows, light=light, attributes=attributes)
        try:
            self._describe(record, instance, y, stored, state)
        except Exception:
            span.end()
            raise
        return record

    def _describe(
        self, record: _Call, instance: Any, y: object, stored: str | None, state: CallState
    ) -> None:
        """The attributes known before the call runs, and the input summaries started."""
        span, method, x, attributes = record.span, record.method, record.x, record.attributes
        version = stored
        if version is None and method not in FIT_METHODS:
            version = self._version_for_predict(instance)
            if version is not None:
                span.set_attribute(MODEL_VERSION, version)
                attributes[MODEL_VERSION] = version
        if record.light:
            state.light = True
            return
        record.x_digest = state.digest(x)
        record.y_digest = state.digest(y)
        inputs = [d for d in (record.x_digest, record.y_digest, version) if d]
        provenance = _provenance()
        if provenance is not None:
            upstream = provenance.ancestors(x) | provenance.ancestors(y)
            inputs += sorted(upstream - set(inputs))
        span.set_attributes(
            {
                DIGEST_ALGORITHM: ALGORITHM,
                IO_INPUTS: inputs,
                **({DATASET_DIGEST: record.x_digest} if record.x_digest else {}),
                **({DATASET_TARGET_DIGEST: record.y_digest} if record.y_digest else {}),
                **({MODEL_PARAMS: params_json(instance)} if method in FIT_METHODS else {}),
            }
        )
        if record.x_digest:
            attributes[DATASET_DIGEST] = record.x_digest
        if self._summarises(state):
            kinds = None if method in FIT_METHODS else feature_kinds_of(instance)
            record.pending.append(
                self._background.submit(x, record.x_digest, FeatureOrigin.INPUT, "x", kinds)
            )
            if y is not None and method in FIT_METHODS | {"score"}:
                record.pending.append(
                    self._background.submit(y, record.y_digest, FeatureOrigin.TARGET, "y")
                )

    def _summarises(self, state: CallState) -> bool:
        """Whether this call gets feature summaries: only the outermost one, unless the
        ``nested_summaries`` option asks for every nested step's as well."""
        return self._options.summaries and (
            self._options.nested_summaries or len(state.active) == 1
        )

    def _version_for_predict(self, instance: Any) -> str | None:
        version = model_version_of(instance)
        if version is None:
            version = fitted_model_id(instance)
            if version is not None:
                store_model_version(instance, version)
        return version

    def _fail(self, record: _Call, error: BaseException) -> None:
        try:
            record.span.record_exception(error)
            record.span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        except Exception:
            _logger.warning("mlspan could not record an exception", exc_info=True)
        finally:
            record.span.end()

    def _finish(self, record: _Call, instance: Any, result: Any) -> None:
        try:
            if record.light:
                self._finish_light(record, result)
            else:
                self._finish_full(record, instance, result)
        except Exception:
            _logger.warning("mlspan could not finish the span of %s", record.method, exc_info=True)
        finally:
            record.span.end()

    def _finish_light(self, record: _Call, result: Any) -> None:
        if not self._options.summaries:
            return
        version = str(record.attributes.get(MODEL_VERSION, ""))
        key = ModelKey(
            version,
            str(record.attributes[MODEL_NAME]),
            tuple(
                (name, str(record.attributes[name]))
                for name in (MODEL_CLASS, MODEL_NAME, MODEL_FRAMEWORK, MODEL_VERSION)
                if name in record.attributes
            ),
        )
        output = result if record.method in PREDICTION_METHODS else None
        self._accumulator.add(key, record.x, output, record.rows or 0)

    def _finish_full(self, record: _Call, instance: Any, result: Any) -> None:
        span, method = record.span, record.method
        state = CURRENT_CALL.get() or CallState()
        outputs: list[str] = []
        summaries = [summary for pending in record.pending for summary in pending()]
        if method in FIT_METHODS:
            x_part = record.x_digest
            previous = model_version_of(instance) if method == "partial_fit" else None
            if previous is not None:
                x_part = f"{previous}+{x_part}"
            version = compute_model_version(instance, x_part, record.y_digest)
            store_model_version(instance, version)
            store_feature_kinds(
                instance,
                {s.name: s.kind for s in summaries if s.origin is FeatureOrigin.INPUT},
            )
            span.set_attribute(MODEL_VERSION, version)
            record.attributes[MODEL_VERSION] = version
            outputs.append(version)
        if method in PREDICTION_METHODS or method in OUTPUT_METHODS:
            output_digest = state.digest(result)
            if output_digest:
                outputs.append(output_digest)
                if method in PREDICTION_METHODS:
                    span.set_attribute(PREDICTION_DIGEST, output_digest)
                    provenance = _provenance()
                    if provenance is not None:
                        provenance.note_output(output_digest)
            if method in PREDICTION_METHODS and self._summarises(state):
                summaries += self._summaries.summarize(
                    result, output_digest, FeatureOrigin.PREDICTION, "prediction"
                )
        span.set_attribute(IO_OUTPUTS, outputs)
        context = {
            key: value
            for key, value in record.attributes.items()
            if key not in (OPERATION_NAME, MODEL_FRAMEWORK_VERSION)
        }
        add_summaries(
            self._tracer,
            span,
            summaries,
            context,
            self._options.summary_events_per_span,
            f"summary {type(instance).__name__}",
        )


def _role(method: str) -> DatasetRole:
    if method in FIT_METHODS:
        return DatasetRole.TRAIN
    if method == "score":
        return DatasetRole.EVAL
    return DatasetRole.INFERENCE
