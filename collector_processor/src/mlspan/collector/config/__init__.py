"""Where the collector's configuration comes from: the built-in default, a YAML file,
``MLSPAN_*`` environment variables and command-line flags (in rising precedence)."""

from __future__ import annotations

from mlspan.collector.config.loader import (
    ENV_VARS,
    Overrides,
    apply_overrides,
    default_document,
    load_config,
    read_document,
)

__all__ = [
    "ENV_VARS",
    "Overrides",
    "apply_overrides",
    "default_document",
    "load_config",
    "read_document",
]
