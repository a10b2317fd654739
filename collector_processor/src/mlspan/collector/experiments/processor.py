"""The ``experiments`` processor: outcomes and routed predictions in, A/B/n results out.

Created from the ``processors.experiments`` config section. Experiments come from that
section and from ``POST /api/v1/experiments``; both are kept in ``experiments.sqlite``
in the data folder with their per-arm totals, so a restart continues where it stopped
(a configured experiment whose declaration changed starts over). Each batch is scanned
(``extract``) only while some experiment is held; outcomes and predictions are
attributed to arms (``attribution``), every experiment that got outcomes is looked at
(``looks``) and saved, and the results of every experiment the batch changed are handed
to the alerting component. The processor publishes itself as
``host.extras["experiments"]``, registers its query routes and Prometheus families, and
passes batches on unchanged; nothing here raises into ingest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from mlspan.collector.experiments.attribution import attribute
from mlspan.collector.experiments.config import (
    STATE_FILE,
    ExperimentConfig,
    ExperimentsConfig,
)
from mlspan.collector.experiments.extract import scan
from mlspan.collector.experiments.looks import look
from mlspan.collector.experiments.resolution import registry_lookup, resolve
from mlspan.collector.experiments.results import ExperimentResult, experiment_result
from mlspan.collector.experiments.state import ExperimentRecord
from mlspan.collector.experiments.store import ExperimentStore
from mlspan.collector.pdata import TraceBatch, TracesConsumer
from mlspan.collector.pipeline.factory import ConfigError, Factory, Host, Kind

logger = logging.getLogger(__name__)

EXPERIMENTS_KEY: Final = "experiments"
"""``host.extras`` key of the processor."""
ALERTS_KEY: Final = "alerts"
MODELS_KEY: Final = "models"
"""``host.extras`` key of the model registry, which resolves ``NAME vN``."""


class ExperimentConflictError(ValueError):
    """A declaration clashes with a held experiment of the same name, or exceeds the cap."""


class ExperimentsProcessor:
    """See the module docstring."""

    def __init__(
        self,
        config: ExperimentsConfig,
        host: Host,
        next_consumer: TracesConsumer | None,
        store: ExperimentStore | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._host = host
        self._next = next_consumer
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, ExperimentRecord] = {}
        self.refused_spans = 0
        """Performance or prediction spans refused as malformed."""
        now = clock()
        for declared in config.experiments:
            self._records[declared.name] = ExperimentRecord(declared, "config", now)

    def start(self) -> None:
        """Restore stored experiments; a configured one keeps its state only while its
        declaration is unchanged, and API-declared ones come back as they were."""
        if self._store is None:
            return
        stored_records = list(self._store.load())
        for stored in stored_records:
            name = stored.config.name
            held = self._records.get(name)
            if held is None:
                if stored.origin == "api" and len(self._records) < self.config.max_experiments:
                    self._records[name] = stored
                continue
            if held.config == stored.config:
                self._records[name] = replace(stored, origin="config")
            else:
                logger.warning("experiments: %s was redeclared in the config; it starts over", name)
        with self._lock:
            self._resolve_all()
            records = list(self._records.values())
        self._store.save(records)
        for stored in stored_records:
            if stored.config.name not in self._records:
                self._store.delete(stored.config.name)

    def shutdown(self) -> None:
        """Close the store (idempotent)."""
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()

    def consume(self, batch: TraceBatch) -> None:
        """Attribute the batch's outcomes and predictions, then pass it on."""
        if self._records:
            try:
                self._process(batch)
            except Exception:
                logger.exception("experiments: processing a batch failed")
        if self._next is not None:
            self._next.consume(batch)

    def _process(self, batch: TraceBatch) -> None:
        bad: list[str] = []
        outcomes, assignments = scan(batch, bad)
        if bad:
            self.refused_spans += len(bad)
            logger.warning("experiments: %d span(s) refused, first: %s", len(bad), bad[0])
        if not outcomes and not assignments:
            return
        now = self._clock()
        changed: list[ExperimentRecord] = []
        with self._lock:
            self._resolve_all()
            for name, record in list(self._records.items()):
                updated, added = attribute(record, outcomes, assignments)
                if updated is record:
                    continue
                if added:
                    updated = look(updated, now)
                self._records[name] = updated
                changed.append(updated)
            if self._store is not None and changed:  # under the lock: saves stay in order
                self._store.save(changed)
        self._notify(changed)  # new predictions alone can change the split check

    def _resolve_all(self) -> None:
        """Resolve the arms not resolved yet (under the lock)."""
        lookup = None
        for name, record in self._records.items():
            config = record.config
            if not config.by_version or len(record.resolved) == len(config.arms):
                continue
            if lookup is None:
                lookup = registry_lookup(self._host.extras.get(MODELS_KEY)) or _no_lookup
            resolved = dict(record.resolved)
            for arm in config.arms:
                if arm.name not in resolved:
                    digest = resolve(arm.version, config.service, lookup)
                    if digest is not None:
                        resolved[arm.name] = digest
            if resolved != record.resolved:
                self._records[name] = replace(record, resolved=resolved)

    def _notify(self, records: list[ExperimentRecord]) -> None:
        alerts = self._host.extras.get(ALERTS_KEY)
        on_experiment = getattr(alerts, "on_experiment", None)
        if on_experiment is None:
            return
        for record in records:
            try:
                on_experiment(experiment_result(record))
            except Exception:
                logger.exception("experiments: alert evaluation failed for %s", record.config.name)

    def declare(self, declared: ExperimentConfig) -> tuple[ExperimentRecord, bool]:
        """Hold an experiment declared through the API: the record and whether it is new.
        The same declaration again is accepted unchanged; a different one under a held
        name, or one past ``max_experiments``, raises ``ExperimentConflictError``."""
        with self._lock:
            held = self._records.get(declared.name)
            if held is not None:
                if held.config == declared:
                    return held, False
                raise ExperimentConflictError(
                    f"experiment '{declared.name}' already exists ({held.origin}) with another"
                    " declaration; delete it first or pick another name"
                )
            if len(self._records) >= self.config.max_experiments:
                raise ExperimentConflictError(
                    f"already {len(self._records)} experiments (max_experiments)"
                )
            self._records[declared.name] = ExperimentRecord(declared, "api", self._clock())
            self._resolve_all()
            record = self._records[declared.name]
            if self._store is not None:
                self._store.save([record])
        return record, True

    def remove(self, name: str) -> ExperimentRecord | None:
        """Forget an API-declared experiment (configured ones live in the config); the
        removed record, or None when there is no such experiment. Raises
        ``ExperimentConflictError`` for a configured experiment."""
        with self._lock:
            held = self._records.get(name)
            if held is None:
                return None
            if held.origin != "api":
                raise ExperimentConflictError(
                    f"experiment '{name}' is declared in the collector config; remove it there"
                )
            del self._records[name]
            if self._store is not None:
                self._store.delete(name)
        return held

    def records(self) -> list[ExperimentRecord]:
        """Every experiment held, by name."""
        with self._lock:
            return [self._records[name] for name in sorted(self._records)]

    def record(self, name: str) -> ExperimentRecord | None:
        """One experiment, or None."""
        with self._lock:
            return self._records.get(name)

    def results(self) -> list[ExperimentResult]:
        """The results of every experiment, by name."""
        return [experiment_result(record) for record in self.records()]


def _no_lookup(service: str, name: str, number: int) -> str | None:
    return None


def create_experiments_processor(
    config: ExperimentsConfig, host: Host, next_consumer: TracesConsumer | None
) -> ExperimentsProcessor:
    """Build the processor with its store, publish it and register routes and metrics."""
    if host.extras.get(EXPERIMENTS_KEY) is not None:
        raise ConfigError(
            "processors.experiments: list the experiments processor in one pipeline only"
        )
    store = ExperimentStore(host.data_dir / STATE_FILE) if config.persist else None
    processor = ExperimentsProcessor(config, host, next_consumer, store)
    host.extras[EXPERIMENTS_KEY] = processor
    if host.router is not None:
        from mlspan.collector.experiments.routes import register_experiment_routes

        register_experiment_routes(host.router, processor)
    if host.registry is not None:
        from mlspan.collector.experiments.prometheus import ExperimentMetrics

        host.registry.register(ExperimentMetrics(processor))
    return processor


def experiments_factory() -> Factory[ExperimentsConfig]:
    """The ``experiments`` processor factory."""
    return Factory(Kind.PROCESSOR, "experiments", ExperimentsConfig, create_experiments_processor)
