"""Builds the configuration document and validates it.

Without a file the collector runs the default document: an ``otlp`` receiver on
127.0.0.1:4317 (gRPC) and 127.0.0.1:4318 (HTTP), the query API on 127.0.0.1:4319,
SQLite in ``./.mlspan``, and one ``traces`` pipeline through every default component
that is installed (the ``lineage``, ``models``, ``performance`` and ``experiments``
processors, the ``drift`` connector, ``alerts``).
Listen addresses, the data folder and the store can be overridden by ``MLSPAN_*``
environment variables and, above those, by command-line flags.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

import yaml

from mlspan.collector.pipeline.factory import ConfigError, Factory, Kind
from mlspan.collector.receivers.otlp.config import DEFAULT_GRPC_ENDPOINT, DEFAULT_HTTP_ENDPOINT
from mlspan.collector.service.config import (
    DEFAULT_API_ENDPOINT,
    DEFAULT_DATA_DIR,
    CollectorConfig,
    parse_config,
)

DEFAULT_RECEIVER: Final = "otlp"
"""The receiver id that ``--grpc-endpoint``/``--http-endpoint`` apply to."""
DEFAULT_PIPELINE_COMPONENTS: Final = (
    "lineage",
    "models",
    "performance",
    "experiments",
    "drift",
    "alerts",
)
"""Component types the default pipeline includes when their factory is installed."""
MAX_FILE_BYTES: Final = 1 << 20


@dataclass(frozen=True)
class Overrides:
    """Values set outside the file; None leaves the file's (or default) value."""

    data_dir: str | None = None
    grpc_endpoint: str | None = None
    http_endpoint: str | None = None
    api_endpoint: str | None = None
    storage_url: str | None = None
    storage_password_file: str | None = None

    def over(self, lower: Overrides) -> Overrides:
        """These values, falling back to ``lower`` where unset."""
        return Overrides(
            **{
                f.name: getattr(self, f.name)
                if getattr(self, f.name) is not None
                else getattr(lower, f.name)
                for f in fields(self)
            }
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Overrides:
        """Read the ``MLSPAN_*`` variables of ``ENV_VARS`` (empty values are ignored)."""
        return cls(**{name: env.get(var) or None for name, var in ENV_VARS.items()})


ENV_VARS: Final = {
    "data_dir": "MLSPAN_DATA_DIR",
    "grpc_endpoint": "MLSPAN_GRPC_ENDPOINT",
    "http_endpoint": "MLSPAN_HTTP_ENDPOINT",
    "api_endpoint": "MLSPAN_API_ENDPOINT",
    "storage_url": "MLSPAN_STORAGE_URL",
    "storage_password_file": "MLSPAN_STORAGE_PASSWORD_FILE",
}
"""``Overrides`` field -> environment variable."""
CONFIG_ENV: Final = "MLSPAN_CONFIG"
"""Environment variable naming the configuration file when ``--config`` is not given."""


def default_document(factories: Sequence[Factory[Any]]) -> dict[str, Any]:
    """The configuration used when no file is given."""
    available = {(f.kind, f.type_name) for f in factories}
    processors = [
        name for name in DEFAULT_PIPELINE_COMPONENTS if (Kind.PROCESSOR, name) in available
    ]
    ends = [
        (kind, name)
        for name in DEFAULT_PIPELINE_COMPONENTS
        for kind in (Kind.CONNECTOR, Kind.EXPORTER)
        if (kind, name) in available
    ]
    document: dict[str, Any] = {
        "data_dir": DEFAULT_DATA_DIR,
        "api": {"endpoint": DEFAULT_API_ENDPOINT},
        "receivers": {
            DEFAULT_RECEIVER: {
                "protocols": {
                    "grpc": {"endpoint": DEFAULT_GRPC_ENDPOINT},
                    "http": {"endpoint": DEFAULT_HTTP_ENDPOINT},
                }
            }
        },
        "processors": {name: {} for name in processors},
        "connectors": {name: {} for kind, name in ends if kind is Kind.CONNECTOR},
        "exporters": {name: {} for kind, name in ends if kind is Kind.EXPORTER},
        "service": {
            "pipelines": {
                "traces": {
                    "receivers": [DEFAULT_RECEIVER],
                    "processors": processors,
                    "exporters": [name for _, name in ends],
                }
            }
        },
    }
    return document


def read_document(path: Path) -> dict[str, Any]:
    """Parse a YAML configuration file; raises ``ConfigError`` naming the file and line."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return document


def apply_overrides(document: Mapping[str, Any], overrides: Overrides) -> dict[str, Any]:
    """A copy of ``document`` with the override values set."""
    result = copy.deepcopy(dict(document))
    if overrides.data_dir is not None:
        result["data_dir"] = overrides.data_dir
    if overrides.storage_url is not None:
        result["storage"] = {**_section(result, "storage"), "url": overrides.storage_url}
    if overrides.storage_password_file is not None:
        storage = _section(result, "storage")
        result["storage"] = {**storage, "password_file": overrides.storage_password_file}
    if overrides.api_endpoint is not None:
        result["api"] = {**_section(result, "api"), "endpoint": overrides.api_endpoint}
    for protocol, endpoint in (
        ("grpc", overrides.grpc_endpoint),
        ("http", overrides.http_endpoint),
    ):
        if endpoint is None:
            continue
        receivers = _section(result, "receivers")
        if DEFAULT_RECEIVER not in receivers:
            raise ConfigError(
                f"--{protocol}-endpoint: the configuration has no receiver '{DEFAULT_RECEIVER}'"
            )
        receiver = dict(receivers[DEFAULT_RECEIVER] or {})
        # Without a protocols section both protocols run; keep it so when setting one.
        protocols = dict(receiver.get("protocols") or {"grpc": {}, "http": {}})
        protocols[protocol] = {**(protocols.get(protocol) or {}), "endpoint": endpoint}
        receiver["protocols"] = protocols
        result["receivers"] = {**receivers, DEFAULT_RECEIVER: receiver}
    return result


def _section(document: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping")
    return dict(value)


def load_config(
    path: Path | None,
    factories: Sequence[Factory[Any]],
    flags: Overrides | None = None,
    env: Mapping[str, str] | None = None,
) -> CollectorConfig:
    """The validated configuration from a file (or the default), env and flags."""
    environment = os.environ if env is None else env
    if path is None and environment.get(CONFIG_ENV):
        path = Path(environment[CONFIG_ENV])
    document = read_document(path) if path is not None else default_document(factories)
    overrides = (flags or Overrides()).over(Overrides.from_env(environment))
    return parse_config(apply_overrides(document, overrides), factories)
