"""``diff`` of two versions of a model, and which parameters moved its key metric.

A diff names the parameters that changed, the training data (digests, rows, columns,
per-feature drift between the two training sets, see ``data_drift``), the code (commit
and source digest from lineage) and every metric both versions have, as B - A with a
95 % interval where both standard errors are known.

``parameter_effects`` reads a model's whole history: for every pair of versions trained
on the same data whose parameters differ in exactly one, the key metric's change, in
plain words (``max_depth 3 -> 8: accuracy +0.021 ± 0.006``); a search's candidates give
the same per-parameter effects from its results table (``search.marginal_effects``).
"""

from __future__ import annotations

from typing import Any

from mlspan.collector.drift.results import ModelKey
from mlspan.collector.models import lineage_links, params, search
from mlspan.collector.models.data_drift import training_drift
from mlspan.collector.models.metrics import Metric, delta_interval, key_metric
from mlspan.collector.models.queries import ModelQueries
from mlspan.collector.models.records import VersionRow


def diff(queries: ModelQueries, name: str, a: str, b: str, service: str | None) -> dict[str, Any]:
    """Everything that differs between versions ``a`` and ``b`` of ``name``."""
    registry = queries.registry
    ref_a, ref_b = registry.resolve(name, a, service), registry.resolve(name, b, service)
    row_a, row_b = queries.row(ref_a), queries.row(ref_b)
    changes = params.diff(
        params.flatten(params.parse(row_a.params)), params.flatten(params.parse(row_b.params))
    )
    metrics = queries.metrics_of([row_a, row_b])
    key = ModelKey(ref_a.service, ref_a.name, f"{ref_a.label}->{ref_b.label}")
    same_data = row_a.train_digest == row_b.train_digest and bool(row_a.train_digest)
    return {
        "service": ref_a.service,
        "model": ref_a.name,
        "a": {"version": ref_a.label, "digest": ref_a.digest},
        "b": {"version": ref_b.label, "digest": ref_b.digest},
        "params": [
            {"name": c.name, "a": c.before, "b": c.after, "change": c.change} for c in changes
        ],
        "class": {"a": row_a.model_class, "b": row_b.model_class},
        "data": {
            "same": same_data,
            "a": _data(row_a),
            "b": _data(row_b),
            "drift": None if same_data else training_drift(key, row_a.summaries, row_b.summaries),
        },
        "code": _code(queries, row_a, row_b),
        "metrics": _metric_deltas(metrics[ref_a.digest], metrics[ref_b.digest]),
    }


def _data(row: VersionRow) -> dict[str, Any]:
    return {
        "digest": row.train_digest or None,
        "target_digest": row.target_digest or None,
        "rows": row.rows,
        "columns": row.columns,
    }


def _code(queries: ModelQueries, a: VersionRow, b: VersionRow) -> dict[str, Any]:
    found = [
        lineage_links.code_version(queries.store, r.run_id, r.trace_id, r.parent_id) for r in (a, b)
    ]
    sides = [
        None if c is None else {"commit": c.commit or None, "digest": c.digest or None}
        for c in found
    ]
    same = None
    if found[0] is not None and found[1] is not None:
        same = (found[0].commit, found[0].digest) == (found[1].commit, found[1].digest)
    return {"a": sides[0], "b": sides[1], "same": same}


def _metric_deltas(a: list[Metric], b: list[Metric]) -> list[dict[str, Any]]:
    by_key = {m.key: m for m in a}
    deltas = []
    for metric in b:
        other = by_key.get(metric.key)
        if other is None:
            continue
        delta, half = delta_interval(other, metric)
        deltas.append(
            {
                "label": metric.label,
                "source": metric.source,
                "metric": metric.metric,
                "dataset": metric.dataset or None,
                "a": other.value,
                "b": metric.value,
                "delta": delta,
                "half_width": half,
                "text": _delta_text(metric.label, delta, half),
            }
        )
    return deltas


def _delta_text(label: str, delta: float, half: float | None) -> str:
    spread = "" if half is None else f" ± {half:.3g}"
    return f"{label} {delta:+.4g}{spread}"


def parameter_effects(queries: ModelQueries, name: str, service: str | None) -> dict[str, Any]:
    """Which parameters moved the key metric, across versions and within searches."""
    service_name, model = queries.registry.find_model(name, service)
    rows = queries.registry.versions(service_name, model)
    metrics = queries.metrics_of(rows)
    key = key_metric(metrics)
    effects: list[dict[str, Any]] = []
    if key is not None:
        valued = [(r, next((m for m in metrics[r.ref.digest] if m.key == key), None)) for r in rows]
        flat = {r.ref.digest: params.flatten(params.parse(r.params)) for r in rows}
        for i, (row_a, metric_a) in enumerate(valued):
            for row_b, metric_b in valued[i + 1 :]:
                if metric_a is None or metric_b is None:
                    continue
                if row_a.train_digest != row_b.train_digest:
                    continue
                changes = params.diff(flat[row_a.ref.digest], flat[row_b.ref.digest])
                if len(changes) != 1:
                    continue
                change = changes[0]
                delta, half = delta_interval(metric_a, metric_b)
                before, after = params.value_text(change.before), params.value_text(change.after)
                effects.append(
                    {
                        "parameter": change.name,
                        "a": row_a.ref.label,
                        "b": row_b.ref.label,
                        "before": change.before,
                        "after": change.after,
                        "delta": delta,
                        "half_width": half,
                        "text": f"{change.name} {before} -> {after}: "
                        + _delta_text(metric_b.label, delta, half)
                        + f" ({row_a.ref.label} -> {row_b.ref.label})",
                    }
                )
    searches = []
    for row in rows:
        table = search.parse_table(row.search)
        if table is None:
            continue
        splits = table.get("splits") if isinstance(table.get("splits"), int) else None
        searches.append(
            {
                "version": row.ref.label,
                "effects": [e.text for e in search.marginal_effects(table, splits)[:20]],
            }
        )
    return {
        "service": service_name,
        "model": model,
        "key_metric": None if key is None else {"source": key[0], "metric": key[1]},
        "versions": effects,
        "searches": searches,
    }
