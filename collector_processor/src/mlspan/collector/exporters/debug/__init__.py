"""The ``debug`` exporter: logs what passes through a pipeline."""

from __future__ import annotations

from mlspan.collector.exporters.debug.exporter import (
    DebugExporterConfig,
    Verbosity,
    debug_exporter_factory,
)

__all__ = ["DebugExporterConfig", "Verbosity", "debug_exporter_factory"]
