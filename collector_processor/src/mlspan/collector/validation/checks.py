"""Schema checks and summary-metric benchmarks of current summaries against a baseline.

Every check yields a ``ValidationResult``, passed or not, so consumers see failures
resolve. Expectations come from the config's explicit schema and, when ``infer`` is on,
from the baseline: its columns, kinds, dtypes, null rates, ranges and categories.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from typing import Final

import numpy as np

from mlspan.collector.drift.categorical import category_counts
from mlspan.collector.drift.decision import percent_text
from mlspan.collector.drift.results import ModelKey, ValidationResult
from mlspan.collector.validation.config import ColumnSpec, ValidationConfig
from mlspan.summaries import CategoricalSummary, FeatureSummary, NumericalSummary

LOCATION_METRICS: Final = ("mean", "median", "min", "max")
"""Metrics with a standardised companion (change over the baseline std)."""
EXAMPLES: Final = 3
"""Unseen categories named in an insight."""
EXAMPLE_TEXT: Final = 64
"""Characters of each named category kept in an insight."""


def validate(
    key: ModelKey,
    baseline: Mapping[str, FeatureSummary],
    current: Mapping[str, FeatureSummary],
    config: ValidationConfig,
) -> list[ValidationResult]:
    """Every check for the input features of one model: ``baseline`` may be empty."""
    schema = config.schema
    expected = dict.fromkeys(schema.columns)
    if schema.infer:
        expected.update(dict.fromkeys(baseline))
    results: list[ValidationResult] = []
    for name in expected:
        present = name in current
        insight = f"{name}: column {'present' if present else 'missing from current data'}"
        results.append(
            ValidationResult(
                key,
                name,
                "missing_column",
                present,
                "present" if present else "absent",
                "present",
                insight,
            )
        )
    if expected and not schema.allow_extra_columns:
        for name in current:
            extra = name not in expected
            insight = f"{name}: {'unexpected column' if extra else 'expected column'}"
            results.append(
                ValidationResult(
                    key,
                    name,
                    "extra_column",
                    not extra,
                    "extra" if extra else "expected",
                    "expected",
                    insight,
                )
            )
    for name, summary in current.items():
        spec = schema.columns.get(name, ColumnSpec())
        reference = baseline.get(name) if schema.infer else None
        results.extend(_column_checks(key, name, summary, spec, reference, config))
    for name, summary in current.items():
        reference = baseline.get(name)
        if reference is not None:
            results.extend(metric_changes(key, reference, summary, config))
    return results


def _column_checks(
    key: ModelKey,
    name: str,
    summary: FeatureSummary,
    spec: ColumnSpec,
    reference: FeatureSummary | None,
    config: ValidationConfig,
) -> list[ValidationResult]:
    schema = config.schema
    out: list[ValidationResult] = []
    expected_kind = spec.type or (reference.kind.value if reference is not None else None)
    if expected_kind is not None and expected_kind != "ignore":
        observed = _type_text(summary.kind.value, summary.dtype)
        wanted_dtype = reference.dtype if reference is not None else ""
        limit = _type_text(expected_kind, wanted_dtype)
        same = summary.kind.value == expected_kind and (
            not wanted_dtype or not summary.dtype or wanted_dtype == summary.dtype
        )
        verdict = "unchanged" if same else "changed"
        insight = f"{name}: type {observed}, expected {limit} -> {verdict}"
        out.append(ValidationResult(key, name, "type_change", same, observed, limit, insight))
    limit_rate = spec.max_null_rate
    if limit_rate is None and spec.nullable is False:
        limit_rate = 0.0
    if limit_rate is None and reference is not None:
        limit_rate = min(reference.stats.null_rate + schema.null_rate_tolerance, 1.0)
    if limit_rate is not None:
        rate = summary.stats.null_rate
        ok = rate <= limit_rate + 1e-12
        insight = f"{name}: null rate {rate:.1%} (limit {limit_rate:.1%}) -> {_verdict(ok)}"
        out.append(ValidationResult(key, name, "null_rate", ok, rate, limit_rate, insight))
    stats = summary.stats
    if isinstance(stats, NumericalSummary) and stats.moments.count:
        result = _range_check(key, name, stats, spec, reference, schema.out_of_range_share)
        if result is not None:
            out.append(result)
    if isinstance(stats, CategoricalSummary):
        result = _category_check(key, name, stats, spec, reference, schema.unseen_share)
        if result is not None:
            out.append(result)
    return out


def _range_check(
    key: ModelKey,
    name: str,
    stats: NumericalSummary,
    spec: ColumnSpec,
    reference: FeatureSummary | None,
    default_share: float,
) -> ValidationResult | None:
    base = reference.stats if reference is not None else None
    base_moments = base.moments if isinstance(base, NumericalSummary) else None
    low = spec.min if spec.min is not None else (base_moments.min if base_moments else None)
    high = spec.max if spec.max is not None else (base_moments.max if base_moments else None)
    if low is None and high is None:
        return None
    low = -math.inf if low is None else low
    high = math.inf if high is None else high
    sketch = stats.sketch()
    below, at_or_below = (
        sketch.get_cdf(np.array([low]), False)[0] if math.isfinite(low) else 0.0,
        sketch.get_cdf(np.array([high]), True)[0] if math.isfinite(high) else 1.0,
    )
    share = float(below + (1.0 - at_or_below))
    if stats.moments.min >= low and stats.moments.max <= high:
        share = 0.0
    limit = (
        spec.max_out_of_range_share if spec.max_out_of_range_share is not None else default_share
    )
    ok = share <= limit
    insight = (
        f"{name}: {share:.1%} of values outside [{low:g}, {high:g}] (accepted {limit:.1%}),"
        f" current range [{stats.moments.min:g}, {stats.moments.max:g}] -> {_verdict(ok)}"
    )
    return ValidationResult(key, name, "range", ok, share, limit, insight)


def _category_check(
    key: ModelKey,
    name: str,
    stats: CategoricalSummary,
    spec: ColumnSpec,
    reference: FeatureSummary | None,
    default_share: float,
) -> ValidationResult | None:
    allowed: set[str] | None = set(spec.allowed) if spec.allowed is not None else None
    base = reference.stats if reference is not None else None
    if allowed is None and isinstance(base, CategoricalSummary) and base.exact:
        allowed = set(base.counts)
    if allowed is None:
        return None
    counts = category_counts(stats)
    total = sum(counts.values())
    unseen = {c: n for c, n in stats.counts.items() if c not in allowed}
    share = sum(unseen.values()) / total if total else 0.0
    limit = spec.max_unseen_share if spec.max_unseen_share is not None else default_share
    ok = share <= limit
    # Labels come from requests: up to 2**20 of them, each as long as a span allows, so
    # the three most frequent are picked without a full sort and shortened.
    frequent = heapq.nlargest(EXAMPLES, unseen, key=unseen.__getitem__)
    examples = ", ".join(_shorten(label) for label in frequent)
    insight = f"{name}: unseen categories {share:.1%} (accepted {limit:.1%})"
    insight += f" e.g. {examples} -> {_verdict(ok)}" if examples else f" -> {_verdict(ok)}"
    return ValidationResult(key, name, "unseen_categories", ok, share, limit, insight)


def summary_metric(summary: FeatureSummary, metric: str) -> float | None:
    """The value of one benchmarked summary metric, None where it does not apply."""
    stats = summary.stats
    if metric == "null_rate":
        return stats.null_rate
    if not isinstance(stats, NumericalSummary) or stats.moments.count == 0:
        return None
    moments = stats.moments
    if metric == "median":
        return float(stats.sketch().get_quantile(0.5))
    values = {"mean": moments.mean, "std": moments.std, "min": moments.min, "max": moments.max}
    return values.get(metric)


def metric_changes(
    key: ModelKey, reference: FeatureSummary, current: FeatureSummary, config: ValidationConfig
) -> list[ValidationResult]:
    """The Oracle-style benchmark: accepted change per summary metric.

    Changes are relative to the baseline value in percent, except the null rate, whose
    change is in percentage points. Location metrics pass as well when their change is
    within ``accepted_change_sigma`` baseline standard deviations, so a tiny shift of a
    zero-mean feature is not failed for its huge percentage.
    """
    out: list[ValidationResult] = []
    ref_stats = reference.stats
    scale = ref_stats.moments.std if isinstance(ref_stats, NumericalSummary) else 0.0
    for metric, accepted in config.accepted_for(current.name).items():
        before, after = summary_metric(reference, metric), summary_metric(current, metric)
        if before is None or after is None:
            continue
        if metric == "null_rate":
            change = (after - before) * 100.0
            text = f"{change:+.3g} pp"
        elif before != 0:
            change = (after - before) / abs(before) * 100.0
            text = percent_text(change)
        else:
            change = 0.0 if after == before else math.inf
            text = "+0 %" if after == before else "from 0"
        ok = abs(change) <= accepted
        insight = f"{current.name}: {metric} {text} (accepted {accepted:g} %)"
        if metric in LOCATION_METRICS and scale > 0:
            sigma = (after - before) / scale
            ok = ok or abs(sigma) <= config.accepted_change_sigma
            insight += f", {sigma:+.2f} sigma (accepted {config.accepted_change_sigma:g})"
        insight += f" -> {_verdict(ok)}"
        observed = change if math.isfinite(change) else text
        out.append(
            ValidationResult(
                key, current.name, f"metric_change:{metric}", ok, observed, accepted, insight
            )
        )
    return out


def _shorten(label: str) -> str:
    return label if len(label) <= EXAMPLE_TEXT else label[: EXAMPLE_TEXT - 3] + "..."


def _type_text(kind: str, dtype: str) -> str:
    return f"{kind} ({dtype})" if dtype else kind


def _verdict(ok: bool) -> str:
    return "ok" if ok else "fail"
