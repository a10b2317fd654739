"""Clamping what a span says into what the store and the API can hold.

OTLP lets a client send values no run can have: timestamps of 0 or past SQLite's
signed 64-bit integers (``start_time_unix_nano`` is a ``fixed64``), an end before the
start, hyperparameters with ``NaN``/``Infinity`` or thousands of nesting levels, strings
of megabytes, attributes of the wrong type. Extraction calls these helpers only when a
cheap test on the hot path finds something off; each repair is counted by reason
(``CLAMP_*``) so a poisoned client shows up in ``/metrics`` rather than in a failed
transaction that takes other clients' spans with it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any, Final

MAX_NS: Final = 2**63 - 1
"""Largest timestamp SQLite (and PostgreSQL's ``bigint``) stores: year 2262."""
MAX_TEXT: Final = 4096
"""Longest name, component, service, status message, model field or code id kept; longer
ones are cut."""
MAX_ARTIFACT_ID: Final = 4096
"""Longest artifact id (digests are ~70 characters, ``file:`` ids carry a path); longer
ones are dropped: a cut id would name a different artifact."""
MAX_PARAMS: Final = 65536
"""Longest hyperparameter JSON kept; longer documents are dropped."""
MAX_PARAMS_DEPTH: Final = 32
"""Deepest nesting of hyperparameter JSON kept (estimators nest a few levels)."""

CLAMP_START: Final = "start_time"
"""Start time 0 or past ``MAX_NS``: replaced by the end time, else the receipt time."""
CLAMP_END: Final = "end_time"
"""End time 0, past ``MAX_NS`` or before the start: replaced by the start time."""
CLAMP_PARAMS: Final = "params"
"""Hyperparameters with ``NaN``/``Infinity`` (rewritten as strings), too deep, too long or
unreadable nesting (dropped)."""
CLAMP_OVERSIZED: Final = "oversized"
"""A text value cut to ``MAX_TEXT`` or an artifact id past ``MAX_ARTIFACT_ID`` dropped."""
CLAMP_WRONG_TYPE: Final = "wrong_type"
"""An mlspan attribute of another type than the convention's (ignored)."""
CLAMP_REASONS: Final = (CLAMP_START, CLAMP_END, CLAMP_PARAMS, CLAMP_OVERSIZED, CLAMP_WRONG_TYPE)

_NON_FINITE: Final = {"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity"}


def clamp_times(start: int, end: int, received_ns: int, counts: Counter[str]) -> tuple[int, int]:
    """A start and end a store can hold, with ``start <= end``."""
    end_valid = 0 < end <= MAX_NS
    if not 0 < start <= MAX_NS:
        counts[CLAMP_START] += 1
        start = end if end_valid else min(max(received_ns, 1), MAX_NS)
    if not end_valid or end < start:
        counts[CLAMP_END] += 1
        end = start
    return start, end


def cut(text: str, counts: Counter[str]) -> str:
    """``text`` cut to ``MAX_TEXT`` characters (counted when cut)."""
    if len(text) <= MAX_TEXT:
        return text
    counts[CLAMP_OVERSIZED] += 1
    return text[:MAX_TEXT]


def usable_ids(ids: list[str], counts: Counter[str]) -> list[str]:
    """``ids`` without empty ones and without ones longer than ``MAX_ARTIFACT_ID``."""
    kept = [i for i in ids if i and len(i) <= MAX_ARTIFACT_ID]
    oversized = sum(1 for i in ids if len(i) > MAX_ARTIFACT_ID)
    if oversized:
        counts[CLAMP_OVERSIZED] += oversized
    return kept


def params_need_check(text: str) -> bool:
    """True when ``text`` might hold ``NaN``/``Infinity``, deep nesting or too many
    characters: substring searches in C, a fraction of a microsecond for a fit's
    parameters. (A literal that overflows to infinity, ``1e999``, is not looked for
    here: the API turns it into ``"Infinity"`` when it reads the run.)"""
    return (
        len(text) > MAX_PARAMS
        or "NaN" in text
        or "Infinity" in text
        or (
            len(text) > 2 * MAX_PARAMS_DEPTH
            and text.count("[") + text.count("{") > MAX_PARAMS_DEPTH
        )
    )


def clean_params(text: str, counts: Counter[str]) -> str:
    """Hyperparameter JSON the API can always serve: non-finite numbers become the
    strings ``"NaN"``/``"Infinity"``/``"-Infinity"``; too long or too deep documents are
    dropped (""). Text that is not JSON is kept as it is (the API shows it as a string).
    """
    if len(text) > MAX_PARAMS:
        counts[CLAMP_PARAMS] += 1
        return ""
    found: list[str] = []

    def constant(name: str) -> str:
        found.append(name)
        return _NON_FINITE.get(name, name)

    try:
        value = json.loads(text, parse_constant=constant)
    except RecursionError:
        counts[CLAMP_PARAMS] += 1
        return ""
    except ValueError:
        return text
    if _depth_exceeds(value, MAX_PARAMS_DEPTH):
        counts[CLAMP_PARAMS] += 1
        return ""
    if not found and not _has_non_finite(value):
        return text
    counts[CLAMP_PARAMS] += 1
    return json.dumps(_finite(value), separators=(",", ":"))


def _depth_exceeds(value: Any, limit: int) -> bool:
    """True when containers nest deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False


def _finite(value: Any) -> Any:
    """``value`` with non-finite floats as strings (depth already bounded)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
