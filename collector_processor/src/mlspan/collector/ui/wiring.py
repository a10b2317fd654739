"""Builds the UI's sources from a running collector and registers its pages.

Called by ``Service`` once the components have started and before the API serves, with
the router every component registered its routes on.
"""

from __future__ import annotations

from typing import Final

from mlspan.collector.api.router import Router
from mlspan.collector.lineage.processor import LineageConfig
from mlspan.collector.lineage.queries import DEFAULT_STALE_DAYS, LineageQueries
from mlspan.collector.pipeline.factory import Host, Kind
from mlspan.collector.service.config import CollectorConfig
from mlspan.collector.service.service import ALERTS_KEY, DRIFT_ENGINE_KEY
from mlspan.collector.ui.routes import register_ui_routes
from mlspan.collector.ui.sources import UiSources

MODELS_KEY: Final = "models"
EXPERIMENTS_KEY: Final = "experiments"
PERFORMANCE_KEY: Final = "performance"
"""``Host.extras`` keys of the model registry, the experiments and performance processors."""


def stale_after_days(config: CollectorConfig) -> float:
    """The lineage processor's staleness age, so pages warn as the API does."""
    for spec in config.components[Kind.PROCESSOR].values():
        if isinstance(spec.config, LineageConfig):
            return spec.config.stale_after_days
    return DEFAULT_STALE_DAYS


def register_ui(router: Router, config: CollectorConfig, host: Host) -> None:
    """Register the web UI's pages on ``router``, reading from ``host``'s parts."""
    if host.store is None:
        return
    extras = host.extras
    sources = UiSources(
        queries=LineageQueries(host.store, stale_after_days(config)),
        stats=host.stats,
        config=config.ui,
        writes_enabled=config.api.writes.enabled,
        drift=lambda: extras.get(DRIFT_ENGINE_KEY),
        alerts=lambda: extras.get(ALERTS_KEY),
        models=lambda: extras.get(MODELS_KEY),
        experiments=lambda: extras.get(EXPERIMENTS_KEY),
        performance=lambda: extras.get(PERFORMANCE_KEY),
    )
    register_ui_routes(router, sources)
