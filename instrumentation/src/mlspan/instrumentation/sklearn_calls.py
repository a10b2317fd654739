"""What one instrumented scikit-learn call records: its span, digests, versions, summaries.

``SklearnRecorder.call`` is the body of every wrapper. The user's method always runs
exactly once with the caller's arguments, its result or exception passes through
untouched, and any failure of the recording itself is logged, never raised.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from opentelemetry.util.types import AttributeValue

from mlspan.instrumentation.background import BackgroundSummaries
from mlspan.instrumentation.call_state import CURRENT_CALL, CallState, Nesting
from mlspan.instrumentation.component_metrics import CURRENT_MODEL_NAME
from mlspan.instrumentation.digest import ALGORITHM
from mlspan.instrumentation.emit import add_summaries
from mlspan.instrumentation.features import rows_of, shape_of
from mlspan.instrumentation.fit_facts import LibraryVersions, score_attributes
from mlspan.instrumentation.light_calls import LightCalls
from mlspan.instrumentation.model_version import (
    ParamNames,
    class_path,
    compute_model_version,
    feature_kinds_of,
    fitted_model_id,
    model_version_of,
    params_json,
    store_feature_kinds,
    store_model_version,
)
from mlspan.instrumentation.online import OnlineAccumulator
from mlspan.instrumentation.options import InstrumentationOptions
from mlspan.instrumentation.outcomes_traced import predicted_attributes
from mlspan.instrumentation.roles import EVALUATIONS, RoleBook, library_caller, role_of
from mlspan.instrumentation.search_results import evaluation_attributes, search_attributes
from mlspan.instrumentation.sklearn_methods import (
    FIT_METHODS,
    FRAMEWORK,
    ONLINE_METHODS,
    OUTPUT_METHODS,
    PREDICTION_METHODS,
    Call,
    active_provenance,
    arguments,
    dataset_role,
)
from mlspan.instrumentation.span_budget import bound_attributes
from mlspan.instrumentation.summarize import Summarizer, SummaryCache
from mlspan.semconv import (
    CALL_ROLE,
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
    RUNTIME_LIBRARIES,
    CallRole,
    FeatureOrigin,
    OperationName,
)

_logger = logging.getLogger(__name__)


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
        self._framework_version = ""
        self._libraries = LibraryVersions()
        self._class_paths: dict[type, str] = {}
        self._roles = RoleBook()
        self._param_names = ParamNames()
        self._light = LightCalls(tracer, options, accumulator, self._version_for_predict)
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

    def function_wrapper(self, function: str) -> Any:
        """The wrapt wrapper for the module-level cross-validation ``function``."""

        def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            return self.call_function(function, wrapped, args, kwargs)

        return wrapper

    def call(
        self, method: str, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any
    ) -> Any:
        """Run the method ``wrapped(*args, **kwargs)`` inside a span describing the call."""
        state = CURRENT_CALL.get()
        if state is not None and state.light:
            return wrapped(*args, **kwargs)  # nothing inside a light call is recorded
        if instance is None or isinstance(instance, type) or not self.records(type(instance)):
            return wrapped(*args, **kwargs)
        if state is None and library_caller(sys._getframe(2)):
            return wrapped(*args, **kwargs)  # e.g. f1_score's own LabelEncoder: internal
        x, y = arguments(args, kwargs)
        if state is None:
            rows = rows_of(x)
            if rows is not None and self._light.is_light(method in ONLINE_METHODS, rows):
                opened = self._light.open(method, instance, rows)
                if opened is None:
                    return self._unrecorded(instance, wrapped, args, kwargs)
                return self._light.run(opened, method, x, rows, wrapped, args, kwargs)
        return self._record(method, instance, x, y, wrapped, args, kwargs)

    def call_function(self, function: str, wrapped: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
        """Run a cross-validation function ``wrapped(estimator, X, y, ...)`` as one run."""
        estimator = args[0] if args else kwargs.get("estimator")
        if estimator is None or isinstance(estimator, type):
            return wrapped(*args, **kwargs)
        x = args[1] if len(args) > 1 else kwargs.get("X")
        y = args[2] if len(args) > 2 else kwargs.get("y")
        return self._record(function, estimator, x, y, wrapped, args, kwargs)

    def _record(
        self,
        method: str,
        instance: Any,
        x: object,
        y: object,
        wrapped: Any,
        args: tuple[Any, ...],
        kwargs: Any,
    ) -> Any:
        state = CURRENT_CALL.get()
        if state is not None and (state.light or id(instance) in state.active):
            return wrapped(*args, **kwargs)
        role = role_of(None if state is None else state.inner())
        if role is None or (role is CallRole.CANDIDATE and not self._options.candidate_spans):
            return wrapped(*args, **kwargs)
        outermost = state is None
        if state is None:
            state = CallState()
        token = CURRENT_CALL.set(state) if outermost else None
        state.active.add(id(instance))
        if method in EVALUATIONS:
            state.nesting.append(Nesting.CANDIDATE)
        else:
            state.nesting.append(self._roles.children_of(type(instance), role))
        try:
            record = self._start(method, role, instance, x, y, state)
            if record is None:
                return wrapped(*args, **kwargs)
            return self._run(record, instance, wrapped, args, kwargs)
        finally:
            state.nesting.pop()
            state.active.discard(id(instance))
            if token is not None:
                CURRENT_CALL.reset(token)

    def _unrecorded(self, instance: Any, wrapped: Any, args: Any, kwargs: Any) -> Any:
        """Run a user call that gets no span; the calls inside it are classified as usual."""
        state = CallState()
        state.active.add(id(instance))
        state.nesting.append(self._roles.children_of(type(instance), CallRole.USER))
        token = CURRENT_CALL.set(state)
        try:
            return wrapped(*args, **kwargs)
        finally:
            CURRENT_CALL.reset(token)

    def _run(self, record: Call, instance: Any, wrapped: Any, args: Any, kwargs: Any) -> Any:
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

    def _model_attributes(self, instance: Any) -> dict[str, AttributeValue]:
        cls = type(instance)
        path = self._class_paths.get(cls)
        if path is None:
            path = self._class_paths[cls] = class_path(cls)
        attributes: dict[str, AttributeValue] = {
            MODEL_CLASS: path,
            MODEL_NAME: type(instance).__name__,
            MODEL_FRAMEWORK: FRAMEWORK,
        }
        if not self._framework_version:
            sklearn = sys.modules.get("sklearn")
            self._framework_version = str(getattr(sklearn, "__version__", ""))
        attributes[MODEL_FRAMEWORK_VERSION] = self._framework_version
        return attributes

    def _start(
        self, method: str, role: CallRole, instance: Any, x: object, y: object, state: CallState
    ) -> Call | None:
        try:
            return self._open(method, role, instance, x, y, state)
        except Exception:
            _logger.warning("mlspan could not start the span of %s", method, exc_info=True)
            return None

    def _open(
        self, method: str, role: CallRole, instance: Any, x: object, y: object, state: CallState
    ) -> Call | None:
        shape = shape_of(x)
        rows = shape[0] if shape else None
        attributes = self._model_attributes(instance)
        if role is CallRole.USER:
            name = CURRENT_MODEL_NAME.get() or self._options.model_name
            if name:
                attributes[MODEL_NAME] = name
        evaluation = method in EVALUATIONS
        attributes[OPERATION_NAME] = OperationName.CROSS_VALIDATE.value if evaluation else method
        attributes[DATASET_ROLE] = dataset_role(method).value
        attributes[CALL_ROLE] = role.value
        stored = None if method in FIT_METHODS or evaluation else model_version_of(instance)
        if stored is not None:
            attributes[MODEL_VERSION] = stored
        if rows is not None and shape is not None:
            attributes[DATASET_ROWS] = rows
            attributes[DATASET_COLUMNS] = shape[1]
        span = self._tracer.start_span(f"{method} {type(instance).__name__}", attributes=attributes)
        if not span.is_recording():
            span.end()
            return None
        record = Call(span, method, role, x, rows=rows, attributes=attributes)
        try:
            if role is CallRole.CANDIDATE:
                if method in FIT_METHODS:
                    span.set_attribute(MODEL_PARAMS, params_json(instance, self._param_names))
            else:
                self._describe(record, instance, y, stored, state)
        except Exception:
            span.end()
            raise
        return record

    def _describe(
        self, record: Call, instance: Any, y: object, stored: str | None, state: CallState
    ) -> None:
        """The attributes known before the call runs, and the input summaries started."""
        span, method, x, attributes = record.span, record.method, record.x, record.attributes
        evaluation = method in EVALUATIONS
        version = stored
        if version is None and method not in FIT_METHODS and not evaluation:
            version = self._version_for_predict(instance)
            if version is not None:
                span.set_attribute(MODEL_VERSION, version)
                attributes[MODEL_VERSION] = version
        record.x_digest = state.digest(x)
        record.y_digest = state.digest(y)
        inputs = [d for d in (record.x_digest, record.y_digest, version) if d]
        provenance = active_provenance()
        if provenance is not None:
            upstream = provenance.ancestors(x) | provenance.ancestors(y)
            inputs += sorted(upstream - set(inputs))
        if method in FIT_METHODS or evaluation:
            record.params = params_json(instance, self._param_names)
        span.set_attributes(
            {
                DIGEST_ALGORITHM: ALGORITHM,
                IO_INPUTS: inputs,
                **({DATASET_DIGEST: record.x_digest} if record.x_digest else {}),
                **({DATASET_TARGET_DIGEST: record.y_digest} if record.y_digest else {}),
                **({MODEL_PARAMS: record.params} if record.params is not None else {}),
            }
        )
        if record.x_digest:
            attributes[DATASET_DIGEST] = record.x_digest
        if self._summarises(record):
            kinds = None if method in FIT_METHODS else feature_kinds_of(instance)
            record.pending.append(
                self._background.submit(x, record.x_digest, FeatureOrigin.INPUT, "x", kinds)
            )
            if y is not None and method in FIT_METHODS | {"score"}:
                record.pending.append(
                    self._background.submit(y, record.y_digest, FeatureOrigin.TARGET, "y")
                )

    def _summarises(self, record: Call) -> bool:
        """Whether this call gets feature summaries: the user's own calls (not the
        cross-validation functions, which make no model), and nested steps' only when the
        ``nested_summaries`` option asks for them."""
        if not self._options.summaries or record.method in EVALUATIONS:
            return False
        return record.role is CallRole.USER or (
            record.role is CallRole.STEP and self._options.nested_summaries
        )

    def _version_for_predict(self, instance: Any) -> str | None:
        version = model_version_of(instance)
        if version is None:
            version = fitted_model_id(instance)
            if version is not None:
                store_model_version(instance, version)
        return version

    def _fail(self, record: Call, error: BaseException) -> None:
        try:
            record.span.record_exception(error)
            record.span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            bound_attributes(record.span, self._options.max_span_bytes // 2)
        except Exception:
            _logger.warning("mlspan could not record an exception", exc_info=True)
        finally:
            record.span.end()

    def _finish(self, record: Call, instance: Any, result: Any) -> None:
        try:
            if record.role is CallRole.CANDIDATE:
                bound_attributes(record.span, self._options.max_span_bytes // 2)
            else:
                self._finish_full(record, instance, result)
        except Exception:
            _logger.warning("mlspan could not finish the span of %s", record.method, exc_info=True)
        finally:
            record.span.end()

    def _finish_full(self, record: Call, instance: Any, result: Any) -> None:
        span, method = record.span, record.method
        state = CURRENT_CALL.get() or CallState()
        outputs: list[str] = []
        summaries = [summary for pending in record.pending for summary in pending()]
        if method in FIT_METHODS:
            x_part = record.x_digest
            previous = model_version_of(instance) if method == "partial_fit" else None
            if previous is not None:
                x_part = f"{previous}+{x_part}"
            version = compute_model_version(instance, x_part, record.y_digest, record.params)
            store_model_version(instance, version)
            store_feature_kinds(
                instance,
                {s.name: s.kind for s in summaries if s.origin is FeatureOrigin.INPUT},
            )
            span.set_attribute(MODEL_VERSION, version)
            record.attributes[MODEL_VERSION] = version
            outputs.append(version)
            if record.role is CallRole.USER:
                span.set_attribute(RUNTIME_LIBRARIES, self._libraries.json())
            if method == "fit" and self._roles.is_search(type(instance)):
                span.set_attributes(search_attributes(instance))
        if method in EVALUATIONS:
            span.set_attributes(evaluation_attributes(method, result))
            if method == "cross_val_predict":
                output_digest = state.digest(result)
                if output_digest:
                    outputs.append(output_digest)
                    span.set_attribute(PREDICTION_DIGEST, output_digest)
        elif method in PREDICTION_METHODS or method in OUTPUT_METHODS:
            output_digest = state.digest(result)
            if output_digest:
                outputs.append(output_digest)
                if method in PREDICTION_METHODS:
                    span.set_attribute(PREDICTION_DIGEST, output_digest)
                    provenance = active_provenance()
                    if provenance is not None:
                        provenance.note_output(output_digest)
            if method in PREDICTION_METHODS and self._summarises(record):
                summaries += self._summaries.summarize(
                    result, output_digest, FeatureOrigin.PREDICTION, "prediction"
                )
                if method == "predict_proba":  # binned probabilities: estimated performance
                    span.set_attributes(predicted_attributes(instance, result))
        if method == "score":
            span.set_attributes(score_attributes(instance, result, record.rows))
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
            max_span_bytes=self._options.max_span_bytes,
        )
