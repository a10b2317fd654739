"""Decodes the feature summaries of one batch of spans together, with every check.

``decode_summary`` checks one event at a time; for a batch's few dozen numerical
summaries most of that time went to a dozen small numpy calls per sketch and to one
Python call per field. ``decode_summaries`` reads the usual shape of a numerical event
(every field of its expected Python type, a full KLL sketch) with inline type and range
checks, checks all sketches in one vectorised pass (``check_kll_many``) and the numbers
of all events (finiteness, extremes equal to the sketch's, magnitude, moments possible
for the extremes) in one vectorised pass of the same comparisons, in the same floating
point operations, as ``decode_summary``'s.

Categorical events with exact counts (no sketch) are checked inline, one at a time.
Whatever takes neither path (a frequent-items sketch, an int where a float is usual, an
empty KLL sketch) and whatever fails any check there is decoded by
``decode_summary`` itself, whose answer (the summary, or ``BadSummary`` with its reason)
is then the one returned. So the batch path accepts an event only where
``decode_summary`` accepts it, builds the same summary from it, and refuses with
``decode_summary``'s reasons; ``tests/collector/drift/test_summary_batch.py`` checks
that on real and corrupted events.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

import numpy as np

from mlspan.collector.drift.kll_format import MAX_K, MIN_K
from mlspan.collector.drift.summary_check import (
    MAX_CAP,
    MAX_COUNT,
    MAX_MAGNITUDE,
    MAX_SKETCH_TEXT,
    MAX_TEXT,
    BadSummary,
    decode_summary,
)
from mlspan.semconv import attributes as attr
from mlspan.semconv.values import FeatureKind, FeatureOrigin
from mlspan.summaries import CategoricalSummary, FeatureSummary, Moments, NumericalSummary
from mlspan.summaries.categorical import SKETCH_PREFIX as CATEGORICAL_PREFIX
from mlspan.summaries.kll_format import check_kll_many
from mlspan.summaries.numerical import SKETCH_PREFIX as NUMERICAL_PREFIX

_NUMERICAL: Final = FeatureKind.NUMERICAL
_CATEGORICAL: Final = FeatureKind.CATEGORICAL
_KINDS: Final[dict[object, FeatureKind]] = {kind.value: kind for kind in FeatureKind}
_ORIGINS: Final[dict[object, FeatureOrigin]] = {o.value: o for o in FeatureOrigin}
_TYPE_HEAD: Final = NUMERICAL_PREFIX + ":"
_CATEGORICAL_HEAD: Final = CATEGORICAL_PREFIX + ":"

Decoded = FeatureSummary | BadSummary


class _Rows:
    """The numerical events on the batch path, as columns."""

    def __init__(self) -> None:
        self.at: list[int] = []
        self.head: list[tuple[str, FeatureOrigin, str, int, int, int, int, int]] = []
        """(name, origin, dtype, count, nulls, nan, inf, k)."""
        self.sketches: list[bytes] = []
        self.finite: list[int] = []
        self.numbers: list[tuple[float, float, float, float, float, float]] = []
        """(mean, m2, m3, m4, min, max)."""


_NUMERICAL_FIELDS: Final = (
    (attr.FEATURE_ORIGIN, "input"),
    (attr.FEATURE_NAME, None),
    (attr.FEATURE_DTYPE, ""),
    (attr.SUMMARY_COUNT, None),
    (attr.SUMMARY_NULLS, None),
    (attr.SUMMARY_NAN, 0),
    (attr.SUMMARY_INF, 0),
    (attr.SUMMARY_SKETCH_TYPE, None),
    (attr.SUMMARY_SKETCH, ""),
    (attr.SUMMARY_MEAN, 0.0),
    (attr.SUMMARY_M2, 0.0),
    (attr.SUMMARY_M3, 0.0),
    (attr.SUMMARY_M4, 0.0),
    (attr.SUMMARY_MIN, None),
    (attr.SUMMARY_MAX, None),
)
"""The keys a numerical summary is read from, with ``decode_summary``'s default for an
absent key (None where the key is required)."""
_CATEGORICAL_FIELDS: Final = (
    (attr.FEATURE_ORIGIN, "input"),
    (attr.FEATURE_NAME, None),
    (attr.FEATURE_DTYPE, ""),
    (attr.SUMMARY_COUNT, None),
    (attr.SUMMARY_NULLS, None),
    (attr.SUMMARY_SKETCH_TYPE, None),
    (attr.SUMMARY_SKETCH, ""),
    (attr.SUMMARY_CATEGORIES_EXACT, True),
    (attr.SUMMARY_CATEGORIES, None),
)
_KIND_FIELD: Final = ((attr.FEATURE_KIND, None),)

Attributes = Mapping[str, object] | Any
"""An event's attributes: a plain dict, or the map of ``AnyValue`` of the parsed view."""


def event_attributes(attributes: Any) -> dict[str, object]:
    """An event's attributes as a plain dict for ``decode_summary``: each ``AnyValue``'s
    one set field read with a single ``ListFields`` call (about half the cost of
    ``plain_attributes``' type dispatch). Scalars come out as Python values; an array, a
    key-value list or bytes come out as their message or bytes, which the decoder's type
    checks refuse, as they refuse the None of a value with no field set."""
    plain: dict[str, object] = {}
    for key in attributes:
        fields = attributes[key].ListFields()
        plain[key] = fields[0][1] if fields else None
    return plain


def _read(attributes: Attributes, fields: tuple[tuple[str, object], ...]) -> list[object]:
    """The values of ``fields`` (the default for an absent key), as ``event_attributes``
    would give them; from the parsed map, only these keys are read (a key look-up and
    one field read each, instead of every attribute turned into a dict entry)."""
    if isinstance(attributes, dict):
        plain = attributes.get
        return [plain(key, default) for key, default in fields]
    look_up = attributes.get  # the map of AnyValue messages
    out: list[object] = []
    for key, default in fields:
        value: Any = look_up(key)
        if value is None:
            out.append(default)
        else:
            which = value.WhichOneof("value")
            out.append(getattr(value, which) if which else None)
    return out


def decode_summaries(rows: Sequence[Attributes]) -> list[Decoded]:
    """``decode_summary`` of each row (a dict of plain values, or the parsed map of an
    event's attributes): the summary, or the ``BadSummary`` it raises."""
    out: list[Decoded | None] = [None] * len(rows)
    numerical = _Rows()
    for at, row in enumerate(rows):
        try:
            kind = _KINDS.get(_read(row, _KIND_FIELD)[0])
        except TypeError:  # an unhashable value: not one of the usual shapes
            kind = None
        if kind is _NUMERICAL and _gather(_read(row, _NUMERICAL_FIELDS), at, numerical):
            continue
        summary = None
        if kind is _CATEGORICAL:
            summary = _exact_categorical(_read(row, _CATEGORICAL_FIELDS))
        out[at] = summary or _decode_one(row)
    if numerical.at:
        for at, checked in _check_numbers(numerical):
            out[at] = checked if checked is not None else _decode_one(rows[at])
    return out  # type: ignore[return-value]  # every position is filled above


def _decode_one(row: Attributes) -> Decoded:
    try:
        return decode_summary(row if isinstance(row, dict) else event_attributes(row))
    except BadSummary as exc:
        return exc


def _exact_categorical(values: list[object]) -> FeatureSummary | None:
    """The summary of a categorical event with exact counts and no sketch, checked as
    ``decode_summary`` checks it; None for any other row or any failed check (left to
    ``decode_summary``)."""
    origin, name, dtype, count, nulls, sketch_type, sketch, exact, text = values
    try:
        feature_origin = _ORIGINS.get(origin)
    except TypeError:
        return None
    if not (
        feature_origin is not None
        and type(name) is str
        and len(name) <= MAX_TEXT
        and type(dtype) is str
        and len(dtype) <= MAX_TEXT
        and type(count) is int
        and type(nulls) is int
        and 0 <= nulls <= count <= MAX_COUNT
        and type(sketch) is str
        and not sketch
        and exact is True
        and type(sketch_type) is str
        and sketch_type.startswith(_CATEGORICAL_HEAD)
        and type(text) is str
        and len(text) <= MAX_SKETCH_TEXT
    ):
        return None
    digits = sketch_type[len(_CATEGORICAL_HEAD) :]
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 8):
        return None
    cap = int(digits)
    try:
        counts = json.loads(text)
    except (ValueError, RecursionError):
        return None
    non_null = count - nulls
    if type(counts) is not dict or not 1 <= cap <= MAX_CAP or len(counts) > cap:
        return None
    weights = counts.values()
    if not all(type(weight) is int for weight in weights):
        return None
    if (weights and (min(weights) < 0 or max(weights) > non_null)) or sum(weights) != non_null:
        return None
    stats = CategoricalSummary(count, nulls, MappingProxyType(counts), True, b"", cap)
    return FeatureSummary(name, _CATEGORICAL, feature_origin, dtype, stats)


def _gather(values: list[object], at: int, rows: _Rows) -> bool:
    """Add a numerical event of the usual shape to ``rows``; False for any other row
    (left to ``decode_summary``). Each test is one of ``decode_summary``'s, or stricter."""
    origin, name, dtype, count, nulls, nan, inf, sketch_type, text = values[:9]
    numbers = values[9:]
    try:
        feature_origin = _ORIGINS.get(origin)
    except TypeError:
        return False
    if not (
        feature_origin is not None
        and type(name) is str
        and len(name) <= MAX_TEXT
        and type(dtype) is str
        and len(dtype) <= MAX_TEXT
        and type(count) is int
        and type(nulls) is int
        and type(nan) is int
        and type(inf) is int
        and 0 <= nan <= nulls <= count <= MAX_COUNT
        and inf >= 0
        and nulls + inf < count  # some finite values (none: left to decode_summary)
        and type(sketch_type) is str
        and sketch_type.startswith(_TYPE_HEAD)
        and type(text) is str
        and 0 < len(text) <= MAX_SKETCH_TEXT
    ):
        return False
    digits = sketch_type[len(_TYPE_HEAD) :]
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 8):
        return False
    k = int(digits)
    if not MIN_K <= k <= MAX_K or any(type(number) is not float for number in numbers):
        return False
    try:
        sketch = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return False
    rows.at.append(at)
    rows.head.append((name, feature_origin, dtype, count, nulls, nan, inf, k))
    rows.sketches.append(sketch)
    rows.finite.append(count - nulls - inf)
    rows.numbers.append(tuple(numbers))  # type: ignore[arg-type]  # floats (above)
    return True


def _check_numbers(rows: _Rows) -> list[tuple[int, FeatureSummary | None]]:
    """(row, summary) for every gathered row; None where a check fails (then
    ``decode_summary`` gives the reason)."""
    layouts = check_kll_many(rows.sketches)
    table = np.array(rows.numbers, dtype=np.float64).T
    mean, m2, m3, m4, low, high = table
    n = np.array(rows.finite, dtype=np.float64)
    with np.errstate(all="ignore"):
        # decode_summary: the sketch's extremes are min and max, the values lie within
        # MAX_MAGNITUDE, mean and m2 are finite and m3 and m4 not NaN...
        ok = np.array(layouts.min_value) == low
        ok &= np.array(layouts.max_value) == high
        ok &= np.maximum(-low, high) <= MAX_MAGNITUDE
        ok &= np.isfinite(mean) & np.isfinite(m2) & ~np.isnan(m3) & ~np.isnan(m4)
        # ... and _check_moments, operation for operation.
        magnitude = np.maximum(np.abs(low), np.abs(high))
        slack = 1e-9 * magnitude + 1e-300
        spread = (high - low) + slack
        ok &= (low - slack <= mean) & (mean <= high + slack)
        bound2 = n * spread * spread
        ok &= (m2 >= 0.0) & (m2 <= bound2) & (np.abs(m3) <= bound2 * spread) & (m4 >= 0.0)
        ok &= m4 <= bound2 * spread * spread
    for at in layouts.errors:
        ok[at] = False
    out: list[tuple[int, FeatureSummary | None]] = []
    counts = layouts.n
    finite = rows.finite
    for index, good in enumerate(ok.tolist()):
        if not good or counts[index] != finite[index]:  # the sketch summarises them all
            out.append((rows.at[index], None))
            continue
        name, origin, dtype, count, nulls, nan, inf, k = rows.head[index]
        mean_, m2_, m3_, m4_, low_, high_ = rows.numbers[index]
        moments = Moments(finite[index], mean_, m2_, m3_, m4_, low_, high_)
        stats = NumericalSummary(count, nulls, nan, inf, moments, rows.sketches[index], k)
        out.append((rows.at[index], FeatureSummary(name, _NUMERICAL, origin, dtype, stats)))
    return out
