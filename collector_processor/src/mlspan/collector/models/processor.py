"""The ``models`` processor: fit, score, predict and component spans in, the model
registry out.

Created from the ``processors.models`` config section. Each batch is scanned
(``extract``) and handed to the ``ModelRegistry``, kept in ``models.sqlite`` in the data
folder; batches pass on unchanged. The processor publishes the registry as
``host.extras["models"]`` (the read interface other components name versions with),
and registers its query routes and Prometheus families. Nothing here raises into
ingest: a malformed span is counted and skipped, any other failure is logged.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Final

from mlspan.collector.models.config import ModelsConfig
from mlspan.collector.models.extract import extract
from mlspan.collector.models.registry import ModelRegistry
from mlspan.collector.models.store import ModelStore
from mlspan.collector.pdata import TraceBatch, TracesConsumer
from mlspan.collector.pipeline.factory import Factory, Host, Kind

logger = logging.getLogger(__name__)

MODELS_KEY: Final = "models"
"""``host.extras`` key of the registry (a ``ModelRegistry``)."""
PERFORMANCE_KEY: Final = "performance"
STORE_FILE: Final = "models.sqlite"


class ModelsProcessor:
    """See the module docstring."""

    def __init__(
        self,
        config: ModelsConfig,
        registry: ModelRegistry,
        store: ModelStore,
        next_consumer: TracesConsumer | None,
    ) -> None:
        self.config = config
        self.registry = registry
        self._store: ModelStore | None = store
        self._next = next_consumer
        self._lock = threading.Lock()

    def start(self) -> None:
        """Read the stored registry."""
        self.registry.load()

    def shutdown(self) -> None:
        """Write pending serving counts and close the store (idempotent)."""
        with self._lock:
            store, self._store = self._store, None
        if store is None:
            return
        try:
            self.registry.flush_serving()
        except Exception:
            logger.exception("models: writing serving counts at shutdown failed")
        store.close()

    def consume(self, batch: TraceBatch) -> None:
        """Register what the batch says about model versions, then pass it on."""
        try:
            if self._store is not None:
                self.registry.observe(extract(batch, self.config.partial_fit, self.registry.known))
        except Exception:
            logger.exception("models: processing a batch failed")
        if self._next is not None:
            self._next.consume(batch)


def create_models_processor(
    config: ModelsConfig, host: Host, next_consumer: TracesConsumer | None
) -> ModelsProcessor:
    """Build the processor with its store, publish the registry, register routes and
    metrics."""
    store = ModelStore(host.data_dir / STORE_FILE if config.persist else None)
    registry = ModelRegistry(store, config)
    host.extras[MODELS_KEY] = registry
    if host.router is not None:
        from mlspan.collector.models.queries import ModelQueries
        from mlspan.collector.models.routes import register_model_routes

        extras = host.extras

        def performance() -> Any:
            return extras.get(PERFORMANCE_KEY)

        register_model_routes(host.router, ModelQueries(registry, host.store, performance))
    if host.registry is not None:
        from mlspan.collector.models.prometheus import ModelMetrics

        host.registry.register(ModelMetrics(registry))
    return ModelsProcessor(config, registry, store, next_consumer)


def models_factory() -> Factory[ModelsConfig]:
    """The ``models`` processor factory."""
    return Factory(Kind.PROCESSOR, "models", ModelsConfig, create_models_processor)
