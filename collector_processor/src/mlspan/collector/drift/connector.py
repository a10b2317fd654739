"""The ``drift`` connector: traces in, drift and validation results out.

Created from the ``connectors.drift`` config section. It owns the ``DriftEngine``, puts it
in ``host.extras["drift_engine"]`` for the alerting and Prometheus components, keeps
its baselines and results in ``drift.sqlite`` in the data folder, and registers the
query routes when the host has an API router. Batches are passed on unchanged to the
next consumer, if any.
"""

from __future__ import annotations

from typing import Final

from mlspan.collector.drift.config import DriftConfig
from mlspan.collector.drift.engine import DriftEngine, ValidationConfigs
from mlspan.collector.drift.store import ResultStore
from mlspan.collector.pdata import TraceBatch, TracesConsumer
from mlspan.collector.pipeline.factory import Factory, Host, Kind

ENGINE_KEY: Final = "drift_engine"
"""``host.extras`` key of the engine."""

STORE_FILE: Final = "drift.sqlite"


class DriftConnector:
    """Pipeline component wrapping the engine."""

    def __init__(self, engine: DriftEngine, next_consumer: TracesConsumer | None) -> None:
        self.engine = engine
        self._next = next_consumer

    def start(self) -> None:
        """Start the engine's worker."""
        self.engine.start()

    def shutdown(self) -> None:
        """Process queued batches and stop (idempotent)."""
        self.engine.shutdown()

    def consume(self, batch: TraceBatch) -> None:
        """Queue ``batch`` for the engine and pass it on."""
        self.engine.consume(batch)
        if self._next is not None:
            self._next.consume(batch)


def create_drift_connector(
    config: DriftConfig, host: Host, next_consumer: TracesConsumer | None
) -> DriftConnector:
    """Build the engine with its store, publish it on the host and register routes."""
    validation = ValidationConfigs(config)  # a bad file stops startup, naming the key
    store = ResultStore(host.data_dir / STORE_FILE, config.history) if config.persist else None
    engine = DriftEngine(config, host.stats, store, validation=validation)
    host.extras[ENGINE_KEY] = engine
    if host.router is not None:
        from mlspan.collector.drift.routes import register_drift_routes

        register_drift_routes(host.router, engine)
    return DriftConnector(engine, next_consumer)


def drift_factory() -> Factory[DriftConfig]:
    """The ``drift`` connector factory."""
    return Factory(Kind.CONNECTOR, "drift", DriftConfig, create_drift_connector)
