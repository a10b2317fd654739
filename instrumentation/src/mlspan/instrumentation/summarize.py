"""Per-feature summaries of a call's data, in the ``mlspan.summaries`` wire format.

Numerical features get exact mergeable moments and a KLL quantile sketch (datetimes and
timedeltas as seconds); categorical features get exact value counts up to the
cardinality cap, then a frequent-items sketch. Nothing raw leaves the process.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
from collections import Counter, OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mlspan.instrumentation.features import Column, FeatureClassifier, columns_of
from mlspan.instrumentation.options import InstrumentationOptions
from mlspan.semconv import FeatureKind, FeatureOrigin
from mlspan.summaries import CategoricalSummary, FeatureSummary, NumericalSummary

_logger = logging.getLogger(__name__)
_EPOCH = np.datetime64(0, "s")
_SECOND = np.timedelta64(1, "s")


@dataclass(frozen=True)
class Summarizer:
    """Builds the feature summaries of one piece of data."""

    classifier: FeatureClassifier
    kll_k: int
    categorical_cap: int
    max_columns: int

    @classmethod
    def from_options(cls, options: InstrumentationOptions) -> Summarizer:
        """The summarizer the options describe."""
        return cls(
            FeatureClassifier(options.integer_categorical_max_unique, options.categorical_min_rows),
            options.kll_k,
            options.categorical_cap,
            options.max_summary_columns,
        )

    def summarize(
        self,
        data: object,
        origin: FeatureOrigin,
        prefix: str,
        kinds: Mapping[str, FeatureKind] | None = None,
    ) -> list[FeatureSummary]:
        """One summary per column of ``data`` ([] when the data cannot be summarised).

        ``kinds`` pins the kind of known columns (the kinds seen at fit), so a small
        serving batch is classified like the training data.
        """
        columns = columns_of(data, prefix, self.max_columns)
        if columns is None:
            return []
        out = []
        with np.errstate(all="ignore"):
            for column in columns:
                try:
                    kind = (kinds or {}).get(column.name) or self.classifier.classify(column)
                    out.append(self._summary(column, kind, origin))
                except Exception:
                    _logger.debug("cannot summarise feature %r", column.name, exc_info=True)
        return out

    def _summary(self, column: Column, kind: FeatureKind, origin: FeatureOrigin) -> FeatureSummary:
        if kind is FeatureKind.NUMERICAL:
            values, nulls = numeric_values(column.values)
            stats: NumericalSummary | CategoricalSummary = NumericalSummary.from_values(
                values, nulls, self.kll_k
            )
        else:
            counts, nulls = category_counts(column.values)
            stats = CategoricalSummary.from_counts(counts, nulls=nulls, cap=self.categorical_cap)
        return FeatureSummary(column.name, kind, origin, column.dtype, stats)


def numeric_values(values: Any) -> tuple[npt.NDArray[np.float64], int]:
    """Float64 values of a numerical column and the count of non-NaN nulls removed."""
    if isinstance(values, np.ndarray):
        return _numpy_floats(values), 0
    dtype = values.dtype
    if isinstance(dtype, np.dtype):
        return _numpy_floats(values.to_numpy()), 0
    mask = np.asarray(values.isna().to_numpy(), dtype=bool)
    present = values[~mask] if mask.any() else values
    pandas = sys.modules["pandas"]
    if pandas.api.types.is_datetime64_any_dtype(dtype):
        if getattr(dtype, "tz", None) is not None:
            present = present.dt.tz_convert("UTC").dt.tz_localize(None)
        return _numpy_floats(present.to_numpy(dtype="datetime64[ns]")), int(mask.sum())
    return np.asarray(present.to_numpy(dtype="float64"), dtype=np.float64), int(mask.sum())


def _numpy_floats(values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    kind = values.dtype.kind
    if kind == "M":
        return np.asarray((values - _EPOCH) / _SECOND, dtype=np.float64)
    if kind == "m":
        return np.asarray(values / _SECOND, dtype=np.float64)
    if kind == "c":
        return np.asarray(np.abs(values), dtype=np.float64)
    return np.asarray(values, dtype=np.float64)


def category_counts(values: Any) -> tuple[dict[str, int], int]:
    """Counts of the distinct non-null values (as strings) and the number of nulls."""
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        series = values if isinstance(values, pandas.Series) else pandas.Series(values)
        counts = series.value_counts(dropna=True, sort=False)
        nulls = int(series.isna().sum())
        merged: dict[str, int] = {}
        for key, count in zip(counts.index.tolist(), counts.tolist(), strict=True):
            if count > 0:
                text = str(key)
                merged[text] = merged.get(text, 0) + int(count)
        return merged, nulls
    array = np.asarray(values).ravel()
    present = [v for v in array.tolist() if not _is_null(v)]
    tally = Counter(str(v) for v in present)
    return dict(tally), int(array.size - len(present))


def _is_null(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class SummaryCache:
    """Summaries of recently seen data, keyed by the data's content digest.

    ``predict``, ``predict_proba`` and ``score`` on the same evaluation set, or a fit
    followed by a predict on the training data, see the same content: equal digests mean
    equal data, so its summaries are built once. Holds at most ``capacity`` entries
    (summaries are a few KB per feature).
    """

    def __init__(self, summarizer: Summarizer, capacity: int = 8) -> None:
        self._summarizer = summarizer
        self._capacity = capacity
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[FeatureSummary, ...]] = OrderedDict()

    def summarize(
        self,
        data: object,
        digest: str | None,
        origin: FeatureOrigin,
        prefix: str,
        kinds: Mapping[str, FeatureKind] | None = None,
    ) -> list[FeatureSummary]:
        """``Summarizer.summarize``, reusing the result for data with the same digest."""
        if digest is None:
            return self._summarizer.summarize(data, origin, prefix, kinds)
        pinned = tuple(sorted((name, kind.value) for name, kind in kinds.items())) if kinds else ()
        key = (digest, origin, prefix, pinned)
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
                return list(cached)
        summaries = self._summarizer.summarize(data, origin, prefix, kinds)
        with self._lock:
            self._entries[key] = tuple(summaries)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return summaries
