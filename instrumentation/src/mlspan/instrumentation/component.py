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
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar, Token
from typing import Any, Final, ParamSpec, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider

from mlspan.instrumentation.checks import (
    Check,
    CheckFailed,
    CheckResult,
    as_check,
    blocking,
    blocking_failures,
    run_checks,
)
from mlspan.instrumentation.code_version import CodeVersion, CodeVersions
from mlspan.instrumentation.component_io import ArtifactId, artifact_id
from mlspan.instrumentation.digest import ALGORITHM
from mlspan.semconv import (
    CODE_COMMIT,
    CODE_DIGEST,
    CODE_DIRTY,
    COMPONENT_NAME,
    COMPONENT_OWNER,
    COMPONENT_TAGS,
    DIGEST_ALGORITHM,
    IO_INPUTS,
    IO_OUTPUTS,
    OPERATION_NAME,
)
from mlspan.semconv.events import CHECK_RESULT
from mlspan.semconv.values import CheckPhase, OperationName

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


class Run:
    """One execution of a component: the handle ``with component(...) as run`` yields."""

    def __init__(self, owner: Component, span: Span, token: object) -> None:
        self._owner = owner
        self._span = span
        self._token = token
        self._recording = span.is_recording()
        self._inputs: list[str] = []
        self._outputs: list[tuple[str, object, bool]] = []
        self._finished = False
        self._entered: Token[tuple[Run, ...]] | None = None

    @property
    def span(self) -> Span:
        """The component's span, for attributes or events of your own."""
        return self._span

    @property
    def inputs(self) -> tuple[str, ...]:
        """Artifact ids of the inputs declared so far."""
        return tuple(dict.fromkeys(self._inputs))

    def add_input(self, value: object, name: str | None = None) -> None:
        """Declare an input and run the before-checks on it.

        Raises ``CheckFailed`` when a blocking before-check fails; nothing else.
        """
        target = name if name is not None else f"input[{len(self._inputs)}]"
        self._add_inputs([(target, value)])

    def add_output(self, value: object, name: str | None = None) -> None:
        """Declare an output; it is identified (and checked) when the step ends."""
        target = name if name is not None else f"output[{len(self._outputs)}]"
        self._outputs.append((target, value, True))

    def _add_inputs(self, pairs: Sequence[tuple[str, object]]) -> None:
        if self._recording:
            for target, value in pairs:
                self._identify(value, f"input {target!r}", self._inputs, strict=True)
        results = run_checks(self._owner.before, pairs, CheckPhase.BEFORE)
        self._record_checks(results)
        failures = blocking_failures(results)
        if failures:
            raise CheckFailed(self._owner.name, CheckPhase.BEFORE, failures)

    def _add_implicit_output(self, target: str, value: object) -> None:
        self._outputs.append((target, value, False))

    def _identify(self, value: object, label: str, into: list[str], *, strict: bool) -> None:
        """Append the artifact id(s) of ``value``; record (strict) or skip failures."""
        try:
            values: Iterable[object] = value if not strict and isinstance(value, tuple) else [value]
            for item in values:
                found = artifact_id(item, label)
                if isinstance(found, str):
                    into.append(found)
                elif strict:
                    self._span.record_exception(found)
                else:
                    logger.debug("%s", found)
        except Exception:
            logger.warning("mlspan could not identify %s", label, exc_info=True)

    def _record_checks(self, results: Sequence[CheckResult]) -> None:
        if not self._recording:
            return
        for result in results:
            try:
                self._span.add_event(CHECK_RESULT, result.to_attributes())
            except Exception:
                logger.warning("mlspan could not record check %s", result.name, exc_info=True)

    def _finish(self, error: BaseException | None) -> None:
        """End the span; raise ``CheckFailed`` if a blocking after-check failed."""
        if self._finished:
            return
        self._finished = True
        failures: list[CheckResult] = []
        try:
            failures = self._close(error)
        except Exception:
            logger.warning("mlspan could not complete component span", exc_info=True)
        finally:
            self._end()
        if failures:
            raise CheckFailed(self._owner.name, CheckPhase.AFTER, failures)

    def _close(self, error: BaseException | None) -> list[CheckResult]:
        outputs: list[str] = []
        if self._recording:
            for target, value, strict in self._outputs:
                self._identify(value, f"output {target!r}", outputs, strict=strict)
        failures: list[CheckResult] = []
        if error is None:
            pairs = [(target, value) for target, value, _ in self._outputs]
            results = run_checks(self._owner.after, pairs, CheckPhase.AFTER)
            self._record_checks(results)
            failures = blocking_failures(results)
        if self._recording:
            self._span.set_attribute(IO_INPUTS, list(dict.fromkeys(self._inputs)))
            self._span.set_attribute(IO_OUTPUTS, list(dict.fromkeys(outputs)))
            if error is not None:
                self._span.record_exception(error)
                self._span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            elif failures:
                failed = CheckFailed(self._owner.name, CheckPhase.AFTER, failures)
                self._span.record_exception(failed)
                self._span.set_status(Status(StatusCode.ERROR, str(failed)))
        return failures

    def _end(self) -> None:
        try:
            self._span.end()
        except Exception:
            logger.warning("mlspan could not end the component span", exc_info=True)
        try:
            otel_context.detach(self._token)  # type: ignore[arg-type]
        except Exception:
            logger.debug("mlspan could not detach the component context", exc_info=True)


class Component:
    """A named pipeline step: a decorator for functions and a reusable context manager.

    ``inputs``/``outputs`` name parameters of the decorated function whose values are
    the step's inputs/outputs (the ``with`` form uses ``run.add_input`` /
    ``run.add_output`` instead); ``returns`` makes the return value an output (a tuple
    contributes each element). ``before``/``after`` are checks: callables, ``Check``
    objects or ``blocking(fn)``. ``tracer_provider`` defaults to the global provider;
    ``code_versions`` shares a git-state cache between components. Built with the
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
    ) -> None:
        self.name = str(name)
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
        return Run(self, span, token)

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
