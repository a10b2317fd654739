"""Process-wide tuning of the collector process (``service.runtime``).

Applied once the collector has started, by ``Service`` only: the ``mlspan collector``
process owns its interpreter, so it may change settings that library code imported into
a user's application must leave alone.

- Garbage collector: ingest allocates many short-lived containers (records, tuples) per
  span, so with Python's gen-0 threshold of 700 the collector ran a collection every few
  requests, each walking everything still queued, and full collections walked every
  object loaded at start-up (gRPC, protobuf, prometheus_client, numpy...): about a tenth
  of the process's CPU in ``bench/collector_ingest.py``. A gen-0 threshold of 50,000
  makes collections rare (cyclic garbage waits for at most that many allocations), and
  ``gc.freeze()`` after start-up takes the start-up objects out of every later
  collection (``untune_process`` at shutdown gives them back, so that they are freed at
  exit).
- glibc malloc: each 0.5-1 MB request (its bytes, its parse) is freed when answered;
  with glibc's default trim threshold the free top of each thread's heap goes back to
  the kernel at once and the next request faults the same pages in again (about a third
  of the OTLP receiver's CPU). A trim threshold keeps that much free memory per heap. It
  also turns off glibc's sliding mmap threshold, so the mmap threshold is set with it:
  allocations up to ``MMAP_THRESHOLD`` come from the heaps instead of fresh mappings.
  The number of malloc arenas is capped as well: glibc gives threads up to eight arenas
  per core, and each keeps up to the trim threshold of free memory and fragments on its
  own, so a collector whose many server threads each land in their own arena kept
  growing (``bench/fuzz.py``: +32 % RSS over 60,000 requests with glibc's default, flat
  with two arenas at the same throughput; the GIL serializes most allocations anyway).
  The allocator settings are applied before the components start their threads
  (``tune_allocator``), since glibc fixes its arena limit once eight arenas exist.
  Only on glibc; elsewhere nothing changes.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import sys
from dataclasses import dataclass
from typing import Final

from mlspan.collector.pipeline.factory import ConfigError

logger = logging.getLogger(__name__)

MIB: Final = 1024 * 1024
M_TRIM_THRESHOLD: Final = -1
M_MMAP_THRESHOLD: Final = -3
M_ARENA_MAX: Final = -8
"""glibc ``mallopt`` parameters (malloc.h)."""
MMAP_THRESHOLD: Final = 4 * MIB


@dataclass(frozen=True)
class RuntimeConfig:
    """``service.runtime``: garbage-collector and allocator settings of the process."""

    gc_gen0_threshold: int = 50_000
    """Python's gen-0 collection threshold (allocations minus deallocations of container
    objects); 0 keeps the interpreter's."""
    gc_freeze: bool = True
    """Move everything alive after start-up out of later collections (``gc.freeze``)."""
    malloc_trim_threshold_mib: int = 32
    """Free memory (MiB) glibc keeps at the top of each heap instead of returning it to
    the kernel; 0 keeps glibc's defaults."""
    malloc_arena_max: int = 2
    """Most glibc malloc arenas (each keeps its own free memory); 0 keeps glibc's eight
    per core."""
    malloc_trim_interval_seconds: float = 10.0
    """Seconds between ``malloc_trim(0)`` calls that give the heaps' free pages back to
    the kernel (``memory_trim``); 0 never trims."""

    def validate(self) -> None:
        """Check ranges."""
        if self.gc_gen0_threshold < 0:
            raise ConfigError("gc_gen0_threshold must be >= 0")
        if self.malloc_trim_threshold_mib < 0:
            raise ConfigError("malloc_trim_threshold_mib must be >= 0")
        if self.malloc_arena_max < 0:
            raise ConfigError("malloc_arena_max must be >= 0")
        if not 0 <= self.malloc_trim_interval_seconds <= 86_400:
            raise ConfigError("malloc_trim_interval_seconds must be within [0, 86400]")


def tune_allocator(config: RuntimeConfig) -> list[str]:
    """Apply the malloc settings of ``config`` (before threads start); returns what was
    changed (for the log)."""
    applied: list[str] = []
    if config.malloc_trim_threshold_mib and _set_malloc_thresholds(
        config.malloc_trim_threshold_mib * MIB, min(MMAP_THRESHOLD, _max_mmap_threshold())
    ):
        applied.append(f"malloc trim threshold {config.malloc_trim_threshold_mib} MiB")
    if config.malloc_arena_max and _mallopt(((M_ARENA_MAX, config.malloc_arena_max),)):
        applied.append(f"malloc arenas at most {config.malloc_arena_max}")
    return applied


def tune_process(config: RuntimeConfig) -> list[str]:
    """Apply the garbage-collector settings of ``config`` (once started); returns what was
    changed (for the log)."""
    applied: list[str] = []
    if config.gc_gen0_threshold:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(config.gc_gen0_threshold, gen1, gen2)
        applied.append(f"gc gen-0 threshold {config.gc_gen0_threshold}")
    if config.gc_freeze:
        gc.collect()
        gc.freeze()
        applied.append(f"gc froze {gc.get_freeze_count()} start-up objects")
    return applied


def untune_process(config: RuntimeConfig) -> None:
    """Undo what must not outlive the service: frozen objects go back to the collector,
    so that interpreter shutdown (and a later service in the same process) frees them."""
    if config.gc_freeze:
        gc.unfreeze()


def _max_mmap_threshold() -> int:
    """glibc's upper bound for ``M_MMAP_THRESHOLD`` (32 MiB on 64-bit, 512 KiB on 32-bit)."""
    return 32 * MIB if sys.maxsize > 2**32 else 512 * 1024


def _set_malloc_thresholds(trim: int, mmap: int) -> bool:
    """``mallopt`` the trim and mmap thresholds; False where there is no glibc."""
    return _mallopt(((M_TRIM_THRESHOLD, trim), (M_MMAP_THRESHOLD, mmap)))


def _mallopt(settings: tuple[tuple[int, int], ...]) -> bool:
    """``mallopt`` each (parameter, value); False where there is no glibc or it refused."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018  # glibc only: musl's mallopt does nothing
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    if not all(mallopt(parameter, value) == 1 for parameter, value in settings):
        logger.warning("mallopt refused one of %s", settings)
        return False
    return True
