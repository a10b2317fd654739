"""Which models a query or a close request is about (service, model name and version),
and what the engine says of an open window."""

from __future__ import annotations

from dataclasses import dataclass

from mlspan.collector.drift.extract import WindowClose
from mlspan.collector.drift.results import ModelKey
from mlspan.collector.drift.state import ModelState


@dataclass(frozen=True)
class Selection:
    """Models matching every field that is set (None or "" matches anything)."""

    service: str | None = None
    model: str | None = None
    version: str | None = None

    def matches(self, key: ModelKey) -> bool:
        """Whether ``key`` is selected."""
        return (
            (not self.service or key.service == self.service)
            and (not self.model or key.model_name == self.model)
            and (not self.version or key.model_version == self.version)
        )

    def describe(self) -> str:
        """The filters in words, e.g. "model 'churn' of service 'scoring'"."""
        parts = [
            f"{label} '{value}'"
            for label, value in (
                ("service", self.service),
                ("model", self.model),
                ("version", self.version),
            )
            if value
        ]
        return ", ".join(parts) or "any model"


ALL: Selection = Selection()
"""Every model."""


@dataclass(frozen=True)
class WindowStatus:
    """The open window of one model: what it holds and when it closes by itself."""

    key: ModelKey
    opened: float
    """Unix seconds of its first summary."""
    rows: int
    closes_at: float | None
    """Unix seconds, for time windows."""
    closes_after_rows: int | None
    """Row limit, for row windows."""


def as_selection(model: str | Selection | None) -> Selection:
    """A selection from a model name (None: every model) or a selection."""
    if isinstance(model, Selection):
        return model
    return Selection(model=model) if model else ALL


def request_covers(request: WindowClose, state: ModelState) -> bool:
    """Whether a span's close request covers ``state``'s window: same service, and the
    same model when the span names one."""
    key = state.key
    return key.service == request.service and (not request.model or key.model_name == request.model)
