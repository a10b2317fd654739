"""The collector's decoder of feature-summary events: every field checked, nothing trusted.

A summary event arrives from the network. ``decode_summary`` checks each attribute's
type and range, the consistency of the counts, moments and sketch with each other
(moments possible for the extremes, values within ``MAX_MAGNITUDE``), and reads the
sketch bytes with the bounds-checked readers of ``kll_format`` and
``frequent_format`` before it builds the ``FeatureSummary``; only then can the sketch
reach the native DataSketches code (when windows merge and drift is computed). Anything
wrong raises ``BadSummary`` with a short reason, and nothing else escapes: the caller
counts the rejection and keeps the span's other summaries.

What is refused beyond malformed bytes: attributes of the wrong type, text longer than
``MAX_TEXT``, counts above ``MAX_COUNT`` or that do not add up (nulls above the count,
a sketch that summarises a different number of values than the moments, exact
categories that do not sum to the non-null count), NaN moments (infinite sums of 3rd and
4th powers only where the extremes allow them), negative sums of
squares, extremes that differ from the sketch's, and sketch parameters outside the
ranges the instrumentation can produce.
"""

from __future__ import annotations

import binascii
import json
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, TypeVar

from mlspan.collector.drift.frequent_format import check_frequent_strings
from mlspan.collector.drift.kll_format import MAX_K, MIN_K, SketchFormatError, check_kll_doubles
from mlspan.semconv import attributes as attr
from mlspan.semconv.values import FeatureKind, FeatureOrigin
from mlspan.summaries import CategoricalSummary, FeatureSummary, Moments, NumericalSummary
from mlspan.summaries.categorical import SKETCH_PREFIX as CATEGORICAL_PREFIX
from mlspan.summaries.numerical import SKETCH_PREFIX as NUMERICAL_PREFIX

MAX_TEXT: Final = 4096
"""Longest feature name or dtype accepted (characters)."""
MAX_COUNT: Final = 1 << 53
"""Largest count accepted: every count stays exact as a float."""
MAX_CAP: Final = 1 << 20
"""Largest categorical cardinality cap accepted."""
MAX_MAGNITUDE: Final = 1e145
"""Largest absolute value a numerical summary may describe: the sum of squared deviations
of 2**53 values within it stays finite, so variance, std and every sigma-scaled drift
metric are exact. The sums of 3rd and 4th powers may exceed float64 (from ~1e77) and
arrive as infinities, which make skewness and kurtosis read NaN (``Moments``)."""
MAX_SKETCH_TEXT: Final = 4 * 1024 * 1024
"""Longest base64 sketch or categories JSON accepted (a span's whole byte budget)."""

_Choice = TypeVar("_Choice", FeatureKind, FeatureOrigin)


class BadSummary(ValueError):
    """A summary event that cannot be used; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_summary(attributes: Mapping[str, object]) -> FeatureSummary:
    """The checked ``FeatureSummary`` of one event's attributes; raises ``BadSummary``."""
    try:
        return _decode(attributes)
    except BadSummary:
        raise
    except SketchFormatError as exc:
        raise BadSummary(f"bad sketch: {exc}") from exc
    except Exception as exc:  # any slip of a check below is still only a rejection
        raise BadSummary(f"undecodable summary: {type(exc).__name__}: {exc}") from exc


def _decode(attributes: Mapping[str, object]) -> FeatureSummary:
    kind = _choice(attributes, attr.FEATURE_KIND, FeatureKind, None)
    origin = _choice(attributes, attr.FEATURE_ORIGIN, FeatureOrigin, FeatureOrigin.INPUT)
    name = _text(attributes, attr.FEATURE_NAME, None)
    dtype = _text(attributes, attr.FEATURE_DTYPE, "")
    count = _count(attributes, attr.SUMMARY_COUNT, None)
    nulls = _count(attributes, attr.SUMMARY_NULLS, None)
    if nulls > count:
        raise BadSummary(f"{nulls} nulls among {count} values")
    prefix = NUMERICAL_PREFIX if kind is FeatureKind.NUMERICAL else CATEGORICAL_PREFIX
    param = _sketch_param(attributes, prefix)
    sketch = _base64(attributes, attr.SUMMARY_SKETCH)
    if kind is FeatureKind.NUMERICAL:
        if not MIN_K <= param <= MAX_K:
            raise BadSummary(f"KLL k {param} is outside [{MIN_K}, {MAX_K}]")
        stats: NumericalSummary | CategoricalSummary = _numerical(
            attributes, count, nulls, sketch, param
        )
    else:
        if not 1 <= param <= MAX_CAP:
            raise BadSummary(f"cardinality cap {param} is outside [1, {MAX_CAP}]")
        stats = _categorical(attributes, count, nulls, sketch, param)
    return FeatureSummary(name, kind, origin, dtype, stats)


def _numerical(
    attributes: Mapping[str, object], count: int, nulls: int, sketch: bytes, k: int
) -> NumericalSummary:
    nan = _count(attributes, attr.SUMMARY_NAN, 0)
    inf = _count(attributes, attr.SUMMARY_INF, 0)
    if nan > nulls or nulls + inf > count:
        raise BadSummary(f"{nan} NaN, {nulls} nulls and {inf} infinities among {count} values")
    finite = count - nulls - inf
    if not sketch:
        raise BadSummary("a numerical summary without its sketch")
    layout = check_kll_doubles(sketch)
    if layout.n != finite:
        raise BadSummary(f"the sketch summarises {layout.n} values, the counts say {finite}")
    mean = _number(attributes, attr.SUMMARY_MEAN)
    m2 = _number(attributes, attr.SUMMARY_M2)
    m3 = _number(attributes, attr.SUMMARY_M3, infinite=True)
    m4 = _number(attributes, attr.SUMMARY_M4, infinite=True)
    if not finite:  # no values: the moments of nothing, whatever the event said
        return NumericalSummary(count, nulls, nan, inf, Moments(), sketch, k)
    low = _number(attributes, attr.SUMMARY_MIN, None)
    high = _number(attributes, attr.SUMMARY_MAX, None)
    if low != layout.min_value or high != layout.max_value:
        raise BadSummary(f"extremes [{low}, {high}] differ from the sketch's")
    if max(-low, high) > MAX_MAGNITUDE:
        raise BadSummary(f"values beyond +-{MAX_MAGNITUDE:g} cannot be compared safely")
    _check_moments(finite, mean, m2, m3, m4, low, high)
    moments = Moments(finite, mean, m2, m3, m4, low, high)
    return NumericalSummary(count, nulls, nan, inf, moments, sketch, k)


def _check_moments(
    n: int, mean: float, m2: float, m3: float, m4: float, low: float, high: float
) -> None:
    """Moments that finite values in ``[low, high]`` can have, with room for rounding.

    Every deviation from the mean is at most the spread, so the sums of its powers are
    at most ``n`` times the spread's powers; the mean lies between the extremes. The
    bounds are products, which saturate to ``inf`` where ``**`` would raise: an infinite
    ``m3`` or ``m4`` (a sum beyond float64) passes only where its bound overflows too. The
    spread is widened by a relative 1e-9 of the values' magnitude (the rounding of the
    mean of a constant column makes tiny non-zero deviations).
    """
    magnitude = max(abs(low), abs(high))
    slack = 1e-9 * magnitude + 1e-300
    spread = (high - low) + slack
    if not low - slack <= mean <= high + slack:
        raise BadSummary(f"mean {mean} lies outside [{low}, {high}]")
    bound2 = n * spread * spread
    if not (0.0 <= m2 <= bound2 and abs(m3) <= bound2 * spread and m4 >= 0.0):
        raise BadSummary("sums of powered deviations impossible for the extremes")
    if m4 > bound2 * spread * spread:
        raise BadSummary("sum of fourth powers impossible for the extremes")


def _categorical(
    attributes: Mapping[str, object], count: int, nulls: int, sketch: bytes, cap: int
) -> CategoricalSummary:
    exact = attributes.get(attr.SUMMARY_CATEGORIES_EXACT, True)
    if not isinstance(exact, bool):
        raise BadSummary(f"{attr.SUMMARY_CATEGORIES_EXACT} must be a boolean")
    counts = _categories(attributes, count - nulls, cap)
    total = sum(counts.values())
    if exact and total != count - nulls:
        raise BadSummary(f"exact categories count {total} of {count - nulls} non-null values")
    if sketch:
        if exact:
            raise BadSummary("exact categories with a frequent-items sketch")
        layout = check_frequent_strings(sketch)
        # At most, not equal: a summary shrunk to fit a span keeps only its most frequent
        # counts, and a sketch later built from them weighs less than the whole.
        if layout.total_weight > count - nulls:
            raise BadSummary(f"the sketch weighs {layout.total_weight}, over {count - nulls}")
    return CategoricalSummary(count, nulls, MappingProxyType(counts), exact, sketch, cap)


def _categories(attributes: Mapping[str, object], non_null: int, cap: int) -> dict[str, int]:
    text = attributes.get(attr.SUMMARY_CATEGORIES)
    if not isinstance(text, str) or len(text) > MAX_SKETCH_TEXT:
        raise BadSummary(f"{attr.SUMMARY_CATEGORIES} must be a JSON string")
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BadSummary(f"{attr.SUMMARY_CATEGORIES} is not JSON: {exc}") from exc
    if not isinstance(raw, dict) or len(raw) > cap:
        raise BadSummary(f"{attr.SUMMARY_CATEGORIES} must be an object of at most {cap} entries")
    for value in raw.values():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= non_null:
            raise BadSummary(f"a category count is not an integer in [0, {non_null}]")
    return raw


def _present(attributes: Mapping[str, object], key: str, default: object) -> object:
    value = attributes.get(key, default)
    if value is None:
        raise BadSummary(f"{key} is missing")
    return value


def _text(attributes: Mapping[str, object], key: str, default: str | None) -> str:
    value = _present(attributes, key, default)
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise BadSummary(f"{key} must be a string of at most {MAX_TEXT} characters")
    return value


def _choice(
    attributes: Mapping[str, object], key: str, kind: type[_Choice], default: _Choice | None
) -> _Choice:
    value = _present(attributes, key, default)
    try:
        return kind(value)
    except ValueError as exc:
        raise BadSummary(f"{key} has an unknown value") from exc


def _count(attributes: Mapping[str, object], key: str, default: int | None) -> int:
    value = _present(attributes, key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise BadSummary(f"{key} must be an integer in [0, 2**53]")
    return value


def _number(
    attributes: Mapping[str, object],
    key: str,
    default: float | None = 0.0,
    infinite: bool = False,
) -> float:
    value = _present(attributes, key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadSummary(f"{key} must be a number")
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and not infinite):
        raise BadSummary(f"{key} is not finite")
    return number


def _sketch_param(attributes: Mapping[str, object], prefix: str) -> int:
    text = _text(attributes, attr.SUMMARY_SKETCH_TYPE, None)
    head, _, digits = text.partition(":")
    if head != prefix or not (digits.isascii() and digits.isdigit()) or len(digits) > 8:
        raise BadSummary(f"{attr.SUMMARY_SKETCH_TYPE} {text[:64]!r} is not {prefix}:<n>")
    return int(digits)


def _base64(attributes: Mapping[str, object], key: str) -> bytes:
    text = attributes.get(key, "")
    if not isinstance(text, str) or len(text) > MAX_SKETCH_TEXT:
        raise BadSummary(f"{key} must be a base64 string")
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise BadSummary(f"{key} is not base64: {exc}") from exc
