"""One execution of a component: its span, declared inputs/outputs and check results.

``Run`` is what ``with component(...) as run`` yields; the decorator form drives one
internally. See ``mlspan.instrumentation.component`` for the behaviour.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from contextvars import Token
from typing import Protocol

from opentelemetry import context as otel_context
from opentelemetry.trace import Span, Status, StatusCode

from mlspan.instrumentation.checks import (
    Check,
    CheckFailed,
    CheckResult,
    blocking_failures,
    run_checks,
)
from mlspan.instrumentation.component_io import artifact_id
from mlspan.instrumentation.component_metrics import CURRENT_MODEL_NAME, add_metric
from mlspan.semconv import IO_INPUTS, IO_OUTPUTS
from mlspan.semconv.events import CHECK_RESULT
from mlspan.semconv.values import CheckPhase

logger = logging.getLogger(__name__)


class StepChecks(Protocol):
    """What a run needs to know of its component."""

    @property
    def name(self) -> str: ...

    @property
    def before(self) -> tuple[Check, ...]: ...

    @property
    def after(self) -> tuple[Check, ...]: ...


class Run:
    """One execution of a component: the handle ``with component(...) as run`` yields."""

    def __init__(self, steps: StepChecks, span: Span, token: object) -> None:
        self._owner = steps
        self._span = span
        self._token = token
        self._recording = span.is_recording()
        self._inputs: list[str] = []
        self._outputs: list[tuple[str, object, bool]] = []
        self._finished = False
        self._entered: Token[tuple[Run, ...]] | None = None
        self._model_name: Token[str] | None = None

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

    def log_metric(
        self, name: str, value: float, rows: int | None = None, model: object = None
    ) -> None:
        """Record a metric of the models this step produced (or consumed, or ``model``:
        a fitted estimator or version string); ``rows`` is how many rows it was computed
        on. See ``component_metrics``; never raises."""
        if self._recording:
            add_metric(self._span, name, value, rows, model)

    def _name_models(self, model_name: str | None) -> None:
        """Give the user's estimator calls inside this run ``model_name``."""
        if model_name:
            self._model_name = CURRENT_MODEL_NAME.set(model_name)

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
        if self._model_name is not None:
            try:
                CURRENT_MODEL_NAME.reset(self._model_name)
            except (ValueError, RuntimeError):
                CURRENT_MODEL_NAME.set("")  # ended in another context than started
        try:
            self._span.end()
        except Exception:
            logger.warning("mlspan could not end the component span", exc_info=True)
        try:
            otel_context.detach(self._token)  # type: ignore[arg-type]
        except Exception:
            logger.debug("mlspan could not detach the component context", exc_info=True)
