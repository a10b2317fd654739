"""Checks on component inputs and outputs: recorded results, blocking failures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from mlspan.instrumentation.checks import Check, CheckFailed, blocking, interpret
from mlspan.instrumentation.component import component
from mlspan.semconv import (
    CHECK_BLOCKING,
    CHECK_MESSAGE,
    CHECK_NAME,
    CHECK_PASSED,
    CHECK_PHASE,
    CHECK_TARGET,
)
from mlspan.semconv.events import CHECK_RESULT
from mlspan.semconv.spans import CHECK_RESULT_EVENT_REQUIRED
from tests.instrumentation import component_spans

recording = component_spans.recording
provider = component_spans.provider
exporter = component_spans.exporter


def check_events(span: ReadableSpan) -> list[dict[str, object]]:
    events = [dict(event.attributes or {}) for event in span.events if event.name == CHECK_RESULT]
    for attributes in events:
        for key in CHECK_RESULT_EVENT_REQUIRED:
            assert key in attributes, key
    return events


def no_nulls(frame: pd.DataFrame) -> tuple[bool, str]:
    missing = int(frame.isna().sum().sum())
    return missing == 0, f"{missing} missing values"


def has_rows(frame: pd.DataFrame) -> bool:
    return len(frame) > 0


def positive(frame: pd.DataFrame) -> None:
    if (frame.select_dtypes("number") < 0).any().any():
        raise ValueError("negative values")


def test_passing_and_failing_checks_are_recorded(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    raw = pd.DataFrame({"age": [31.0, None, -4.0]})

    @component(
        "clean",
        inputs=["table"],
        before=[no_nulls, has_rows],
        after=[positive],
        tracer_provider=provider,
    )
    def clean(table: pd.DataFrame) -> pd.DataFrame:
        return table.dropna()

    cleaned = clean(raw)
    assert list(cleaned["age"]) == [31.0, -4.0]  # non-blocking failures never stop the step
    span = exporter.get_finished_spans()[0]
    assert span.status.status_code is StatusCode.UNSET
    assert check_events(span) == [
        {
            CHECK_NAME: "no_nulls",
            CHECK_PHASE: "before",
            CHECK_PASSED: False,
            CHECK_BLOCKING: False,
            CHECK_TARGET: "table",
            CHECK_MESSAGE: "1 missing values",
        },
        {
            CHECK_NAME: "has_rows",
            CHECK_PHASE: "before",
            CHECK_PASSED: True,
            CHECK_BLOCKING: False,
            CHECK_TARGET: "table",
        },
        {
            CHECK_NAME: "positive",
            CHECK_PHASE: "after",
            CHECK_PASSED: False,
            CHECK_BLOCKING: False,
            CHECK_TARGET: "return",
            CHECK_MESSAGE: "ValueError: negative values",
        },
    ]


def test_a_blocking_before_check_stops_the_step_before_it_runs(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    ran = []

    @component(
        "train", inputs=["table"], before=[blocking(no_nulls), has_rows], tracer_provider=provider
    )
    def train(table: pd.DataFrame) -> None:
        ran.append(table)

    with pytest.raises(CheckFailed) as caught:
        train(pd.DataFrame({"age": [None, 2.0]}))
    assert ran == []
    error = caught.value
    assert error.component == "train"
    assert error.phase.value == "before"
    assert [failure.name for failure in error.failures] == ["no_nulls"]
    assert str(error) == (
        "component 'train': 1 blocking check failed before the step ran: "
        "'no_nulls' on 'table': 1 missing values"
    )
    span = exporter.get_finished_spans()[0]
    assert span.status.status_code is StatusCode.ERROR
    events = check_events(span)
    assert [(e[CHECK_NAME], e[CHECK_PASSED], e[CHECK_BLOCKING]) for e in events] == [
        ("no_nulls", False, True),
        ("has_rows", True, False),  # every check runs and is recorded before stopping
    ]
    exceptions = [e for e in span.events if e.name == "exception"]
    assert [(e.attributes or {}).get("exception.type") for e in exceptions] == [
        f"{CheckFailed.__module__}.CheckFailed"
    ]


def test_a_blocking_after_check_fails_the_step_after_it_ran(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    def not_empty(values: np.ndarray) -> bool:
        return values.size > 0

    @component("predict", after=[Check(not_empty, blocking=True)], tracer_provider=provider)
    def predict() -> np.ndarray:
        return np.array([])

    with pytest.raises(CheckFailed, match="after the step ran") as caught:
        predict()
    assert caught.value.failures[0].message == "returned False"
    span = exporter.get_finished_spans()[0]
    assert span.status.status_code is StatusCode.ERROR
    assert [e[CHECK_PASSED] for e in check_events(span)] == [False]
    exceptions = [e for e in span.events if e.name == "exception"]
    assert len(exceptions) == 1
    assert "after the step ran" in str((exceptions[0].attributes or {})["exception.message"])


def test_context_manager_runs_before_checks_in_add_input(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    reached = []
    step = component("score", before=[blocking(has_rows)], tracer_provider=provider)
    with pytest.raises(CheckFailed), step as run:
        run.add_input(pd.DataFrame({"a": []}), name="batch")
        reached.append(True)
    assert reached == []
    span = exporter.get_finished_spans()[0]
    assert check_events(span)[0][CHECK_TARGET] == "batch"
    assert span.status.status_code is StatusCode.ERROR


def test_context_manager_after_checks_run_at_exit_only_on_success(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    seen: list[object] = []

    def record(value: object) -> bool:
        seen.append(value)
        return True

    step = component("write", after=[record], tracer_provider=provider)
    with step as run:
        run.add_output([1, 2, 3], name="rows")
    assert seen == [[1, 2, 3]]
    with pytest.raises(RuntimeError), step as run:
        run.add_output([4], name="rows")
        raise RuntimeError("disk full")
    assert seen == [[1, 2, 3]]  # outputs of a failed step are not checked
    first, second = exporter.get_finished_spans()
    assert check_events(first)[0][CHECK_TARGET] == "rows"
    assert check_events(second) == []


def test_checks_can_be_restricted_to_one_value_and_renamed(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    calls: list[object] = []

    def is_frame(value: object) -> bool:
        calls.append(value)
        return isinstance(value, pd.DataFrame)

    @component(
        "join",
        inputs=["left", "right"],
        before=[Check(is_frame, on="left", name="left_is_a_frame")],
        tracer_provider=provider,
    )
    def join(left: object, right: object) -> None:
        pass

    join(pd.DataFrame({"a": [1]}), "right.csv")
    assert len(calls) == 1
    events = check_events(exporter.get_finished_spans()[0])
    assert [(e[CHECK_NAME], e[CHECK_TARGET], e[CHECK_PASSED]) for e in events] == [
        ("left_is_a_frame", "left", True)
    ]


def test_check_results_are_interpreted_leniently() -> None:
    assert interpret(None) == (True, "")
    assert interpret(True) == (True, "")
    assert interpret(np.bool_(False)) == (False, "returned False")
    assert interpret((False, "too few rows")) == (False, "too few rows")
    assert interpret((np.True_, "fine")) == (True, "fine")
    passed, message = interpret(pd.Series([True, False]))
    assert not passed
    assert "without a truth value" in message
    assert len(interpret((False, "x" * 5000))[1]) == 1000


def test_blocking_wraps_an_existing_check() -> None:
    base = Check(has_rows, name="rows", on="table")
    wrapped = blocking(base)
    assert (wrapped.blocking, wrapped.name, wrapped.on, wrapped.fn) == (
        True,
        "rows",
        "table",
        has_rows,
    )
    assert blocking(has_rows).label == "has_rows"


def test_a_decorator_without_inputs_warns_that_before_checks_cannot_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @component("orphan", before=[has_rows], inputs=["tabel"])
    def orphan(table: pd.DataFrame) -> None:
        pass

    @component("lonely", before=[has_rows])
    def lonely(table: pd.DataFrame) -> None:
        pass

    messages = [record.getMessage() for record in caplog.records]
    assert any("has no parameter 'tabel'" in m for m in messages), messages
    assert any("'lonely': before-checks need inputs" in m for m in messages), messages
