"""The bounds-checked KLL reader, shared with the instrumentation side.

It lives in ``mlspan.summaries.kll_format`` so that every decoder of sketches from the
network (feature summaries here, performance summaries in ``mlspan.summaries``) uses
the same checks; this module keeps the collector's import path.
"""

from __future__ import annotations

from mlspan.summaries.kll_format import (
    DATA_START,
    EMPTY_BYTES,
    FAMILY_KLL,
    FLAG_EMPTY,
    FLAG_SINGLE,
    FLAG_SORTED,
    MAX_K,
    MAX_LEVELS,
    MIN_K,
    MIN_WIDTH,
    PREAMBLE_FULL,
    PREAMBLE_SHORT,
    SERIAL_FULL,
    SERIAL_SINGLE,
    SINGLE_BYTES,
    KllLayout,
    SketchFormatError,
    check_kll_doubles,
    total_capacity,
)

__all__ = [
    "DATA_START",
    "EMPTY_BYTES",
    "FAMILY_KLL",
    "FLAG_EMPTY",
    "FLAG_SINGLE",
    "FLAG_SORTED",
    "MAX_K",
    "MAX_LEVELS",
    "MIN_K",
    "MIN_WIDTH",
    "PREAMBLE_FULL",
    "PREAMBLE_SHORT",
    "SERIAL_FULL",
    "SERIAL_SINGLE",
    "SINGLE_BYTES",
    "KllLayout",
    "SketchFormatError",
    "check_kll_doubles",
    "total_capacity",
]
