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
import types
import typing
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
    component_id: str = ""
    """Id of the component being built (``otlp/jaeger``); the service hands each factory
    a copy of the host with this set, sharing every service above."""

    def for_component(self, component_id: str) -> Host:
        """A copy naming ``component_id`` that shares every service of this host."""
        return dataclasses.replace(self, component_id=component_id)


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
    except ValueError as exc:  # ConfigError included: say where the section is
        message = str(exc)
        if message.startswith(f"{where}:") or message.startswith(f"{where}."):
            raise
        raise ConfigError(f"{where}: {message}") from exc
    return config


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(options) == 1 and dataclasses.is_dataclass(options[0]):
            # OpenTelemetry Collector style: a present but empty section (``grpc:``)
            # enables the component with its defaults; an absent one keeps the default.
            return _coerce(options[0], {} if value is None else value, where)
        if value is None:
            return None
        if len(options) == 1:
            return _coerce(options[0], value, where)
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return parse_dataclass(hint, value, where)  # type: ignore[type-var]
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        key_type, value_type = typing.get_args(hint) or (Any, Any)
        return {
            _coerce(key_type, key, f"{where}.{key}"): _coerce(value_type, item, f"{where}.{key}")
            for key, item in value.items()
        }
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(hint)
        item_type = args[0] if len(args) == 2 and args[1] is Ellipsis else Any
        return tuple(_coerce(item_type, item, f"{where}[{i}]") for i, item in enumerate(value))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError as exc:
            allowed = ", ".join(str(m.value) for m in hint)
            raise ConfigError(f"{where}: '{value}' is not one of {allowed}") from exc
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (
        not isinstance(value, hint) or (hint is not bool and isinstance(value, bool))
    ):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value
