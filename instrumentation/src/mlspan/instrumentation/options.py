"""Options of the scikit-learn and pandas instrumentors.

Every option can be passed to ``instrument(**options)`` (or an instrumentor's
``instrument()``) or set with an environment variable named
``OTEL_INSTRUMENTATION_MLSPAN_<OPTION NAME IN UPPER CASE>``; an explicit argument wins
over the environment, the environment over the default. ``docs/instrumentation.md``
describes each option.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

ENV_PREFIX: Final = "OTEL_INSTRUMENTATION_MLSPAN_"
MIN_REQUEST_BYTES: Final = 64 * 1024
"""Smallest accepted ``max_request_bytes``."""

_logger = logging.getLogger(__name__)
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class InstrumentationOptions:
    """What the instrumentors record and how much work they may do per call."""

    summaries: bool = True
    """Attach per-feature summary events to fit, predict and transform spans."""
    nested_summaries: bool = False
    """Also summarise the inputs of nested steps (Pipeline, FeatureUnion, ColumnTransformer)."""
    candidate_spans: bool = False
    """Give a search's and cross-validation's candidate fits and scores child spans."""
    online_max_rows: int = 100
    """Predict-like calls with fewer rows get a light span; their summaries accumulate."""
    online_flush_rows: int = 10_000
    """Emit the accumulated online summaries once this many rows were seen."""
    online_flush_seconds: float = 60.0
    """... or once this many seconds passed since the first accumulated call."""
    online_root_span_seconds: float = 5.0
    """One-row calls outside any trace get a root span at most this often (0: every call)."""
    summary_events_per_span: int = 128
    """Most summary events per span; more go to child ``summary`` spans (SDK default 128)."""
    max_summary_columns: int = 10_000
    """Wider inputs (e.g. sparse text features) are not summarised."""
    categorical_cap: int = 1000
    """Distinct values of a categorical feature counted exactly before the sketch takes over."""
    integer_categorical_max_unique: int = 0
    """Integer features with at most this many distinct values are categorical (0: never)."""
    categorical_min_rows: int = 100
    """The integer cardinality rule applies only to inputs with at least this many rows."""
    kll_k: int = 200
    """Accuracy parameter of the numerical quantile sketch (KLL)."""
    max_request_bytes: int = 4 * 1024 * 1024
    """Largest OTLP export request sent (the common 4 MiB gRPC receive limit)."""
    model_name: str = ""
    """Name of the model on the user's own estimator calls (``mlspan.model.name``), under
    which the collector keeps its drift series (default: the estimator's class name)."""
    shutdown_timeout_seconds: float = 2.0
    """How long shutdown (interpreter exit) waits for an OTLP endpoint that delivers
    nothing; the spans not sent by then are given up, counted and reported."""

    @property
    def max_span_bytes(self) -> int:
        """Byte budget of one span: half a request, at most 1 MiB, so spans batch well."""
        return min(1024 * 1024, self.max_request_bytes // 2)

    def validate(self) -> None:
        """Raise ValueError naming the first option out of range."""
        positive = {
            "online_flush_rows": self.online_flush_rows,
            "summary_events_per_span": self.summary_events_per_span,
            "max_summary_columns": self.max_summary_columns,
            "categorical_cap": self.categorical_cap,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        for name, value in {
            "online_max_rows": self.online_max_rows,
            "integer_categorical_max_unique": self.integer_categorical_max_unique,
            "categorical_min_rows": self.categorical_min_rows,
        }.items():
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if len(self.model_name) > 256:
            raise ValueError(f"model_name must be at most 256 characters, got {self.model_name!r}")
        if self.online_root_span_seconds < 0:
            raise ValueError(
                f"online_root_span_seconds must be >= 0, got {self.online_root_span_seconds}"
            )
        timeout = self.shutdown_timeout_seconds
        if not 0 <= timeout <= 3600:
            raise ValueError(f"shutdown_timeout_seconds must be in [0, 3600], got {timeout}")
        if self.online_flush_seconds <= 0:
            raise ValueError(f"online_flush_seconds must be > 0, got {self.online_flush_seconds}")
        if not 8 <= self.kll_k <= 65535:
            raise ValueError(f"kll_k must be in [8, 65535], got {self.kll_k}")
        if self.max_request_bytes < MIN_REQUEST_BYTES:
            raise ValueError(
                f"max_request_bytes must be >= {MIN_REQUEST_BYTES}, got {self.max_request_bytes}"
            )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names, as accepted by ``resolve``."""
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def resolve(
        cls, explicit: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> InstrumentationOptions:
        """Options from explicit arguments, then ``OTEL_INSTRUMENTATION_MLSPAN_*``, then defaults.

        Unknown explicit names are ignored (``instrument()`` also receives options meant
        for OpenTelemetry such as ``tracer_provider``); a malformed environment value is
        logged and ignored; a bad explicit value raises ValueError.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = env.get(ENV_PREFIX + field.name.upper())
            if raw is None:
                continue
            try:
                values[field.name] = _parse(raw, field.default)
            except ValueError:
                _logger.warning("ignoring %s%s=%r", ENV_PREFIX, field.name.upper(), raw)
        for name in cls.names():
            if name in explicit:
                values[name] = explicit[name]
        options = cls(**values)
        options.validate()
        return options


def _parse(raw: str, default: object) -> object:
    text = raw.strip().lower()
    if isinstance(default, bool):
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(raw)
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    return raw
