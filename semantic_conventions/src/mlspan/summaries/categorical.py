"""Mergeable summary of a categorical feature: exact counts up to a cap, then a sketch.

Most categorical features have a few to a few hundred values, whose exact counts are
small and give exact chi-square and Jensen-Shannon statistics. Past the cardinality cap
the counts move into a frequent-items sketch (Apache DataSketches), whose estimates
have a known error bound and which merges like the counts do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from datasketches import frequent_items_error_type, frequent_strings_sketch

DEFAULT_CARDINALITY_CAP = 1000
"""Default number of distinct values counted exactly before switching to the sketch."""

SKETCH_PREFIX = "frequent_strings"


def _lg_max_map_size(cap: int) -> int:
    return max(3, math.ceil(math.log2(max(cap, 2) * 4 / 3)) + 1)


@dataclass(frozen=True)
class CategoricalSummary:
    """Summary of one categorical feature.

    ``counts`` maps each value (as a string) to its count; when ``exact`` is false they
    are the frequent-items sketch's estimates of the most frequent values, and
    ``sketch_bytes`` holds the sketch.
    """

    count: int
    nulls: int
    counts: Mapping[str, int]
    exact: bool = True
    sketch_bytes: bytes = field(default=b"", repr=False)
    cap: int = DEFAULT_CARDINALITY_CAP

    @classmethod
    def from_counts(
        cls, counts: Mapping[str, int], nulls: int = 0, cap: int = DEFAULT_CARDINALITY_CAP
    ) -> CategoricalSummary:
        """Summary of non-null value counts plus ``nulls`` missing values."""
        total = sum(counts.values()) + nulls
        if len(counts) <= cap:
            return cls(total, nulls, MappingProxyType(dict(counts)), True, b"", cap)
        sketch = frequent_strings_sketch(_lg_max_map_size(cap))
        for value, weight in counts.items():
            sketch.update(value, weight)
        return cls._from_sketch(total, nulls, sketch, cap)

    @classmethod
    def _from_sketch(
        cls, total: int, nulls: int, sketch: frequent_strings_sketch, cap: int
    ) -> CategoricalSummary:
        rows = sketch.get_frequent_items(frequent_items_error_type.NO_FALSE_NEGATIVES)
        top = {str(item): int(estimate) for item, estimate, _lo, _hi in rows[:cap]}
        return cls(total, nulls, MappingProxyType(top), False, bytes(sketch.serialize()), cap)

    def sketch(self) -> frequent_strings_sketch:
        """The frequent-items sketch; built from the exact counts when there is none.

        Trusts ``sketch_bytes``: DataSketches' deserializer reads lengths and counts from
        them unchecked. Bytes from elsewhere must pass a bounds-checked reader first (the
        collector's ``decode_summary`` does).
        """
        if self.sketch_bytes:
            return frequent_strings_sketch.deserialize(self.sketch_bytes)
        sketch = frequent_strings_sketch(_lg_max_map_size(self.cap))
        for value, weight in self.counts.items():
            sketch.update(value, weight)
        return sketch

    @property
    def sketch_type(self) -> str:
        """The wire name of the sketch: ``frequent_strings:<cap>``."""
        return f"{SKETCH_PREFIX}:{self.cap}"

    def merge(self, other: CategoricalSummary) -> CategoricalSummary:
        """The summary of both samples: exact while the union stays under the cap."""
        cap = min(self.cap, other.cap)
        total = self.count + other.count
        nulls = self.nulls + other.nulls
        if self.exact and other.exact:
            merged = dict(self.counts)
            for value, weight in other.counts.items():
                merged[value] = merged.get(value, 0) + weight
            if len(merged) <= cap:
                return CategoricalSummary(total, nulls, MappingProxyType(merged), True, b"", cap)
        sketch = self.sketch()
        sketch.merge(other.sketch())
        return CategoricalSummary._from_sketch(total, nulls, sketch, cap)

    @property
    def null_rate(self) -> float:
        """Share of missing values."""
        return self.nulls / self.count if self.count else 0.0
