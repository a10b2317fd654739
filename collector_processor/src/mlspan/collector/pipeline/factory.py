"""How pipeline components are declared, configured and built.

Modelled on the OpenTelemetry Collector: every component type (``otlp`` receiver,
``lineage`` processor, ``drift`` connector, ``otlp`` exporter, ...) registers a
``Factory`` holding its frozen config dataclass and a constructor. The service reads the
YAML config, builds each config with ``Factory.parse_config`` (which rejects unknown keys
and calls ``validate()``), then builds components with the ``Host`` that carries the
shared services: the data folder, the store, the Prometheus registry and the API router.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, get_type_hints

from mlspan.collector.pdata import Component, TracesConsumer
from mlspan.collector.pdata.stats import IngestStats


class ConfigError(ValueError):
    """A configuration key or value is wrong; the message names it."""


class ComponentConfig(Protocol):
    """A frozen dataclass of documented fields that checks itself."""

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first wrong field."""


class Kind(str, enum.Enum):
    """Component kinds, as in the OpenTelemetry Collector."""

    RECEIVER = "receivers"
    PROCESSOR = "processors"
    CONNECTOR = "connectors"
    EXPORTER = "exporters"


class PipelineComponent(Component, TracesConsumer, Protocol):
    """A processor, connector or exporter: it consumes batches and has a lifecycle."""


@dataclass
class Host:
    """Shared services handed to every component factory.

    ``store``, ``registry`` and ``router`` are typed loosely here so this module stays
    free of the lineage, Prometheus and API packages that provide them.
    """

    data_dir: Path
    stats: IngestStats = dataclasses.field(default_factory=IngestStats)
    store: Any = None
    registry: Any = None
    router: Any = None
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)


C = TypeVar("C", bound=ComponentConfig)


@dataclass(frozen=True)
class Factory(Generic[C]):
    """Declares one component type."""

    kind: Kind
    type_name: str
    config_class: type[C]
    create: Callable[[C, Host, TracesConsumer | None], Any]
    """Build the component; receivers and processors get the next consumer."""

    def parse_config(self, name: str, raw: Mapping[str, Any] | None) -> C:
        """Build and validate the config of component ``name`` from its YAML mapping."""
        return parse_dataclass(self.config_class, raw or {}, f"{self.kind.value}.{name}")


def parse_dataclass(cls: type[C], raw: Mapping[str, Any], where: str) -> C:
    """Build a (possibly nested) frozen config dataclass, naming any wrong key.

    Nested dataclass fields are parsed recursively; ``tuple`` fields accept lists; enum
    fields accept their values. Unknown keys and wrong types raise ``ConfigError``.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (known: {', '.join(fields)})")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        values[key] = _coerce(hints[key], value, f"{where}.{key}")
    try:
        config = cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    try:
        config.validate()
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    return config


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = getattr(hint, "__origin__", None)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return parse_dataclass(hint, value, where)  # type: ignore[type-var]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError as exc:
            allowed = ", ".join(str(m.value) for m in hint)
            raise ConfigError(f"{where}: '{value}' is not one of {allowed}") from exc
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (
        not isinstance(value, hint) or (hint is not bool and isinstance(value, bool))
    ):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value
