"""The registry's answers as JSON-ready dicts: model list, versions table, one version.

``ModelQueries`` joins the registry (versions, metrics, serving, tags) with the lineage
store (code versions, data paths) and the performance processor (online metrics), each
optional. Unknown names raise ``UnknownModelError``, ambiguous ones
``AmbiguousModelError``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mlspan.collector.models import lineage_links, search
from mlspan.collector.models.metrics import (
    Metric,
    best_version,
    key_metric,
    latest,
    with_stderr,
)
from mlspan.collector.models.params import parse
from mlspan.collector.models.records import STAGE_TAGS, VersionRef, VersionRow
from mlspan.collector.models.registry import ModelRegistry
from mlspan.collector.store import Store
from mlspan.semconv import attributes as attr

PerformanceSource = Callable[[], Any]
"""Returns the performance processor (or None) when asked."""


class ModelQueries:
    """See the module docstring."""

    def __init__(
        self,
        registry: ModelRegistry,
        store: Store | None = None,
        performance: PerformanceSource | None = None,
    ) -> None:
        self.registry = registry
        self.store = store
        self._performance = performance

    # -- metrics --------------------------------------------------------------------------
    def metrics_of(self, rows: Sequence[VersionRow]) -> dict[str, list[Metric]]:
        """Latest metrics per digest: stored ones, the search's best, online results."""
        stored = self.registry.metrics(r.ref.digest for r in rows)
        found: dict[str, list[Metric]] = {}
        for row in rows:
            table = search.parse_table(row.search)
            splits = _splits(table)
            metrics = []
            for m in stored.get(row.ref.digest, []):
                stderr = None
                if m.source == "search" and table is not None:
                    stderr = search.best_stderr(table, splits)
                metrics.append(
                    with_stderr(
                        Metric(m.source, m.metric, m.value, m.rows, m.dataset, m.at_ns, stderr)
                    )
                )
            metrics += self._online(row.ref)
            found[row.ref.digest] = latest(metrics)
        return found

    def _online(self, ref: VersionRef) -> list[Metric]:
        processor = self._performance() if self._performance is not None else None
        if processor is None:
            return []
        try:
            results = processor.results(None, None, ref.digest)
        except Exception:
            return []
        metrics: list[Metric] = []
        for result in results:
            for name, value in result.metrics.items():
                if isinstance(value, float) and math.isfinite(value):
                    metrics.append(with_stderr(Metric("online", name, value, result.count, "", 0)))
        return metrics

    # -- views ----------------------------------------------------------------------------
    def models(self, service: str | None = None) -> dict[str, Any]:
        """Every model with its version count, latest version and tags."""
        listed = []
        for service_name, name in self.registry.models():
            if service and service_name != service:
                continue
            rows = self.registry.versions(service_name, name)
            if not rows:
                continue
            metrics = self.metrics_of(rows)
            key = key_metric(metrics)
            best = best_version(metrics, key)
            tags = self.registry.tags(service_name, name)
            last = rows[-1]
            listed.append(
                {
                    "service": service_name,
                    "model": name,
                    "class": last.model_class,
                    "versions": len(rows),
                    "latest": last.ref.label,
                    "last_fit": last.last_fit_ns / 1e9,
                    "key_metric": _key_json(key),
                    "best": _label(rows, best),
                    "stages": {
                        tag: _label(rows, digest)
                        for digest, held in tags.items()
                        for tag in held
                        if tag in STAGE_TAGS
                    },
                }
            )
        return {"models": listed}

    def model(self, name: str, service: str | None = None) -> dict[str, Any]:
        """The versions table of one model with key metrics, the best version marked."""
        service_name, model = self.registry.find_model(name, service)
        rows = self.registry.versions(service_name, model)
        metrics = self.metrics_of(rows)
        key = key_metric(metrics)
        best = best_version(metrics, key)
        tags = self.registry.tags(service_name, model)
        versions = []
        for row in rows:
            versions.append(
                {
                    **_ref_json(row.ref),
                    "class": row.model_class,
                    "first_fit": row.first_fit_ns / 1e9,
                    "fits": row.fits,
                    "fit_seconds": row.fit_seconds,
                    "train_digest": row.train_digest or None,
                    "train_rows": row.rows,
                    "params": parse(row.params),
                    "metrics": [_metric_json(m) for m in metrics[row.ref.digest]],
                    "best": row.ref.digest == best,
                    "tags": tags.get(row.ref.digest, []),
                    "serving": [s.service for s in self.registry.serving(row.ref.digest)],
                }
            )
        return {
            "service": service_name,
            "model": model,
            "key_metric": _key_json(key),
            "best": _label(rows, best),
            "versions": versions,
        }

    def row(self, ref: VersionRef) -> VersionRow:
        """The stored row of ``ref``."""
        for row in self.registry.versions(ref.service, ref.name):
            if row.ref == ref:
                return row
        raise LookupError(f"{ref.name} {ref.label} is not stored")

    def version(self, name: str, version: str, service: str | None = None) -> dict[str, Any]:
        """Everything known about one version."""
        ref = self.registry.resolve(name, version, service)
        row = self.row(ref)
        metrics = self.metrics_of([row])[ref.digest]
        code = lineage_links.code_version(self.store, row.run_id, row.trace_id, row.parent_id)
        data = [row.train_digest, row.target_digest]
        validation = sorted({m.dataset for m in metrics if m.dataset and m.dataset not in data})
        known = lineage_links.names(self.store, [*data, *validation])
        table = search.parse_table(row.search)
        return {
            **_ref_json(ref),
            "class": row.model_class,
            "params": parse(row.params),
            "first_fit": row.first_fit_ns / 1e9,
            "last_fit": row.last_fit_ns / 1e9,
            "fits": row.fits,
            "fit_seconds": row.fit_seconds,
            "run_id": row.run_id,
            "trace_id": row.trace_id,
            "code": None
            if code is None
            else {
                "commit": code.commit or None,
                "digest": code.digest or None,
                "component": code.component,
                "run_id": code.run_id,
            },
            "training": {
                "digest": row.train_digest or None,
                "target_digest": row.target_digest or None,
                "rows": row.rows,
                "columns": row.columns,
                "names": known.get(row.train_digest, []),
                "produced_by": [
                    lineage_links.run_brief(r)
                    for r in lineage_links.producers(self.store, row.train_digest)
                ],
            },
            "validation": [{"digest": d, "names": known.get(d, [])} for d in validation],
            "features": feature_schema(row.summaries),
            "metrics": [_metric_json(m) for m in metrics],
            "search": None
            if table is None
            else {
                "candidates": len(table["params"]),
                "omitted": table.get("omitted", 0),
                "effects": [e.text for e in search.marginal_effects(table, _splits(table))[:20]],
            },
            "framework_version": row.framework_version or None,
            "libraries": libraries_of(row.libraries),
            "serving": [
                {
                    "service": s.service,
                    "first_seen": s.first_ns / 1e9,
                    "last_seen": s.last_ns / 1e9,
                    "calls": s.calls,
                }
                for s in self.registry.serving(ref.digest)
            ],
            "tags": self.registry.tags(ref.service, ref.name).get(ref.digest, []),
        }

    def tag(
        self, name: str, version: str, add: list[str], remove: list[str], service: str | None
    ) -> dict[str, Any]:
        """Add and remove tags of a version (stage tags move)."""
        ref = self.registry.resolve(name, version, service)
        return {**_ref_json(ref), "tags": self.registry.set_tags(ref, add, remove)}


def feature_schema(summaries: str) -> list[dict[str, Any]]:
    """Name, kind, dtype and origin of each summarised training feature."""
    try:
        items = json.loads(summaries or "[]")
    except ValueError:
        return []
    schema = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping):
            schema.append(
                {
                    "name": item.get(attr.FEATURE_NAME),
                    "kind": item.get(attr.FEATURE_KIND),
                    "dtype": item.get(attr.FEATURE_DTYPE),
                    "origin": item.get(attr.FEATURE_ORIGIN),
                }
            )
    return schema


def _splits(table: dict[str, Any] | None) -> int | None:
    if table is None:
        return None
    splits = table.get("splits")
    return splits if isinstance(splits, int) and not isinstance(splits, bool) else None


def libraries_of(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _ref_json(ref: VersionRef) -> dict[str, Any]:
    return {
        "service": ref.service,
        "model": ref.name,
        "version": ref.label,
        "sequence": ref.sequence,
        "digest": ref.digest,
    }


def _metric_json(metric: Metric) -> dict[str, Any]:
    return {
        "source": metric.source,
        "metric": metric.metric,
        "label": metric.label,
        "value": metric.value,
        "rows": metric.rows,
        "dataset": metric.dataset or None,
        "stderr": metric.stderr,
    }


def _key_json(key: tuple[str, str, str] | None) -> dict[str, Any] | None:
    if key is None:
        return None
    return {"source": key[0], "metric": key[1], "dataset": key[2] or None}


def _label(rows: Sequence[VersionRow], digest: str | None) -> str | None:
    for row in rows:
        if row.ref.digest == digest:
            return row.ref.label
    return None
