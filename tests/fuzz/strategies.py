"""``hypothesis`` strategies for feature-summary events, valid and hostile.

Valid events are made by the real summary code from generated data
(``NumericalSummary.from_values`` builds the KLL sketch, ``CategoricalSummary.from_counts``
switches to a frequent-items sketch past its cap) and encoded with ``to_attributes``,
exactly as the instrumentation sends them. Hostile events start from a valid one and
change one thing: a sketch corrupted behind a valid header (``sketch_corruption``), the
sketch's bytes replaced by arbitrary ones, an attribute of another type or value, an
attribute removed, or a category table that is arbitrary JSON.
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import numpy as np
from hypothesis import strategies as st

from mlspan.semconv import attributes as attr
from mlspan.semconv.values import FeatureKind, FeatureOrigin
from mlspan.summaries import CategoricalSummary, FeatureSummary, NumericalSummary
from tests.fuzz.sketch_corruption import CORRUPTIONS

Attributes = dict[str, Any]

finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=64)
data_values = st.floats(-1e70, 1e70) | st.sampled_from((float("nan"), float("inf"), -float("inf")))
"""Feature values: NaN and infinities included, finite ones below 1e70 in magnitude (the
fourth central moment of values past about 1e77 overflows to infinity, which the
collector refuses as a non-finite moment)."""


@st.composite
def numerical_summaries(draw: st.DrawFn) -> FeatureSummary:
    """A numerical feature's summary from generated values (NaN and infinities too)."""
    values = draw(
        st.one_of(
            st.lists(data_values, max_size=50),
            st.integers(0, 5_000).map(lambda n: list(np.random.default_rng(n).lognormal(size=n))),
        )
    )
    k = draw(st.sampled_from((8, 50, 200, 1024)))
    stats = NumericalSummary.from_values(np.asarray(values, dtype=float), k=k)
    name = draw(st.text(max_size=20))
    return FeatureSummary(name, FeatureKind.NUMERICAL, FeatureOrigin.INPUT, "float64", stats)


@st.composite
def categorical_summaries(draw: st.DrawFn) -> FeatureSummary:
    """A categorical feature's summary; past ``cap`` values it carries a sketch."""
    counts = draw(st.dictionaries(st.text(max_size=12), st.integers(1, 10_000), max_size=60))
    cap = draw(st.sampled_from((4, 16, 1000)))
    stats = CategoricalSummary.from_counts(counts, nulls=draw(st.integers(0, 50)), cap=cap)
    name = draw(st.text(max_size=20))
    return FeatureSummary(name, FeatureKind.CATEGORICAL, FeatureOrigin.INPUT, "object", stats)


feature_summaries = st.one_of(numerical_summaries(), categorical_summaries())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | finite_or_not | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)
attribute_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    finite_or_not,
    st.text(max_size=40),
    st.binary(max_size=40),
    st.lists(st.integers(-5, 5) | st.text(max_size=3), max_size=5),
)
summary_keys = st.sampled_from(
    (
        attr.FEATURE_NAME,
        attr.FEATURE_KIND,
        attr.FEATURE_ORIGIN,
        attr.FEATURE_DTYPE,
        attr.SUMMARY_COUNT,
        attr.SUMMARY_NULLS,
        attr.SUMMARY_NAN,
        attr.SUMMARY_INF,
        attr.SUMMARY_MIN,
        attr.SUMMARY_MAX,
        attr.SUMMARY_MEAN,
        attr.SUMMARY_M2,
        attr.SUMMARY_M3,
        attr.SUMMARY_M4,
        attr.SUMMARY_SKETCH,
        attr.SUMMARY_SKETCH_TYPE,
        attr.SUMMARY_CATEGORIES,
        attr.SUMMARY_CATEGORIES_EXACT,
    )
)


def _sketch_of(attributes: Attributes) -> bytes:
    text = attributes.get(attr.SUMMARY_SKETCH)
    return base64.b64decode(text) if isinstance(text, str) else b""


@st.composite
def hostile_attributes(draw: st.DrawFn) -> Attributes:
    """A valid summary event with one thing broken."""
    attributes: Attributes = dict(draw(feature_summaries).to_attributes())
    how = draw(st.sampled_from(("corrupt", "bytes", "value", "drop", "categories")))
    if how == "corrupt":
        name = draw(st.sampled_from(sorted(CORRUPTIONS)))
        rng = random.Random(draw(st.integers(0, 2**32)))
        valid = _sketch_of(attributes) or bytes.fromhex("05010f00c80008008813000000000000c8000500")
        broken = CORRUPTIONS[name](rng, valid)
        attributes[attr.SUMMARY_SKETCH] = base64.b64encode(broken).decode()
    elif how == "bytes":
        attributes[attr.SUMMARY_SKETCH] = base64.b64encode(draw(st.binary(max_size=300))).decode()
    elif how == "value":
        attributes[draw(summary_keys)] = draw(attribute_values)
    elif how == "drop":
        key = draw(st.sampled_from(sorted(attributes)))
        del attributes[key]
    else:
        attributes[attr.SUMMARY_CATEGORIES] = json.dumps(draw(json_values))
    return attributes
