"""Lineage: runs, artifacts and edges from ML spans, and the queries over them."""

from __future__ import annotations

from mlspan.collector.lineage.extract import extract
from mlspan.collector.lineage.processor import (
    LineageConfig,
    LineageProcessor,
    create_lineage_processor,
    lineage_factory,
)
from mlspan.collector.lineage.queries import BadCursorError, LineageQueries
from mlspan.collector.lineage.views import AmbiguousReferenceError, UnknownReferenceError

__all__ = [
    "AmbiguousReferenceError",
    "BadCursorError",
    "LineageConfig",
    "LineageProcessor",
    "LineageQueries",
    "UnknownReferenceError",
    "create_lineage_processor",
    "extract",
    "lineage_factory",
]
