"""The component API: a hand-written pipeline step becomes one OpenTelemetry span.

Automatic instrumentation sees scikit-learn and pandas calls; the component API names
the steps around them, declares what they consumed and produced, records the code
version, and runs checks. In the spirit of mltrace's ``register``::

    from mlspan.instrumentation.component import component

    @component("featurize", owner="data-team", tags=["nightly"],
               inputs=["raw_path"], outputs=["out_path"])
    def featurize(raw_path, out_path):
        frame = pd.read_csv(raw_path)
        ...
        frame.to_csv(out_path)
        return frame            # the return value is an output too

    with component("train") as run:
        run.add_input(train_frame)
        model = LogisticRegression().fit(X, y)
        run.add_output(model)   # its model version
        run.log_metric("f1", f1_score(y_val, model.predict(X_val)), rows=len(y_val))

The span is named ``component {name}`` and carries ``mlspan.operation.name`` =
``component``, the component's name/owner/tags, ``mlspan.code.commit``/``.dirty`` (when
the code runs from a git work tree) and ``mlspan.code.digest`` (the step function's
source; for the ``with`` form, the source of the function containing the block),
``mlspan.digest.algorithm`` and the artifact ids in ``mlspan.io.inputs``/``.outputs``
(see ``component_io`` for what each kind of value becomes). Inputs are identified when
declared; outputs when the step ends, so a file the step writes is digested after it
was written. A value that cannot be identified (a missing input file, an unsupported
type) is recorded as an exception event on the span and never raised.

Exceptions of the step propagate unchanged (the same object) and are recorded with
``record_exception`` and an ERROR status. Checks (see ``checks``) run before the step
on each input and after it on each output; a failing blocking check raises
``CheckFailed``. In the ``with`` form before-checks run inside ``add_input``, so declare
inputs first. Components nest: an inner component's span is a child of the outer one.

Pass ``tracer_provider=`` to use a provider other than the global one, and
``code_versions=`` to share one ``CodeVersions`` cache (git state per repository root)
between components; each ``component(...)`` object otherwise keeps its own, so create
a component once and reuse it (decorate, or ``with step:`` repeatedly) rather than
building a new one per call in a hot loop.
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
import types
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any, Final, ParamSpec, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Tracer, TracerProvider

from mlspan.instrumentation.checks import (
    Check,
    CheckFailed,
    as_check,
    blocking,
)
from mlspan.instrumentation.code_version import CodeVersion, CodeVersions
from mlspan.instrumentation.component_io import ArtifactId
from mlspan.instrumentation.component_run import Run
from mlspan.instrumentation.digest import ALGORITHM
from mlspan.semconv import (
    CODE_COMMIT,
    CODE_DIGEST,
    CODE_DIRTY,
    COMPONENT_NAME,
    COMPONENT_OWNER,
    COMPONENT_TAGS,
    DIGEST_ALGORITHM,
    OPERATION_NAME,
)
from mlspan.semconv.values import OperationName

__all__ = [
    "ArtifactId",
    "Check",
    "CheckFailed",
    "CodeVersions",
    "Component",
    "Run",
    "blocking",
    "component",
]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

RETURN_TARGET: Final = "return"
"""Target name of a decorated function's return value (for ``Check(on=...)``)."""


class Component:
    """A named pipeline step: a decorator for functions and a reusable context manager.

    ``inputs``/``outputs`` name parameters of the decorated function whose values are
    the step's inputs/outputs (the ``with`` form uses ``run.add_input`` /
    ``run.add_output`` instead); ``returns`` makes the return value an output (a tuple
    contributes each element). ``before``/``after`` are checks: callables, ``Check``
    objects or ``blocking(fn)``. ``tracer_provider`` defaults to the global provider;
    ``code_versions`` shares a git-state cache between components; ``model_name`` names
    the models the user's estimator calls inside the step fit or use (see
    ``component_metrics``). Built with the
    ``component`` alias; see the module documentation.
    """

    def __init__(
        self,
        name: str,
        *,
        owner: str | None = None,
        tags: Sequence[str] = (),
        before: Sequence[Check | Callable[[Any], object]] = (),
        after: Sequence[Check | Callable[[Any], object]] = (),
        inputs: Sequence[str] = (),
        outputs: Sequence[str] = (),
        returns: bool = True,
        tracer_provider: TracerProvider | None = None,
        code_versions: CodeVersions | None = None,
        model_name: str | None = None,
    ) -> None:
        self.name = str(name)
        self.model_name = str(model_name)[:256] if model_name else None
        self.owner = owner
        self.tags = tuple(str(tag) for tag in tags)
        self.before = tuple(as_check(check) for check in before)
        self.after = tuple(as_check(check) for check in after)
        self.input_names = tuple(inputs)
        self.output_names = tuple(outputs)
        self.returns = returns
        self._tracer: Tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        self._code_versions = code_versions if code_versions is not None else CodeVersions()
        # The runs this object entered, per thread and per asyncio task: a reused
        # component may be entered concurrently, and each exit must end its own run.
        self._active: ContextVar[tuple[Run, ...]] = ContextVar(f"component {self.name}", default=())

    # -- shared by both forms -------------------------------------------------------

    def _start(self, code: Callable[[], CodeVersion | None]) -> Run:
        """Start the span and make it current; never raises."""
        try:
            span = self._tracer.start_span(
                f"component {self.name}",
                kind=SpanKind.INTERNAL,
                attributes={
                    OPERATION_NAME: OperationName.COMPONENT.value,
                    COMPONENT_NAME: self.name,
                },
            )
            if span.is_recording():
                self._describe(span, code)
            token = otel_context.attach(trace.set_span_in_context(span))
        except Exception:
            logger.warning("mlspan could not start component %r", self.name, exc_info=True)
            span, token = trace.INVALID_SPAN, None
        run = Run(self, span, token)
        run._name_models(self.model_name)
        return run

    def _describe(self, span: Span, code: Callable[[], CodeVersion | None]) -> None:
        if self.owner is not None:
            span.set_attribute(COMPONENT_OWNER, str(self.owner))
        if self.tags:
            span.set_attribute(COMPONENT_TAGS, list(self.tags))
        span.set_attribute(DIGEST_ALGORITHM, ALGORITHM)
        try:
            version = code()
        except Exception:
            logger.warning("mlspan could not read the code version", exc_info=True)
            version = None
        if version is None:
            return
        if version.digest is not None:
            span.set_attribute(CODE_DIGEST, version.digest)
        if version.commit is not None:
            span.set_attribute(CODE_COMMIT, version.commit)
        if version.dirty is not None:
            span.set_attribute(CODE_DIRTY, version.dirty)

    # -- context manager ------------------------------------------------------------

    def __enter__(self) -> Run:
        caller = sys._getframe(1).f_code
        run = self._start(lambda: self._code_versions.for_code(caller))
        run._entered = self._active.set((*self._active.get(), run))
        return run

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        stack = self._active.get()
        if not stack:
            return
        run = stack[-1]
        try:
            self._active.reset(run._entered)  # type: ignore[arg-type]
        except (ValueError, RuntimeError, TypeError):
            self._active.set(stack[:-1])  # exited in another context than entered
        run._finish(exc)

    # -- decorator ------------------------------------------------------------------

    def __call__(self, function: Callable[P, R]) -> Callable[P, R]:
        signature = _signature(function)
        for missing in set(self.input_names + self.output_names) - set(_parameters(signature)):
            logger.warning("component %r: %s has no parameter %r", self.name, function, missing)
        if self.before and not self.input_names:
            logger.warning("component %r: before-checks need inputs=[...] to run", self.name)

        def version() -> CodeVersion:
            return self._code_versions.for_function(function)

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                run = self._start(version)
                try:
                    run._add_inputs(self._bound(signature, args, kwargs, self.input_names))
                    result = await function(*args, **kwargs)
                except BaseException as error:
                    run._finish(error)
                    raise
                self._returned(run, signature, args, kwargs, result)
                return result

            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run_sync(*args: P.args, **kwargs: P.kwargs) -> R:
            run = self._start(version)
            try:
                run._add_inputs(self._bound(signature, args, kwargs, self.input_names))
                result = function(*args, **kwargs)
            except BaseException as error:
                run._finish(error)
                raise
            self._returned(run, signature, args, kwargs, result)
            return result

        return run_sync

    def _returned(
        self,
        run: Run,
        signature: inspect.Signature | None,
        args: Sequence[object],
        kwargs: dict[str, object],
        result: object,
    ) -> None:
        """Declare the outputs of a finished call and end its span."""
        for target, value in self._bound(signature, args, kwargs, self.output_names):
            run.add_output(value, target)
        if self.returns and result is not None:
            run._add_implicit_output(RETURN_TARGET, result)
        run._finish(None)

    def _bound(
        self,
        signature: inspect.Signature | None,
        args: Sequence[object],
        kwargs: dict[str, object],
        names: Sequence[str],
    ) -> list[tuple[str, object]]:
        """(name, value) of the named parameters in one call; never raises."""
        if not names or signature is None:
            return []
        try:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
        except TypeError:
            return []  # the call itself is wrong; the function raises the real error
        pairs: list[tuple[str, object]] = []
        for name in names:
            if name not in bound.arguments:
                continue
            value = bound.arguments[name]
            kind = signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                pairs.extend((f"{name}[{i}]", item) for i, item in enumerate(value))
            elif kind is inspect.Parameter.VAR_KEYWORD:
                pairs.extend((f"{name}[{key}]", item) for key, item in value.items())
            else:
                pairs.append((name, value))
        return pairs


def _signature(function: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):
        return None


def _parameters(signature: inspect.Signature | None) -> tuple[str, ...]:
    return () if signature is None else tuple(signature.parameters)


component: Final = Component
"""``component(name, ...)``: a pipeline step, used as ``@component(...)`` or in ``with``."""
