"""The ``otlp`` exporter: forwards received OTLP bytes to any OTLP endpoint, split to the
endpoint's request size limit."""

from __future__ import annotations

from mlspan.collector.exporters.otlp.config import OtlpExporterConfig, Protocol
from mlspan.collector.exporters.otlp.factory import otlp_exporter_factory

__all__ = ["OtlpExporterConfig", "Protocol", "otlp_exporter_factory"]
