"""Mergeable feature summaries: the data half of the contract between both sides.

The instrumentation builds one ``FeatureSummary`` per feature and sends it as the
attributes of a ``mlspan.feature.summary`` span event; the collector rebuilds it with
``FeatureSummary.from_attributes``, merges summaries into windows and computes drift
from them. No raw data leaves the application.
"""

from __future__ import annotations

from mlspan.summaries.categorical import DEFAULT_CARDINALITY_CAP, CategoricalSummary
from mlspan.summaries.codec import FeatureSummary, SummaryDecodeError
from mlspan.summaries.moments import Moments
from mlspan.summaries.numerical import DEFAULT_KLL_K, NumericalSummary

__all__ = [
    "DEFAULT_CARDINALITY_CAP",
    "DEFAULT_KLL_K",
    "CategoricalSummary",
    "FeatureSummary",
    "Moments",
    "NumericalSummary",
    "SummaryDecodeError",
]
