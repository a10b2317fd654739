"""``service.runtime``: the collector process's garbage-collector and malloc settings."""

from __future__ import annotations

import gc
import platform
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from mlspan.collector.pipeline.factory import ConfigError
from mlspan.collector.service.config import parse_config
from mlspan.collector.service.factories import default_factories
from mlspan.collector.service.runtime import (
    RuntimeConfig,
    tune_allocator,
    tune_process,
    untune_process,
)

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
    tuned = tune_allocator(RuntimeConfig())
    assert any(change.startswith("malloc trim") for change in tuned) == on_glibc
    assert any(change.startswith("malloc arenas") for change in tuned) == on_glibc
    untune_process(RuntimeConfig())
    assert gc.get_freeze_count() == 0


def test_zero_values_leave_the_process_alone(restore_gc: None) -> None:
    threshold = gc.get_threshold()
    frozen = gc.get_freeze_count()
    assert tune_process(RuntimeConfig(0, False, 0, 0)) == []
    assert tune_allocator(RuntimeConfig(0, False, 0, 0)) == []
    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == frozen


_ARENAS_AFTER_THREADS = textwrap.dedent(
    """
    import ctypes, sys, tempfile, threading
    from mlspan.collector.service.runtime import RuntimeConfig, tune_allocator

    tune_allocator(RuntimeConfig(malloc_arena_max=int(sys.argv[1])))
    held = []
    together = threading.Barrier(12)

    def allocate():
        held.append(bytearray(300_000))  # malloc, from this thread's arena
        together.wait()  # alive together: a finished thread's arena is handed on

    threads = [threading.Thread(target=allocate) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
    libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
    libc.fclose.argtypes = (ctypes.c_void_p,)
    with tempfile.NamedTemporaryFile(suffix=".xml") as report:
        stream = libc.fopen(report.name.encode(), b"w")
        libc.malloc_info(0, stream)
        libc.fclose(stream)
        print(open(report.name).read().count("<heap nr="))
    """
)


def _arenas_after_twelve_threads(arena_max: int) -> int:
    """malloc arenas of a fresh interpreter that capped them at ``arena_max`` (0: glibc's
    limit) and then ran twelve threads at once that each allocated from malloc."""
    done = subprocess.run(
        [sys.executable, "-c", _ARENAS_AFTER_THREADS, str(arena_max)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(done.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's")
def test_arena_cap_stops_every_thread_getting_its_own_arena() -> None:
    """Each glibc arena keeps its own free memory and fragments on its own; with glibc's
    limit (eight per core) the fuzzed collector's RSS grew with every new server thread
    that landed in a new arena. Capped, the threads share the arenas."""
    assert _arenas_after_twelve_threads(2) <= 2
    assert _arenas_after_twelve_threads(0) > 2
