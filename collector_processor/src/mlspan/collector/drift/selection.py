"""Which models a query or a close request is about: service, model name and version."""

from __future__ import annotations

from dataclasses import dataclass

from mlspan.collector.drift.results import ModelKey


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
