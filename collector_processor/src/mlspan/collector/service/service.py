"""The running collector: shared services, the component graph and their lifecycle.

``Service`` creates the shared services a ``Host`` carries (the ingest counters, a
Prometheus registry of its own with the ``/metrics`` collector, the query API router
and server, the lineage store), builds the pipelines, starts components downstream
first so nothing is accepted before its consumers run, and shuts down in the reverse
order: receivers stop accepting, processors and connectors drain into exporters,
exporters flush, then the store and the API close.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from mlspan.collector.api import ApiServer, Router
from mlspan.collector.metrics import MlspanCollector, register_metrics_route
from mlspan.collector.pdata import FastSchema
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import Factory, Host, Kind
from mlspan.collector.receivers.otlp import OtlpReceiver
from mlspan.collector.receivers.otlp.config import split_endpoint
from mlspan.collector.security.api_access import ApiAccess
from mlspan.collector.security.exposure import warn_if_exposed
from mlspan.collector.service.config import CollectorConfig
from mlspan.collector.service.graph import Graph, build_graph
from mlspan.collector.service.memory_trim import MemoryTrimmer
from mlspan.collector.service.runtime import tune_allocator, tune_process, untune_process
from mlspan.collector.store import Store, open_store

logger = logging.getLogger(__name__)

DRIFT_ENGINE_KEY = "drift_engine"
ALERTS_KEY = "alerts"
FAST_SCHEMA_KEY = "fast_schema"
METRICS_CONFIG_KEY = "metrics_config"
"""``Host.extras`` keys: the drift engine, the alerting component, the parse schema, the
``/metrics`` caps (for components exporting families of their own)."""


class Service:
    """One collector built from a validated ``CollectorConfig``."""

    def __init__(
        self,
        config: CollectorConfig,
        factories: Sequence[Factory[Any]],
        stats: IngestStats | None = None,
    ) -> None:
        self.config = config
        self._factories = tuple(factories)
        self.stats = stats or IngestStats()
        self.registry = CollectorRegistry(auto_describe=True)
        self.router: Router | None = Router() if config.api.enabled else None
        self.store: Store | None = None
        self.api: ApiServer | None = None
        self.trimmer = MemoryTrimmer(self.config.service.runtime.malloc_trim_interval_seconds)
        self.host: Host | None = None
        self.graph = Graph()
        self._lock = threading.Lock()
        self._started = False
        self._stopped = False

    @property
    def data_dir(self) -> Path:
        """The data folder."""
        return Path(self.config.data_dir).expanduser()

    def receivers(self) -> dict[str, OtlpReceiver]:
        """The running ``otlp`` receivers by id (bound ports on ``.grpc``/``.http``)."""
        return {
            component_id: component
            for component_id, component in self.graph.of_kind(Kind.RECEIVER).items()
            if isinstance(component, OtlpReceiver)
        }

    def start(self) -> None:
        """Open shared services, build and start everything; on failure undo and raise."""
        with self._lock:
            if self._started:
                return
            self._started = True
        try:
            self._start()
        except BaseException:
            self.shutdown()
            raise

    def _start(self) -> None:
        for change in tune_allocator(self.config.service.runtime):
            logger.debug("process tuning: %s", change)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        storage = self.config.storage
        self.store = open_store(storage.url or self.data_dir, password=storage.password())
        host = Host(
            data_dir=self.data_dir,
            stats=self.stats,
            store=self.store,
            registry=self.registry,
            router=self.router,
            extras={FAST_SCHEMA_KEY: FastSchema.build(), METRICS_CONFIG_KEY: self.config.metrics},
        )
        self.host = host
        self.registry.register(
            MlspanCollector(
                self.stats,
                self.config.metrics,
                drift=lambda: host.extras.get(DRIFT_ENGINE_KEY),
                alerts=lambda: host.extras.get(ALERTS_KEY),
            )
        )
        build_graph(self.config, host, self.graph)
        for kind, component_id, component in self.graph.started_order:
            logger.debug("starting %s %s", kind.value, component_id)
            component.start()
        if self.router is not None:
            register_metrics_route(self.router, self.registry)
            if self.config.ui.enabled:
                from mlspan.collector.ui.wiring import register_ui

                register_ui(self.router, self.config, host)
            api = self.config.api
            host_name, port = split_endpoint(api.endpoint, "api.endpoint")
            access = ApiAccess.from_config(api.auth, api.writes)
            authenticated = not access.open_to_anyone
            warn_if_exposed("query API", host_name, authenticated, encrypted=api.tls is not None)
            self.api = ApiServer(host_name, port, self.router, access, api.tls, api.limits)
            self.api.start()
        for change in tune_process(self.config.service.runtime):
            logger.debug("process tuning: %s", change)
        self.trimmer.start()
        logger.info("collector started (data folder %s)", self.data_dir)

    def shutdown(self) -> None:
        """Stop receivers, drain and flush everything, close the store; idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        for kind, component_id, component in reversed(self.graph.started_order):
            try:
                component.shutdown()
            except Exception:
                logger.exception("shutting down %s %s failed", kind.value, component_id)
        if self.api is not None:
            self.api.shutdown()
        if self.store is not None:
            try:
                self.store.close()
            except Exception:
                logger.exception("closing the store failed")
        self.trimmer.stop()
        untune_process(self.config.service.runtime)
        logger.info("collector stopped")
