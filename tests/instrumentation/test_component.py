"""The component API: decorator and context-manager forms, inputs/outputs, exceptions."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider, Span, StatusCode, Tracer
from sklearn.linear_model import LogisticRegression

from mlspan.instrumentation.code_version import CodeVersions
from mlspan.instrumentation.component import ArtifactId, CheckFailed, component
from mlspan.instrumentation.digest import ALGORITHM, digest_data, digest_file
from mlspan.instrumentation.model_version import (
    fitted_model_id,
    model_version_of,
    store_model_version,
)
from mlspan.semconv import (
    CODE_DIGEST,
    COMPONENT_NAME,
    COMPONENT_OWNER,
    COMPONENT_TAGS,
    DIGEST_ALGORITHM,
    IO_INPUTS,
    IO_OUTPUTS,
    OPERATION_NAME,
)
from mlspan.semconv.spans import COMPONENT_SPAN_REQUIRED
from tests.instrumentation import component_spans
from tests.instrumentation.component_spans import exception_messages, only_span, string_list

recording = component_spans.recording
provider = component_spans.provider
exporter = component_spans.exporter


def frame() -> pd.DataFrame:
    return pd.DataFrame({"age": [31, 42, 57], "city": ["Oslo", "Lima", "Pune"]})


def test_decorator_records_a_component_span(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    raw = frame()

    @component(
        "featurize",
        owner="data-team",
        tags=["nightly", "churn"],
        inputs=["table"],
        tracer_provider=provider,
    )
    def featurize(table: pd.DataFrame, factor: int = 2) -> pd.DataFrame:
        return table.assign(age2=table["age"] * factor)

    result = featurize(raw)
    assert list(result["age2"]) == [62, 84, 114]
    assert featurize.__name__ == "featurize"

    span = only_span(exporter)
    assert span.name == "component featurize"
    attributes = dict(span.attributes or {})
    for key in COMPONENT_SPAN_REQUIRED:
        assert key in attributes, key
    assert attributes[OPERATION_NAME] == "component"
    assert attributes[COMPONENT_NAME] == "featurize"
    assert attributes[COMPONENT_OWNER] == "data-team"
    assert attributes[COMPONENT_TAGS] == ("nightly", "churn")
    assert attributes[DIGEST_ALGORITHM] == ALGORITHM
    assert str(attributes[CODE_DIGEST]).startswith(f"code:{ALGORITHM}:")
    assert string_list(span, IO_INPUTS) == [digest_data(raw)]
    assert string_list(span, IO_OUTPUTS) == [digest_data(result)]
    assert span.status.status_code is StatusCode.UNSET


def test_context_manager_records_inputs_and_outputs(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    features = np.arange(12, dtype=np.float64).reshape(4, 3)
    with component("scale", tracer_provider=provider) as run:
        run.add_input(features)
        scaled = features / features.max()
        run.add_output(scaled)
        assert run.inputs == (digest_data(features),)
    span = only_span(exporter)
    assert span.name == "component scale"
    assert string_list(span, IO_INPUTS) == [digest_data(features)]
    assert string_list(span, IO_OUTPUTS) == [digest_data(scaled)]
    assert str((span.attributes or {})[CODE_DIGEST]).startswith("code:")


def test_file_inputs_are_digested_and_outputs_digested_after_the_step_wrote_them(
    provider: TracerProvider, exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    source = tmp_path / "raw.csv"
    frame().to_csv(source, index=False)
    target = tmp_path / "clean.csv"

    @component("clean", inputs=["path_in"], outputs=["path_out"], tracer_provider=provider)
    def clean(path_in: str, path_out: Path) -> None:
        assert not path_out.exists()
        pd.read_csv(path_in).dropna().to_csv(path_out, index=False)

    clean(str(source), target)
    span = only_span(exporter)
    assert string_list(span, IO_INPUTS) == [digest_file(source)]
    assert string_list(span, IO_OUTPUTS) == [digest_file(target)]
    assert exception_messages(span) == []


def test_context_manager_digests_an_output_file_at_exit(
    provider: TracerProvider, exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    target = tmp_path / "report.txt"
    with component("report", tracer_provider=provider) as run:
        run.add_output(target)  # declared before it exists
        target.write_text("final numbers\n", encoding="utf-8")
    assert string_list(only_span(exporter), IO_OUTPUTS) == [digest_file(target)]


def test_models_are_identified_by_their_version(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 1, 1])
    stored = "model:xxh3_128:0123456789abcdef0123456789abcdef"

    @component("train", tracer_provider=provider)
    def train() -> LogisticRegression:
        model = LogisticRegression().fit(x, y)
        store_model_version(model, stored)
        return model

    model = train()
    assert model_version_of(model) == stored
    plain = LogisticRegression().fit(x, y)
    with component("evaluate", tracer_provider=provider) as run:
        run.add_input(model)
        run.add_input(plain)

    train_span, evaluate_span = exporter.get_finished_spans()
    assert string_list(train_span, IO_OUTPUTS) == [stored]
    assert string_list(evaluate_span, IO_INPUTS) == [stored, fitted_model_id(plain)]
    assert str(fitted_model_id(plain)).startswith("model:")


def test_explicit_ids_are_recorded_verbatim(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    copied = "data:xxh3_128:9a8b7c6d5e4f30211f2e3d4c5b6a7988"
    with component("load", tracer_provider=provider) as run:
        run.add_input(ArtifactId("warehouse.customers@2026-11-01"))
        run.add_input(copied)
        run.add_input("s3://bucket/raw/2026-11-01.parquet")
        run.add_output(ArtifactId("registry:churn/7"))
    span = only_span(exporter)
    assert string_list(span, IO_INPUTS) == [
        "warehouse.customers@2026-11-01",
        copied,
        "s3://bucket/raw/2026-11-01.parquet",
    ]
    assert string_list(span, IO_OUTPUTS) == ["registry:churn/7"]


def test_return_tuples_contribute_each_element_and_ids_are_deduplicated(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    data = frame()

    @component("split", inputs=["table"], tracer_provider=provider)
    def split(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str]:
        return table.iloc[:2], table.iloc[2:], "not a path, just a note"

    head, tail, _ = split(data)
    with component("twice", tracer_provider=provider) as run:
        run.add_input(data)
        run.add_input(data.copy())
    split_span, twice_span = exporter.get_finished_spans()
    assert string_list(split_span, IO_OUTPUTS) == [digest_data(head), digest_data(tail)]
    assert exception_messages(split_span) == []  # implicit return values never error
    assert string_list(twice_span, IO_INPUTS) == [digest_data(data)]


def test_bad_inputs_are_recorded_not_raised(
    provider: TracerProvider, exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    missing = tmp_path / "not-yet.csv"

    class Opaque:
        pass

    calls = []

    @component("ingest", inputs=["path", "thing"], tracer_provider=provider)
    def ingest(path: Path, thing: object) -> int:
        calls.append(path)
        return 7

    assert ingest(missing, Opaque()) == 7
    with component("weird", tracer_provider=provider) as run:
        run.add_input(tmp_path)  # a directory
        run.add_input(ArtifactId(""))
        run.add_output(missing)
    assert calls == [missing]
    ingest_span, weird_span = exporter.get_finished_spans()
    assert string_list(ingest_span, IO_INPUTS) == []
    messages = exception_messages(ingest_span)
    assert any("file not found" in m and "not-yet.csv" in m for m in messages), messages
    assert any("cannot identify a Opaque" in m for m in messages), messages
    assert ingest_span.status.status_code is StatusCode.UNSET
    weird = exception_messages(weird_span)
    assert len(weird) == 3, weird
    assert "is a directory" in weird[0]
    assert "non-empty" in weird[1]
    assert "output 'output[0]': file not found" in weird[2]


def test_the_users_exception_passes_through_unchanged(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    error = KeyError("age")

    @component("broken", tracer_provider=provider)
    def broken() -> None:
        raise error

    with pytest.raises(KeyError) as caught:
        broken()
    assert caught.value is error
    other = ValueError("bad row")
    with pytest.raises(ValueError) as caught_cm, component("broken-cm", tracer_provider=provider):
        raise other
    assert caught_cm.value is other

    for span, expected in zip(exporter.get_finished_spans(), (error, other), strict=True):
        assert span.status.status_code is StatusCode.ERROR
        assert type(expected).__name__ in str(span.status.description)
        types = [(event.attributes or {}).get("exception.type") for event in span.events]
        assert types == [type(expected).__name__]


def test_components_nest_as_child_spans(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    @component("inner", tracer_provider=provider)
    def inner() -> int:
        return 1

    outer = component("outer", tracer_provider=provider)
    with outer:
        inner()
        with outer:  # the same component object, re-entered
            pass
    first, reentered, top = exporter.get_finished_spans()
    assert [first.name, reentered.name, top.name] == [
        "component inner",
        "component outer",
        "component outer",
    ]
    assert top.context is not None
    assert first.parent is not None and first.parent.span_id == top.context.span_id
    assert reentered.parent is not None and reentered.parent.span_id == top.context.span_id
    assert top.parent is None


def test_async_functions_are_wrapped(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    @component("fetch", tracer_provider=provider)
    async def fetch(n: int) -> list[int]:
        await asyncio.sleep(0)
        return list(range(n))

    assert asyncio.run(fetch(3)) == [0, 1, 2]
    assert string_list(only_span(exporter), IO_OUTPUTS) == [digest_data([0, 1, 2])]


def test_without_an_sdk_nothing_is_computed_and_results_are_unchanged(tmp_path: Path) -> None:
    seen = []

    @component(
        "quiet",
        inputs=["path"],
        before=[seen.append],
        tracer_provider=NoOpTracerProvider(),
        code_versions=CodeVersions(read_dirty=lambda root: pytest.fail("git status ran")),
    )
    def quiet(path: Path) -> str:
        return "ok"

    assert quiet(tmp_path / "missing.csv") == "ok"
    assert seen == [tmp_path / "missing.csv"]  # checks still run: they are the user's logic


def test_git_status_runs_once_per_repository_not_per_call(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    roots: list[Path] = []

    def counting(root: Path) -> bool:
        roots.append(root)
        return False

    versions = CodeVersions(read_dirty=counting)

    @component("a", tracer_provider=provider, code_versions=versions)
    def step_a() -> None:
        pass

    for _ in range(5):
        step_a()
        with component("b", tracer_provider=provider, code_versions=versions):
            pass
    assert len(exporter.get_finished_spans()) == 10
    assert len(roots) <= 1  # this test file lives in a git work tree, or not at all


class FailingTracerProvider(TracerProvider):
    """A provider whose tracers fail to start spans: stands for a broken SDK setup."""

    def get_tracer(self, *args: object, **kwargs: object) -> Tracer:  # type: ignore[override]
        tracer = super().get_tracer(*args, **kwargs)  # type: ignore[arg-type]

        def broken(*_: object, **__: object) -> Span:
            raise RuntimeError("exporter misconfigured")

        tracer.start_span = broken  # type: ignore[method-assign]
        return tracer


def test_mlspan_failures_never_reach_the_step(
    provider: TracerProvider, exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    def git_explodes(root: Path) -> bool:
        raise OSError("git vanished")

    @component(
        "fragile", tracer_provider=provider, code_versions=CodeVersions(read_dirty=git_explodes)
    )
    def fragile(x: int) -> int:
        return x * 2

    @component("no-sdk", tracer_provider=FailingTracerProvider())
    def unspanned(x: int) -> int:
        return x + 1

    assert fragile(4) == 8
    assert unspanned(4) == 5
    with component("no-sdk-cm", tracer_provider=FailingTracerProvider()) as run:
        run.add_input(np.ones(3))
        run.add_output(np.zeros(3))
    span = only_span(exporter)
    assert span.name == "component fragile"
    assert string_list(span, IO_OUTPUTS) == []  # an int is no artifact
    messages = [record.getMessage() for record in caplog.records]
    assert any("could not start component 'no-sdk'" in m for m in messages), messages


def test_the_documented_example_runs(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "component.md").read_text()
    example = text.split("```python\n", 1)[1].split("```", 1)[0]
    features = pd.DataFrame({"income": [50.0, 80.0], "years": [5, 10]})
    namespace = {
        "pd": pd,
        "LogisticRegression": LogisticRegression,
        "joblib": joblib,
        "features": features,
        "labels": np.array([0, 1]),
    }
    previous = Path.cwd()
    try:
        os.chdir(tmp_path)
        (tmp_path / "models").mkdir()
        exec(compile(example, "component.md", "exec"), namespace)
    finally:
        os.chdir(previous)
    assert (tmp_path / "models" / "churn.joblib").is_file()
    featurize = namespace["featurize"]
    out = featurize(features, tmp_path / "features.csv")
    assert list(out["income_per_year"]) == [10.0, 8.0]
    with pytest.raises(CheckFailed, match="'no_missing_values' on 'raw': 1 missing values"):
        featurize(features.assign(years=[5, None]), tmp_path / "never.csv")
    assert not (tmp_path / "never.csv").exists()


def test_one_component_object_serves_concurrent_tasks(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    step = component("serve", tracer_provider=provider)

    async def handle(value: int, delay: float) -> None:
        with step as run:
            run.add_input([value])
            await asyncio.sleep(delay)
            run.add_output([value * 10])

    async def main() -> None:
        await asyncio.gather(handle(1, 0.02), handle(2, 0.0), handle(3, 0.01))

    asyncio.run(main())
    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    pairs = {(string_list(span, IO_INPUTS)[0], string_list(span, IO_OUTPUTS)[0]) for span in spans}
    assert pairs == {(digest_data([v]), digest_data([v * 10])) for v in (1, 2, 3)}
    assert all(span.parent is None for span in spans)
