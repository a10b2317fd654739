"""Lineage: runs, artifacts and edges from ML spans, and the queries over them.

Names are imported on first use (PEP 562), so ``mlspan.collector.lineage.render`` (what
the CLI needs) loads without the processor, the store or the metrics stack. The function
``extract`` shares its name with its module: importing the module must not replace the
function as the package's attribute (``_Package``).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from mlspan.collector.lineage.extract import extract
    from mlspan.collector.lineage.processor import (
        LineageConfig,
        LineageProcessor,
        create_lineage_processor,
        lineage_factory,
    )
    from mlspan.collector.lineage.queries import BadCursorError, LineageQueries
    from mlspan.collector.lineage.views import AmbiguousReferenceError, UnknownReferenceError

_EXPORTS: Final = {
    "AmbiguousReferenceError": "views",
    "BadCursorError": "queries",
    "LineageConfig": "processor",
    "LineageProcessor": "processor",
    "LineageQueries": "queries",
    "UnknownReferenceError": "views",
    "create_lineage_processor": "processor",
    "extract": "extract",
    "lineage_factory": "processor",
}

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


def __getattr__(name: str) -> Any:
    """Import the module holding ``name`` when it is first asked for."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


class _Package(types.ModuleType):
    """This package: the submodule ``extract`` is never bound over the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "extract" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
