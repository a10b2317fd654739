"""scikit-learn instrumentation: every fit, predict and transform becomes a span with ML facts.

Usage::

    from mlspan.instrumentation.sklearn import SklearnInstrumentor

    SklearnInstrumentor().instrument(tracer_provider=provider)  # provider optional
    ...
    SklearnInstrumentor().uninstrument()

or with no code change: ``opentelemetry-instrument python train.py`` (entry point
``mlspan_sklearn``).

The public methods ``fit``, ``partial_fit``, ``predict``, ``predict_proba``,
``predict_log_proba``, ``decision_function``, ``transform``, ``fit_transform``,
``fit_predict`` and ``score`` of every estimator exported by scikit-learn's public
modules (Pipeline, ColumnTransformer and search CV included) are wrapped with wrapt where
they are defined. Patching is lazy: a post-import hook patches a public module's
estimators when the user's code imports it, so ``instrument()`` imports nothing from
scikit-learn. Nested steps (a Pipeline's steps, a search's candidate fits) become child
spans. See ``docs/instrumentation.md`` for the attributes and options.
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Collection
from types import ModuleType
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from mlspan.instrumentation.emit import emit_online_batch
from mlspan.instrumentation.joblib_context import parallel_call_wrapper
from mlspan.instrumentation.online import OnlineAccumulator
from mlspan.instrumentation.options import InstrumentationOptions
from mlspan.instrumentation.package import _instruments_sklearn
from mlspan.instrumentation.patching import ImportHooks, Patcher
from mlspan.instrumentation.roles import EVALUATIONS
from mlspan.instrumentation.sklearn_calls import SklearnRecorder
from mlspan.instrumentation.sklearn_methods import METHODS
from mlspan.instrumentation.summarize import Summarizer
from mlspan.instrumentation.version import __version__
from mlspan.instrumentation.warning_location import keep_warning_locations

PUBLIC_MODULES: Final = tuple(
    f"sklearn.{name}"
    for name in (
        "calibration",
        "cluster",
        "compose",
        "covariance",
        "cross_decomposition",
        "decomposition",
        "discriminant_analysis",
        "dummy",
        "ensemble",
        "feature_extraction",
        "feature_extraction.text",
        "feature_selection",
        "frozen",
        "gaussian_process",
        "impute",
        "isotonic",
        "kernel_approximation",
        "kernel_ridge",
        "linear_model",
        "manifold",
        "mixture",
        "model_selection",
        "multiclass",
        "multioutput",
        "naive_bayes",
        "neighbors",
        "neural_network",
        "pipeline",
        "preprocessing",
        "random_projection",
        "semi_supervised",
        "svm",
        "tree",
    )
)
"""Public scikit-learn modules whose exported estimators are instrumented on import."""
EXPERIMENTAL: Final = {
    "sklearn.experimental.enable_halving_search_cv": "sklearn.model_selection",
    "sklearn.experimental.enable_iterative_imputer": "sklearn.impute",
}
"""Enabling imports that add estimators to a public module: it is patched again after them."""


class SklearnInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """OpenTelemetry instrumentor for scikit-learn estimators."""

    _hooks: ImportHooks | None = None
    _joblib_hooks: ImportHooks | None = None
    _patcher: Patcher | None = None
    _recorder: SklearnRecorder | None = None
    _accumulator: OnlineAccumulator | None = None
    _wrappers: dict[str, Any] | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        """scikit-learn >= 1.3."""
        return _instruments_sklearn

    def _instrument(self, **kwargs: Any) -> None:
        options = InstrumentationOptions.resolve(kwargs)
        tracer = trace.get_tracer(
            __name__, __version__, tracer_provider=kwargs.get("tracer_provider")
        )
        per_span, span_bytes = options.summary_events_per_span, options.max_span_bytes
        self._accumulator = OnlineAccumulator(
            Summarizer.from_options(options),
            lambda batch: emit_online_batch(tracer, batch, per_span, span_bytes),
            options.online_flush_rows,
            options.online_flush_seconds,
        )
        self._recorder = SklearnRecorder(tracer, options, self._accumulator)
        self._wrappers = {method: self._recorder.wrapper(method) for method in METHODS}
        self._patcher = Patcher()
        keep_warning_locations(self._patcher)
        if self._hooks is None:
            self._hooks = ImportHooks((*PUBLIC_MODULES, *EXPERIMENTAL), self._patch_module)
        if self._joblib_hooks is None:
            self._joblib_hooks = ImportHooks(("joblib",), self._patch_joblib)
        atexit.register(self.flush)
        self._joblib_hooks.activate()
        self._hooks.activate()

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._hooks is not None:
            self._hooks.deactivate()
        if self._joblib_hooks is not None:
            self._joblib_hooks.deactivate()
        if self._patcher is not None:
            self._patcher.restore_all()
        atexit.unregister(self.flush)
        if self._recorder is not None:
            self._recorder.close()
        if self._accumulator is not None:
            self._accumulator.close()
        self._accumulator = self._recorder = self._patcher = self._wrappers = None

    def flush(self) -> None:
        """Emit the summaries accumulated from small predict calls now."""
        accumulator = self._accumulator
        if accumulator is not None:
            accumulator.flush()

    def _patch_joblib(self, module: ModuleType) -> None:
        """Carry trace context and call nesting into joblib's workers."""
        parallel = getattr(module, "Parallel", None)
        if self._patcher is not None and isinstance(parallel, type):
            self._patcher.wrap_method(parallel, "__call__", parallel_call_wrapper)

    def _patch_functions(self, module: ModuleType) -> None:
        """Record the public cross-validation functions as one run each."""
        patcher, recorder = self._patcher, self._recorder
        if patcher is None or recorder is None:
            return
        for name in EVALUATIONS:
            if callable(vars(module).get(name)):
                patcher.wrap_attribute(module, name, recorder.function_wrapper(name))

    def _patch_module(self, module: ModuleType) -> None:
        enabled = EXPERIMENTAL.get(module.__name__)
        if enabled is not None:
            target = sys.modules.get(enabled)
            if target is None:
                return  # patched with the rest when it is imported
            module = target
        base = sys.modules.get("sklearn.base")
        patcher, wrappers, recorder = self._patcher, self._wrappers, self._recorder
        if base is None or patcher is None or wrappers is None or recorder is None:
            return
        estimator_type = base.BaseEstimator
        if module.__name__ == "sklearn.model_selection":
            self._patch_functions(module)
        declared = getattr(module, "__all__", None)
        # A few public modules (e.g. sklearn.dummy) define their estimators without __all__.
        names = declared or [name for name in vars(module) if not name.startswith("_")]
        for name in names:
            try:
                cls = getattr(module, name, None)
            except ImportError:  # experimental estimators refuse until enabled
                continue
            if not isinstance(cls, type) or not issubclass(cls, estimator_type):
                continue
            if declared is None and cls.__module__ != module.__name__:
                continue  # another module's class, imported here
            recorder.exported.add(cls)
            for method, wrapper in wrappers.items():
                patcher.wrap_method(cls, method, wrapper)
