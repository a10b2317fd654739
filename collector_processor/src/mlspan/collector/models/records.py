"""Plain records of the model registry: what extraction finds and what the store keeps."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

STAGE_TAGS: Final = ("staging", "production", "archived")
"""Tags at most one version of a model holds: setting one moves it from the other
version that held it."""


@dataclass(frozen=True)
class VersionRef:
    """A model version's human name beside its digest: ``churn v3``."""

    service: str
    name: str
    sequence: int
    digest: str

    @property
    def label(self) -> str:
        """``v3``."""
        return f"v{self.sequence}"


@dataclass(frozen=True)
class FitRecord:
    """What a user's fit span says about the version it produced."""

    service: str
    name: str
    digest: str
    model_class: str
    params: str
    run_id: str
    trace_id: str
    parent_id: str
    start_ns: int
    end_ns: int
    train_digest: str
    target_digest: str
    rows: int | None
    columns: int | None
    framework_version: str
    libraries: str
    search: str
    """``mlspan.search.results`` of a search's fit ("" otherwise)."""
    summaries: Callable[[], tuple[dict[str, object], ...]] = tuple
    """Reads the fit's ``mlspan.feature.summary`` events as plain attribute dicts; called
    only for a new version, while the batch is being processed."""


@dataclass(frozen=True)
class MetricRecord:
    """One metric value of a version: ``source`` is ``score``, ``search`` or ``logged``."""

    digest: str
    source: str
    metric: str
    value: float
    rows: int | None
    dataset: str
    at_ns: int
    service: str


@dataclass(frozen=True)
class ServingRecord:
    """Predict calls of a version seen in one batch from one service."""

    digest: str
    service: str
    at_ns: int
    calls: int


@dataclass(frozen=True)
class SummaryRecord:
    """Feature summaries of a version's training data from a child ``summary`` span."""

    digest: str
    summaries: tuple[dict[str, object], ...]


@dataclass
class Extracted:
    """Everything one batch contributes to the registry."""

    fits: list[FitRecord] = field(default_factory=list)
    metrics: list[MetricRecord] = field(default_factory=list)
    serving: list[ServingRecord] = field(default_factory=list)
    summaries: list[SummaryRecord] = field(default_factory=list)
    bad: int = 0
    clamped: Counter[str] = field(default_factory=Counter)
    """Values clamped to what the store holds, by ``sanitize.CLAMP_*`` reason."""


@dataclass(frozen=True)
class VersionRow:
    """A stored version with everything known about it."""

    ref: VersionRef
    model_class: str
    params: str
    first_fit_ns: int
    last_fit_ns: int
    fits: int
    fit_seconds: float
    run_id: str
    trace_id: str
    parent_id: str
    train_digest: str
    target_digest: str
    rows: int | None
    columns: int | None
    framework_version: str
    libraries: str
    search: str
    summaries: str
    """JSON array of the training data's feature summaries (event attributes)."""


@dataclass(frozen=True)
class MetricRow:
    """A stored metric of a version (the latest value per source, metric and dataset)."""

    source: str
    metric: str
    value: float
    rows: int | None
    dataset: str
    at_ns: int


@dataclass(frozen=True)
class ServingRow:
    """A service whose predict calls used a version."""

    service: str
    first_ns: int
    last_ns: int
    calls: int
