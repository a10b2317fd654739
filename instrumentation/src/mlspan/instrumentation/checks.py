"""Checks: small user callables that validate a component's inputs and outputs.

A check is called with one value at a time: before the step with each input, after it
with each output. It passes when it returns ``True`` or ``None`` (so ``assert``-style
functions work), fails when it returns ``False``, and may return ``(passed, message)``
to explain itself. A check that raises fails with the exception as its message; the
exception does not reach the caller.

Every result becomes a ``mlspan.check.result`` event on the component's span. A
failing check only gets recorded, unless it is blocking (``blocking(fn)`` or
``Check(fn, blocking=True)``): then the component raises ``CheckFailed`` — before the
step runs for a before-check, after it for an after-check.

    from mlspan.instrumentation.checks import Check, blocking

    def no_nulls(frame):
        missing = int(frame.isna().sum().sum())
        return missing == 0, f"{missing} missing values"

    @component("featurize", inputs=["raw"], before=[blocking(no_nulls)])
    def featurize(raw): ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from mlspan.semconv import (
    CHECK_BLOCKING,
    CHECK_MESSAGE,
    CHECK_NAME,
    CHECK_PASSED,
    CHECK_PHASE,
    CHECK_TARGET,
)
from mlspan.semconv.values import CheckPhase

MESSAGE_LIMIT: Final = 1000
"""Longest check message recorded on a span, in characters."""


@dataclass(frozen=True)
class Check:
    """A check callable and how to treat its failure.

    ``on`` restricts the check to the input or output of that name (a parameter name,
    ``"return"``, or the ``name=`` given to ``add_input``/``add_output``); by default
    it runs on every value of its phase.
    """

    fn: Callable[[Any], object]
    blocking: bool = False
    name: str | None = None
    on: str | None = None

    @property
    def label(self) -> str:
        """The name recorded as ``mlspan.check.name``."""
        if self.name:
            return self.name
        return str(getattr(self.fn, "__name__", type(self.fn).__name__))

    def applies_to(self, target: str) -> bool:
        return self.on is None or self.on == target


def blocking(
    fn: Callable[[Any], object] | Check, *, name: str | None = None, on: str | None = None
) -> Check:
    """Mark ``fn`` as a blocking check: its failure stops the component."""
    if isinstance(fn, Check):
        return Check(fn.fn, blocking=True, name=name or fn.name, on=on or fn.on)
    return Check(fn, blocking=True, name=name, on=on)


def as_check(item: Check | Callable[[Any], object]) -> Check:
    """``item`` itself if it is a ``Check``, else a non-blocking check around it."""
    return item if isinstance(item, Check) else Check(item)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one value."""

    name: str
    phase: CheckPhase
    target: str
    passed: bool
    message: str
    blocking: bool

    def to_attributes(self) -> dict[str, str | bool]:
        """Attributes of the ``mlspan.check.result`` event."""
        attributes: dict[str, str | bool] = {
            CHECK_NAME: self.name,
            CHECK_PHASE: self.phase.value,
            CHECK_PASSED: self.passed,
            CHECK_BLOCKING: self.blocking,
            CHECK_TARGET: self.target,
        }
        if self.message:
            attributes[CHECK_MESSAGE] = self.message
        return attributes

    def describe(self) -> str:
        text = f"{self.name!r} on {self.target!r}"
        return f"{text}: {self.message}" if self.message else text


class CheckFailed(Exception):
    """A blocking check failed; the component stopped.

    ``failures`` holds the failed blocking results, ``component`` the step's name and
    ``phase`` whether the step had run (``after``) or not (``before``).
    """

    def __init__(self, component: str, phase: CheckPhase, failures: Sequence[CheckResult]):
        self.component = component
        self.phase = phase
        self.failures = tuple(failures)
        when = "before the step ran" if phase is CheckPhase.BEFORE else "after the step ran"
        details = "; ".join(result.describe() for result in self.failures)
        count = len(self.failures)
        noun = "check" if count == 1 else "checks"
        super().__init__(
            f"component {component!r}: {count} blocking {noun} failed {when}: {details}"
        )


def _truncate(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."


def interpret(outcome: object) -> tuple[bool, str]:
    """Turn what a check returned into (passed, message)."""
    if outcome is None:
        return True, ""
    if isinstance(outcome, tuple) and len(outcome) == 2:
        passed, detail = interpret(outcome[0])
        return passed, _truncate(str(outcome[1]) or detail)
    try:
        passed = bool(outcome)
    except Exception as exc:
        return False, _truncate(
            f"check returned a {type(outcome).__name__} without a truth value: {exc}"
        )
    return passed, "" if passed else "returned False"


def run_check(check: Check, value: object, target: str, phase: CheckPhase) -> CheckResult:
    """Run one check on one value; an exception it raises becomes a failed result."""
    try:
        passed, message = interpret(check.fn(value))
    except Exception as exc:
        passed, message = False, _truncate(f"{type(exc).__name__}: {exc}")
    return CheckResult(
        name=check.label,
        phase=phase,
        target=target,
        passed=passed,
        message=message,
        blocking=check.blocking,
    )


def run_checks(
    checks: Sequence[Check], values: Iterable[tuple[str, object]], phase: CheckPhase
) -> list[CheckResult]:
    """Every applicable check on every (target, value) pair, in declaration order."""
    if not checks:
        return []
    results: list[CheckResult] = []
    for target, value in values:
        results.extend(
            run_check(check, value, target, phase) for check in checks if check.applies_to(target)
        )
    return results


def blocking_failures(results: Iterable[CheckResult]) -> list[CheckResult]:
    """The results that must stop the component."""
    return [result for result in results if result.blocking and not result.passed]
