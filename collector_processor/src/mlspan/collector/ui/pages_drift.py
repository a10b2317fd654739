"""Drift pages: every model version with its latest result; per version the feature table
with each feature's metric over the kept windows; per feature the reference and
current distributions drawn from the summaries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mlspan.collector.api.router import NotFoundError, Request, Response
from mlspan.collector.drift.engine import DriftEngine, Result
from mlspan.collector.drift.results import FeatureDrift, MetricResult, ModelKey
from mlspan.collector.drift.selection import Selection
from mlspan.collector.ui import charts
from mlspan.collector.ui.page import Pages
from mlspan.collector.ui.templating import svg
from mlspan.summaries import CategoricalSummary, NumericalSummary

PRIMARY_METRICS: Final = ("wasserstein_sigma", "js", "psi", "ks")
"""The metric a feature's history chart follows: the first of these it has."""
TABLE_METRICS: Final = (
    ("wasserstein_sigma", "W/σ"),
    ("js", "JS"),
    ("psi", "PSI"),
    ("ks", "KS"),
)


@dataclass(frozen=True)
class FeatureRow:
    """One line of a model's feature table."""

    feature: FeatureDrift
    metrics: dict[str, MetricResult]
    chart: object
    window_state: str


def primary(feature: FeatureDrift) -> MetricResult | None:
    """The metric the history chart of ``feature`` follows."""
    by_name = {m.name: m for m in feature.metrics}
    for name in PRIMARY_METRICS:
        if name in by_name:
            return by_name[name]
    return feature.metrics[0] if feature.metrics else None


def latest(engine: DriftEngine, selection: Selection) -> dict[ModelKey, tuple[Result, str]]:
    """Per model: its latest closed window's result, else its open window evaluated now."""
    found: dict[ModelKey, tuple[Result, str]] = {}
    for result in engine.history(selection):
        found[result[0].key] = (result, "closed")
    for result in engine.evaluate(selection, skip=found.keys()):
        found[result[0].key] = (result, "open")
    return found


class DriftPages(Pages):
    """``/ui/drift``, ``/ui/drift/model`` and ``/ui/drift/feature``."""

    def _engine(self) -> DriftEngine:
        engine = self.sources.drift()
        if engine is None:
            raise NotFoundError("the drift connector is not running on this collector")
        return engine

    def models(self, request: Request) -> Response:
        """Every model version the engine knows, with its latest result."""
        engine = self.sources.drift()
        rows = []
        if engine is not None:
            results = latest(engine, Selection())
            for key in engine.models():
                rows.append((key, results.get(key)))
        return self.render("drift.html", title="Drift", running=engine is not None, rows=rows)

    def _selection(self, request: Request) -> Selection:
        params = request.params
        return Selection(params["service"], params["model"], params["version"])

    def model(self, request: Request) -> Response:
        """A model version's features: latest metrics, decision, insight, history chart."""
        engine = self._engine()
        selection = self._selection(request)
        key = ModelKey(selection.service or "", selection.model or "", selection.version or "")
        history = [r for r in engine.history(selection) if r[0].key == key]
        now = [r for r in engine.evaluate(selection) if r[0].key == key]
        if not history and not now:
            raise NotFoundError(f"no drift results for {selection.describe()}")
        shown, state = (now[-1], "open") if now else (history[-1], "closed")
        series = [*history, *now]
        rows = []
        for feature in shown[0].features:
            points, flags = [], []
            for drift, _ in series:
                match = next(
                    (
                        f
                        for f in drift.features
                        if f.feature == feature.feature and f.origin == feature.origin
                    ),
                    None,
                )
                metric = primary(match) if match else None
                points.append(metric.value if metric else None)
                flags.append(bool(match and match.drifted))
            metric = primary(feature)
            label = f"{feature.feature}: {metric.name if metric else 'no metric'} per window"
            chart = svg(
                charts.sparkline(points, metric.threshold if metric else None, flags, label=label)
            )
            rows.append(FeatureRow(feature, {m.name: m for m in feature.metrics}, chart, state))
        return self.render(
            "drift_model.html",
            title=f"Drift of {key.model_name} {key.model_version}",
            key=key,
            drift=shown[0],
            validation=shown[1],
            state=state,
            windows=len(series),
            rows=rows,
            metric_columns=TABLE_METRICS,
        )

    def feature(self, request: Request) -> Response:
        """Reference and current distributions of one feature, from the summaries."""
        engine = self._engine()
        selection = self._selection(request)
        key = ModelKey(selection.service or "", selection.model or "", selection.version or "")
        name, origin = request.params["feature"], request.params["origin"]
        baseline, current = engine.summaries(key)
        reference_summary = baseline.get((name, origin))
        current_summary = current.get((name, origin))
        if reference_summary is None and current_summary is None:
            raise NotFoundError(f"no summaries of feature '{name}' ({origin}) for {key}")
        title = f"{name}: reference and current"
        ref_stats = reference_summary.stats if reference_summary else None
        cur_stats = current_summary.stats if current_summary else None
        if isinstance(ref_stats or cur_stats, NumericalSummary):
            chart = charts.numeric_overlay(
                ref_stats if isinstance(ref_stats, NumericalSummary) else None,
                cur_stats if isinstance(cur_stats, NumericalSummary) else None,
                title,
            )
            kind = "numerical"
        else:
            chart = charts.category_bars(
                ref_stats if isinstance(ref_stats, CategoricalSummary) else None,
                cur_stats if isinstance(cur_stats, CategoricalSummary) else None,
                title,
            )
            kind = "categorical"
        results = latest(engine, selection).get(key)
        drift = None
        if results is not None:
            drift = next(
                (f for f in results[0][0].features if f.feature == name and f.origin == origin),
                None,
            )
        return self.render(
            "drift_feature.html",
            title=f"{name} of {key.model_name} {key.model_version}",
            key=key,
            name=name,
            origin=origin,
            kind=kind,
            chart=svg(chart),
            drift=drift,
            reference=ref_stats,
            current=cur_stats,
        )
