"""``service.runtime``: the collector process's garbage-collector and malloc settings."""

from __future__ import annotations

import gc
import platform
from collections.abc import Iterator
from typing import Any

import pytest

from mlspan.collector.pipeline.factory import ConfigError
from mlspan.collector.service.config import parse_config
from mlspan.collector.service.factories import default_factories
from mlspan.collector.service.runtime import RuntimeConfig, tune_process, untune_process

FACTORIES = default_factories()


def _document(runtime: dict[str, Any] | None = None) -> dict[str, Any]:
    service: dict[str, Any] = {
        "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["debug"]}}
    }
    if runtime is not None:
        service["runtime"] = runtime
    return {"receivers": {"otlp": {}}, "exporters": {"debug": {}}, "service": service}


@pytest.fixture
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.set_threshold(*threshold)
    gc.unfreeze()


def test_runtime_defaults_and_overrides_parse() -> None:
    assert parse_config(_document(), FACTORIES).service.runtime == RuntimeConfig()
    runtime = parse_config(
        _document({"gc_gen0_threshold": 0, "gc_freeze": False, "malloc_trim_threshold_mib": 8}),
        FACTORIES,
    ).service.runtime
    assert runtime == RuntimeConfig(0, False, 8)


@pytest.mark.parametrize(
    ("runtime", "named"),
    [
        ({"gc_gen0_threshold": -1}, "service.runtime: gc_gen0_threshold"),
        ({"malloc_trim_threshold_mib": -5}, "service.runtime: malloc_trim_threshold_mib"),
        ({"gc_frozen": True}, "service.runtime: unknown key 'gc_frozen'"),
    ],
)
def test_bad_runtime_settings_fail_naming_the_key(runtime: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        parse_config(_document(runtime), FACTORIES)


def test_tune_process_sets_threshold_freezes_and_tunes_malloc(restore_gc: None) -> None:
    _, gen1, gen2 = gc.get_threshold()
    applied = tune_process(RuntimeConfig(gc_gen0_threshold=12_345))
    assert gc.get_threshold() == (12_345, gen1, gen2)
    assert gc.get_freeze_count() > 0
    assert any(change.startswith("gc froze") for change in applied)
    on_glibc = platform.libc_ver()[0] == "glibc"
    assert any(change.startswith("malloc") for change in applied) == on_glibc
    untune_process(RuntimeConfig())
    assert gc.get_freeze_count() == 0


def test_zero_values_leave_the_process_alone(restore_gc: None) -> None:
    threshold = gc.get_threshold()
    frozen = gc.get_freeze_count()
    assert tune_process(RuntimeConfig(0, False, 0)) == []
    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == frozen
