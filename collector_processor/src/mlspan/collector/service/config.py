"""The collector's configuration file, modelled on the OpenTelemetry Collector's.

```yaml
data_dir: ./.mlspan            # the data folder (store, queues, alert history)
storage: {url: ""}             # lineage store; empty: SQLite in the data folder
api: {endpoint: 127.0.0.1:4319}  # query API and /metrics; enabled: false turns it off
ui: {trace_url_template: "http://jaeger:16686/trace/{trace_id}"}  # web UI at / on the API
metrics: {max_series_per_metric: 10000, max_series_per_service: 2000}
receivers:  {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:4317}, http: {}}}}
processors: {lineage: {}}
connectors: {drift: {}}
exporters:  {otlp/jaeger: {endpoint: 127.0.0.1:14317}, debug: {}}
service:
  pipelines:
    traces: {receivers: [otlp], processors: [lineage], exporters: [drift, otlp/jaeger]}
  runtime: {gc_gen0_threshold: 50000, gc_freeze: true, malloc_trim_threshold_mib: 32,
            malloc_arena_max: 2, malloc_trim_interval_seconds: 10}
```

Component ids are ``type`` or ``type/name``; the type picks the ``Factory``. Every
section is checked when the file is read: an unknown key, a wrong value, an unknown
component type, or a pipeline naming an undeclared component fails with a message
naming it (see ``ConfigError``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from mlspan.collector.api.limits import ApiLimits
from mlspan.collector.api.server import DEFAULT_HOST, DEFAULT_PORT
from mlspan.collector.metrics.config import MetricsConfig
from mlspan.collector.pipeline.factory import ConfigError, Factory, Kind, parse_dataclass
from mlspan.collector.receivers.otlp.config import split_endpoint
from mlspan.collector.security.config import ApiWritesConfig, AuthConfig, TlsServerConfig
from mlspan.collector.service.runtime import RuntimeConfig
from mlspan.collector.ui.config import UiConfig

DEFAULT_DATA_DIR: Final = "./.mlspan"
DEFAULT_API_ENDPOINT: Final = f"{DEFAULT_HOST}:{DEFAULT_PORT}"
SIGNALS: Final = ("traces",)
"""Pipeline signals this collector runs (``traces`` and ``traces/<name>``)."""
_TOP_LEVEL: Final = (
    "data_dir",
    "storage",
    "api",
    "metrics",
    "ui",
    *(kind.value for kind in Kind),
    "service",
)


@dataclass(frozen=True)
class StorageConfig:
    """``storage``: where the lineage store lives."""

    url: str = ""
    """A SQLite file, a folder, ``sqlite:///path`` or ``postgresql://user@host/db``;
    empty: ``lineage.db`` in the data folder."""
    password_file: str = ""
    """A file holding the PostgreSQL password (read at start, surrounding whitespace
    dropped), so that the secret stays out of the config and the URL; "" for none."""

    def validate(self) -> None:
        """A password file only makes sense with a PostgreSQL URL."""
        if self.password_file and not self.url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("password_file needs a postgresql:// url")

    def password(self) -> str | None:
        """The password from ``password_file``, or None."""
        if not self.password_file:
            return None
        return Path(self.password_file).read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class ApiConfig:
    """``api``: the HTTP query API, which also serves ``/metrics``."""

    enabled: bool = True
    endpoint: str = DEFAULT_API_ENDPOINT
    """Listen address; loopback by default, another interface only when set here."""
    tls: TlsServerConfig | None = None
    """Serve HTTPS (``client_ca_file``: mutual TLS); see docs/security.md."""
    auth: AuthConfig | None = None
    """Token needed to read (GET); writes too unless ``writes.auth`` sets their own."""
    writes: ApiWritesConfig = field(default_factory=ApiWritesConfig)
    """Write endpoints (flag, tag, note, ...): ``enabled: false`` or a separate token."""
    limits: ApiLimits = field(default_factory=ApiLimits)
    """Connection cap, backlog, timeouts and body cap (``api.limits``)."""

    def validate(self) -> None:
        """Check the endpoint."""
        split_endpoint(self.endpoint)


@dataclass(frozen=True)
class PipelineConfig:
    """One ``service.pipelines`` entry."""

    receivers: tuple[str, ...] = ()
    processors: tuple[str, ...] = ()
    exporters: tuple[str, ...] = ()

    def validate(self) -> None:
        """A pipeline needs a receiver and names each component once."""
        if not self.receivers:
            raise ConfigError("receivers: a pipeline needs at least one receiver")
        for name, ids in (
            ("receivers", self.receivers),
            ("processors", self.processors),
            ("exporters", self.exporters),
        ):
            if len(set(ids)) != len(ids):
                raise ConfigError(f"{name}: a component is listed twice")


@dataclass(frozen=True)
class ServiceConfig:
    """``service``: which pipelines run, and how the process is tuned."""

    pipelines: dict[str, PipelineConfig] = field(default_factory=dict)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def validate(self) -> None:
        """At least one pipeline, each of a supported signal."""
        if not self.pipelines:
            raise ConfigError("pipelines: at least one pipeline is required")
        for name in self.pipelines:
            if name.split("/", 1)[0] not in SIGNALS:
                raise ConfigError(
                    f"pipelines.{name}: unsupported signal (supported: {', '.join(SIGNALS)})"
                )


@dataclass(frozen=True)
class ComponentSpec:
    """A declared component: its id, its factory and its validated config."""

    component_id: str
    factory: Factory[Any]
    config: Any


@dataclass(frozen=True)
class CollectorConfig:
    """The whole validated configuration."""

    data_dir: str
    storage: StorageConfig
    api: ApiConfig
    metrics: MetricsConfig
    components: dict[Kind, dict[str, ComponentSpec]]
    service: ServiceConfig
    ui: UiConfig = field(default_factory=UiConfig)
    """The web UI on the API's address (docs/ui.md)."""

    def spec(self, kind: Kind, component_id: str) -> ComponentSpec:
        """The declared component ``component_id`` of ``kind``."""
        return self.components[kind][component_id]


def parse_config(raw: Mapping[str, Any], factories: Sequence[Factory[Any]]) -> CollectorConfig:
    """Validate a configuration document; raises ``ConfigError`` naming the bad key."""
    if not isinstance(raw, Mapping):
        raise ConfigError("configuration: expected a mapping at the top level")
    unknown = sorted(set(raw) - set(_TOP_LEVEL))
    if unknown:
        raise ConfigError(f"unknown key '{unknown[0]}' (known: {', '.join(_TOP_LEVEL)})")
    data_dir = raw.get("data_dir", DEFAULT_DATA_DIR)
    if not isinstance(data_dir, str) or not data_dir:
        raise ConfigError(f"data_dir: expected a folder path, got {data_dir!r}")
    by_kind: dict[Kind, dict[str, Factory[Any]]] = {kind: {} for kind in Kind}
    for factory in factories:
        by_kind[factory.kind][factory.type_name] = factory
    components = {
        kind: _components(kind, raw.get(kind.value) or {}, by_kind[kind]) for kind in Kind
    }
    config = CollectorConfig(
        data_dir=data_dir,
        storage=parse_dataclass(StorageConfig, raw.get("storage") or {}, "storage"),
        api=parse_dataclass(ApiConfig, raw.get("api") or {}, "api"),
        metrics=parse_dataclass(MetricsConfig, raw.get("metrics") or {}, "metrics"),
        components=components,
        service=parse_dataclass(ServiceConfig, raw.get("service") or {}, "service"),
        ui=parse_dataclass(UiConfig, raw.get("ui") or {}, "ui"),
    )
    _check_references(config)
    return config


def _components(
    kind: Kind, section: Any, factories: Mapping[str, Factory[Any]]
) -> dict[str, ComponentSpec]:
    if not isinstance(section, Mapping):
        raise ConfigError(f"{kind.value}: expected a mapping of component ids")
    specs: dict[str, ComponentSpec] = {}
    for component_id, body in section.items():
        if not isinstance(component_id, str) or not component_id:
            raise ConfigError(f"{kind.value}: component ids must be non-empty strings")
        type_name, _, name = component_id.partition("/")
        if "/" in component_id and not name:
            raise ConfigError(f"{kind.value}.{component_id}: empty name after '/'")
        factory = factories.get(type_name)
        if factory is None:
            known = ", ".join(sorted(factories)) or "none"
            raise ConfigError(
                f"{kind.value}.{component_id}: unknown type '{type_name}' (known: {known})"
            )
        config = factory.parse_config(component_id, body)
        specs[component_id] = ComponentSpec(component_id, factory, config)
    return specs


def _check_references(config: CollectorConfig) -> None:
    declared = config.components
    connectors = declared[Kind.CONNECTOR]
    as_exporter: set[str] = set()
    as_receiver: set[str] = set()
    for name, pipeline in config.service.pipelines.items():
        where = f"service.pipelines.{name}"
        for component_id in pipeline.receivers:
            if component_id in connectors:
                as_receiver.add(component_id)
            elif component_id not in declared[Kind.RECEIVER]:
                raise ConfigError(f"{where}.receivers: '{component_id}' is not declared")
        for component_id in pipeline.processors:
            if component_id not in declared[Kind.PROCESSOR]:
                raise ConfigError(f"{where}.processors: '{component_id}' is not declared")
        for component_id in pipeline.exporters:
            if component_id in connectors:
                as_exporter.add(component_id)
            elif component_id not in declared[Kind.EXPORTER]:
                raise ConfigError(f"{where}.exporters: '{component_id}' is not declared")
    for component_id in sorted(as_receiver - as_exporter):
        raise ConfigError(
            f"connectors.{component_id}: used as a receiver but no pipeline exports to it"
        )
