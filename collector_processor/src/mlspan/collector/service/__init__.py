"""The collector service: configuration, component graph, lifecycle and factories."""

from __future__ import annotations

from mlspan.collector.service.config import CollectorConfig, parse_config
from mlspan.collector.service.service import Service

__all__ = ["CollectorConfig", "Service", "parse_config"]
