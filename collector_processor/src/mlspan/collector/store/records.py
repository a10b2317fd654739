"""Plain records the lineage processor writes and the store reads back.

They are backend-neutral (no SQL types), so every ``Store`` implementation speaks them.
Write records are ``NamedTuple``s: cheap to build on the ingest path and directly usable
as parameter rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, NamedTuple

INPUT: Final = "in"
OUTPUT: Final = "out"
ARTIFACT_KINDS: Final = ("data", "file", "model")
"""Known id prefixes (``data:``, ``file:``, ``model:``); others are kind ``other``."""


def artifact_kind(artifact_id: str) -> str:
    """The kind of an artifact from its id prefix."""
    prefix, sep, _ = artifact_id.partition(":")
    return prefix if sep and prefix in ARTIFACT_KINDS else "other"


class RunRecord(NamedTuple):
    """One component or operation span, as a run."""

    run_id: str
    """The span id (hex); unique per store in practice, stable across re-delivery."""
    trace_id: str
    parent_id: str
    service: str
    name: str
    operation: str
    component: str
    start_ns: int
    end_ns: int
    status: str
    """``ok``, ``error`` or ``unset``."""
    status_message: str
    code_commit: str
    code_digest: str
    params: str
    """Hyperparameters as the JSON string the span carried ("" if none)."""
    model_class: str
    model_name: str
    model_version: str


class IoRecord(NamedTuple):
    """A run's edges in one direction: the artifacts it consumed (``direction`` ``in``)
    or produced (``out``), in order, without repeats.

    One record per run and direction rather than per edge: the store keeps a run's
    artifacts with the run and one reverse entry per artifact, so grouping them here
    saves regrouping edges on every write.
    """

    run_id: str
    direction: str
    artifact_ids: tuple[str, ...]
    seen_ns: int


class NameRecord(NamedTuple):
    """A path or name an artifact was known by (``mlspan.dataset.source``)."""

    artifact_id: str
    name: str
    seen_ns: int


class ComponentRecord(NamedTuple):
    """A component's owner and tags as its spans declared them."""

    name: str
    owner: str
    tags: tuple[str, ...]
    seen_ns: int


@dataclass
class LineageBatch:
    """Everything one trace batch contributes; written in one transaction."""

    runs: list[RunRecord] = field(default_factory=list)
    io: list[IoRecord] = field(default_factory=list)
    names: list[NameRecord] = field(default_factory=list)
    components: list[ComponentRecord] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.runs or self.io or self.names or self.components)


@dataclass(frozen=True)
class Artifact:
    """An artifact as stored: id, kind (from the id prefix), known names, flag state."""

    artifact_id: str
    kind: str
    names: tuple[str, ...] = ()
    flagged: bool = False


@dataclass(frozen=True)
class Flag:
    """A flagged output: a user said it is wrong."""

    artifact_id: str
    reason: str
    flagged_ns: int


@dataclass(frozen=True)
class Note:
    """A free-text note on a component or run."""

    note_id: int
    target_kind: str
    target_id: str
    text: str
    created_ns: int


@dataclass(frozen=True)
class Component:
    """A component: its declared owner and when its runs were first and last seen."""

    name: str
    owner: str
    first_seen_ns: int
    last_seen_ns: int
