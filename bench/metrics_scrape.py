"""Cost of one ``/metrics`` scrape, computed at scrape time from the drift results.

Builds latest drift results for M models (one service each, so the per-service cap does
not cut) x F features x 12 drift metrics (plus one validation check per feature and the
ingest counters), registers the mlspan collector
and times ``generate_latest`` (what ``GET /metrics`` runs), with and without the
cardinality cap cutting. Run: ``.venv/bin/python bench/metrics_scrape.py``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, generate_latest

from mlspan.collector.drift.results import (
    DatasetDrift,
    FeatureDrift,
    MetricResult,
    ModelKey,
    ValidationResult,
)
from mlspan.collector.metrics import MetricsConfig, MlspanCollector
from mlspan.collector.pdata.stats import IngestStats

METRICS = (
    "wasserstein_sigma",
    "psi",
    "ks",
    "js",
    "hellinger",
    "mean_change_sigma",
    "std_change",
    "skew_change",
    "kurtosis_change",
    "null_rate_change",
    "linf",
    "chi2_p",
)
ROUNDS = 15


class Results:
    def __init__(self, models: int, features: int) -> None:
        self.drift: list[DatasetDrift] = []
        self.validation: list[ValidationResult] = []
        for m in range(models):
            key = ModelKey(f"svc{m}", f"model{m}", "1")  # one service per model
            feats = tuple(
                FeatureDrift(
                    f"feature{f}",
                    "numerical",
                    "input",
                    tuple(MetricResult(n, 0.01 * f, 0.1, None, False) for n in METRICS),
                    False,
                    f"feature{f}: ok",
                    1000,
                    1000,
                )
                for f in range(features)
            )
            self.drift.append(DatasetDrift(key, 0.0, 1.0, feats, 0.0, False, "ok"))
            self.validation += [
                ValidationResult(key, f"feature{f}", "range", True, 0.0, 1.0, "ok")
                for f in range(features)
            ]

    def latest_drift(self) -> Sequence[DatasetDrift]:
        return self.drift

    def latest_validation(self) -> Sequence[ValidationResult]:
        return self.validation


def scrape_ms(results: Results, cap: int) -> tuple[float, int]:
    stats = IngestStats()
    stats.spans_received("otlp_grpc", 10**6)
    registry = CollectorRegistry()
    registry.register(MlspanCollector(stats, MetricsConfig(cap), drift=lambda: results))
    size = len(generate_latest(registry))
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        generate_latest(registry)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3, size


def main() -> None:
    print(f"{'models x features':>18} {'series':>8} {'cap':>7} {'scrape ms':>10} {'body KB':>8}")
    for models, features in ((1, 20), (10, 50), (50, 100)):
        results = Results(models, features)
        series = models * features * (len(METRICS) + 2) + models * 2
        for cap in (10_000, 1_000):
            ms, size = scrape_ms(results, cap)
            label = f"{models} x {features}"
            print(f"{label:>18} {series:>8,} {cap:>7,} {ms:>10.1f} {size / 1024:>8.0f}")


if __name__ == "__main__":
    main()
