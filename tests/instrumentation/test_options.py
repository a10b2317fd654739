"""Options: explicit arguments win over OTEL_INSTRUMENTATION_MLSPAN_* variables; configure()."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider

import mlspan.instrumentation
from mlspan.instrumentation.options import ENV_PREFIX, InstrumentationOptions
from mlspan.instrumentation.sklearn import SklearnInstrumentor


def test_environment_then_explicit_arguments() -> None:
    env = {
        ENV_PREFIX + "SUMMARIES": "false",
        ENV_PREFIX + "ONLINE_MAX_ROWS": "7",
        ENV_PREFIX + "ONLINE_FLUSH_SECONDS": "2.5",
    }
    options = InstrumentationOptions.resolve({"online_max_rows": 3}, env)
    assert options.summaries is False
    assert options.online_max_rows == 3
    assert options.online_flush_seconds == 2.5
    assert InstrumentationOptions.resolve({}, {}) == InstrumentationOptions()


def test_malformed_environment_is_ignored_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        options = InstrumentationOptions.resolve({}, {ENV_PREFIX + "KLL_K": "many"})
    assert options.kll_k == InstrumentationOptions().kll_k
    assert "KLL_K" in caplog.text


def test_bad_explicit_values_fail_fast_naming_the_option() -> None:
    with pytest.raises(ValueError, match="kll_k"):
        mlspan.instrumentation.instrument(kll_k=2)
    with pytest.raises(ValueError, match="online_flush_rows"):
        InstrumentationOptions.resolve({"online_flush_rows": 0}, {})
    assert not SklearnInstrumentor().is_instrumented_by_opentelemetry


def test_every_option_has_a_documented_environment_variable() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "instrumentation.md").read_text()
    for name in InstrumentationOptions.names():
        assert f"`{ENV_PREFIX}{name.upper()}`" in doc, name
        assert f"`{name}`" in doc, name


def test_configure_raises_span_limits_and_instruments() -> None:
    provider = mlspan.instrumentation.configure(
        service_name="churn",
        endpoint="http://127.0.0.1:9",
        set_global=False,
        online_max_rows=0,
    )
    try:
        assert isinstance(provider, TracerProvider)
        assert provider.resource.attributes["service.name"] == "churn"
        limits = provider._span_limits  # no span: it would be exported to a closed port
        assert limits.max_events >= 1000 and limits.max_span_attributes > 128
        assert SklearnInstrumentor().is_instrumented_by_opentelemetry
    finally:
        mlspan.instrumentation.uninstrument()
        provider.shutdown()
    assert not SklearnInstrumentor().is_instrumented_by_opentelemetry
