"""Real sketches and real summary events, made by DataSketches and by the instrumentation.

Everything here is produced by the code that produces it in production: sketches by
``kll_doubles_sketch`` (value by value, merged, queried, shrunk to a smaller k) and by
``kll_from_sorted``; summary events by the instrumentation's ``Summarizer`` on a pandas
frame and by ``span_budget.summary_event`` when a summary must shrink to fit a span.
The checked decoders must accept every one of them.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from datasketches import frequent_strings_sketch, kll_doubles_sketch

from mlspan.instrumentation.options import InstrumentationOptions
from mlspan.instrumentation.span_budget import summary_event
from mlspan.instrumentation.summarize import Summarizer
from mlspan.semconv.values import FeatureOrigin
from mlspan.summaries import FeatureSummary
from mlspan.summaries.categorical import _lg_max_map_size
from mlspan.summaries.kll_build import kll_from_sorted

SIZES = (0, 1, 2, 7, 8, 9, 199, 200, 201, 1_000, 12_345, 100_000)
KS = (8, 9, 50, 200, 1024, 65535)


def kll_sketches(seed: int = 0, large: bool = True) -> Iterator[tuple[str, bytes]]:
    """(label, serialized KLL sketch) across k, sizes, builders, merges and queries."""
    rng = np.random.default_rng(seed)
    for k in KS:
        for n in SIZES:
            values = rng.standard_normal(n) * 10.0 ** float(rng.integers(-3, 6))
            updated = kll_doubles_sketch(k)
            if n:
                updated.update(values)
            yield f"update k={k} n={n}", bytes(updated.serialize())
            yield f"sorted k={k} n={n}", kll_from_sorted(np.sort(values), k)
            smaller = kll_doubles_sketch(max(8, k // 4))
            smaller.merge(updated)
            yield f"shrunk k={k} n={n}", bytes(smaller.serialize())
            merged = kll_doubles_sketch.deserialize(kll_from_sorted(np.sort(values), k))
            merged.merge(updated)
            merged.merge(smaller)
            yield f"merged k={k} n={n}", bytes(merged.serialize())
            if n:
                merged.get_quantiles([0.1, 0.5, 0.9])  # sorts level zero, sets its flag
                yield f"queried k={k} n={n}", bytes(merged.serialize())
    if large:
        values = np.sort(rng.lognormal(0.0, 2.0, 1_000_000))
        for k in (8, 200, 1024):
            yield f"sorted k={k} n=1e6", kll_from_sorted(values, k)
        one_by_one = kll_doubles_sketch(200)
        one_by_one.update(values[::-1].copy())
        yield "update k=200 n=1e6", bytes(one_by_one.serialize())


def frequent_sketches(seed: int = 0) -> Iterator[tuple[str, bytes]]:
    """(label, serialized frequent-strings sketch) across caps, cardinalities and weights."""
    rng = np.random.default_rng(seed)
    for cap in (1, 2, 10, 1000):
        for distinct in (0, 1, cap, cap + 1, 5 * cap):
            sketch = frequent_strings_sketch(_lg_max_map_size(cap))
            for i in range(distinct):
                sketch.update(f"value-{i}-é", int(rng.zipf(1.5)))
            yield f"cap={cap} distinct={distinct}", bytes(sketch.serialize())
            other = frequent_strings_sketch(_lg_max_map_size(cap))
            other.update("", 3)  # the empty string is a value like any other
            other.merge(sketch)
            yield f"merged cap={cap} distinct={distinct}", bytes(other.serialize())


def frame(seed: int = 0, rows: int = 5_000) -> pd.DataFrame:
    """A frame with every kind of column the summarizer meets."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 1, rows)
    income[rng.random(rows) < 0.1] = np.nan
    wild = rng.standard_normal(rows)
    wild[:3] = [np.inf, -np.inf, np.nan]
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, rows),
            "income": income,
            "wild": wild,
            "count": rng.integers(0, 100, rows),
            "flag": rng.random(rows) < 0.3,
            "nullable": pd.array([None if i % 7 == 0 else i for i in range(rows)], dtype="Int64"),
            "constant": np.full(rows, 3.25),
            "empty": np.full(rows, np.nan),
            "plan": rng.choice(["basic", "plus", "pro"], rows),
            "city": [f"city-{int(i)}" for i in rng.zipf(1.3, rows)],
            "maybe": [None if i % 5 == 0 else "x" for i in range(rows)],
        }
    )


def summaries(seed: int = 0, rows: int = 5_000) -> list[FeatureSummary]:
    """Summaries of ``frame`` by the instrumentation's summarizer (small caps, so some
    categorical columns spill into a frequent-items sketch)."""
    options = InstrumentationOptions(categorical_cap=20, kll_k=200)
    summarizer = Summarizer.from_options(options)
    return summarizer.summarize(frame(seed, rows), FeatureOrigin.INPUT, "x")


def summary_events(seed: int = 0, rows: int = 5_000) -> list[dict[str, object]]:
    """Event attributes as the instrumentation sends them: as they are, and shrunk to fit
    a small span budget (smaller KLL k, fewer categories marked inexact)."""
    out: list[dict[str, object]] = []
    for summary in summaries(seed, rows):
        out.append(dict(summary.to_attributes()))
        for limit in (2_000, 600, 100):
            shrunk, _size = summary_event(summary, limit)
            out.append(dict(shrunk))
    return out
