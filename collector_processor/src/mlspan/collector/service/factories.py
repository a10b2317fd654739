"""Every component type the collector knows.

Adding a component type is one line here: its ``Factory``. The service looks types up
by the ``type`` part of a component id (``otlp`` in ``otlp/jaeger``).
"""

from __future__ import annotations

from typing import Any

from mlspan.collector.alerts import alerts_factory
from mlspan.collector.drift.connector import drift_factory
from mlspan.collector.experiments.processor import experiments_factory
from mlspan.collector.exporters.debug import debug_exporter_factory
from mlspan.collector.exporters.otlp import otlp_exporter_factory
from mlspan.collector.lineage import lineage_factory
from mlspan.collector.models.processor import models_factory
from mlspan.collector.performance.processor import performance_factory
from mlspan.collector.pipeline.factory import Factory
from mlspan.collector.receivers.otlp import otlp_receiver_factory


def default_factories() -> list[Factory[Any]]:
    """One factory per component type (receivers, processors, connectors, exporters)."""
    return [
        otlp_receiver_factory(),
        otlp_exporter_factory(),
        debug_exporter_factory(),
        lineage_factory(),
        alerts_factory(),
        drift_factory(),
        performance_factory(),
        models_factory(),
        experiments_factory(),
    ]
