"""The store interface: everything lineage queries need, nothing backend-specific.

Implementations must be safe to use from one writer thread and many API threads at
once. Graph reads take sets of ids and answer in one round trip, so queries walk the
lineage graph level by level whatever the backend.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Final, Protocol

from mlspan.collector.store.records import (
    Artifact,
    Component,
    Flag,
    LineageBatch,
    Note,
    RunRecord,
)

TARGET_KINDS: Final = ("component", "run")
"""What tags and notes attach to."""


class StoreUnavailableError(RuntimeError):
    """The store cannot take a write now (locked, disk full, I/O error, connection
    lost), whatever the records: retry the same write later. Any other exception from
    ``Store.write`` means the records themselves were refused."""


class Store(Protocol):
    """Runs, artifacts and the edges between them, plus user annotations."""

    def write(self, batch: LineageBatch) -> None:
        """Persist one batch atomically; re-delivered runs and edges are idempotent.

        Raises ``StoreUnavailableError`` when the failure is the store's, not the
        records'."""

    def close(self) -> None:
        """Release connections; safe to call more than once."""

    # -- runs and artifacts ----------------------------------------------------------
    def runs(self, run_ids: Collection[str]) -> dict[str, RunRecord]:
        """Runs by id (unknown ids are absent)."""

    def artifacts(self, artifact_ids: Collection[str]) -> dict[str, Artifact]:
        """Artifacts by id, with their names and flag state (unknown ids are absent)."""

    def artifacts_named(self, name: str) -> list[Artifact]:
        """Artifacts known by this path or name, most recently seen first."""

    def ids_with_prefix(self, prefix: str, limit: int) -> tuple[list[str], list[str]]:
        """Run ids and artifact ids starting with ``prefix`` (each list up to ``limit``)."""

    # -- graph -----------------------------------------------------------------------
    def run_io(self, run_ids: Collection[str], direction: str) -> dict[str, list[str]]:
        """For each run, the artifacts it consumed (``in``) or produced (``out``)."""

    def artifact_runs(self, artifact_ids: Collection[str], direction: str) -> dict[str, list[str]]:
        """For each artifact, the runs that consumed (``in``) or produced (``out``) it."""

    def child_runs(self, trace_id: str, span_id: str) -> list[RunRecord]:
        """Runs whose parent span is this one, oldest first."""

    # -- listings --------------------------------------------------------------------
    def component_runs(
        self, component: str, limit: int, since_ns: int | None, until_ns: int | None
    ) -> list[RunRecord]:
        """A component's runs in the time range, newest first."""

    def recent_runs(
        self, limit: int, before: tuple[int, str] | None, component: str | None
    ) -> list[RunRecord]:
        """Runs newest first, strictly older than the ``(start_ns, run_id)`` cursor."""

    def latest_runs(
        self, identities: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], RunRecord]:
        """The newest run of each component identity ``(service, component name)`` that
        can supersede earlier ones: every run but a failed one (status ``error``) that
        produced no outputs. Runs of another service never count."""

    def component(self, name: str) -> Component | None:
        """A component seen in any run, or None."""

    # -- annotations -----------------------------------------------------------------
    def set_flag(self, artifact_id: str, flagged: bool, reason: str, at_ns: int) -> None:
        """Flag or unflag an output."""

    def flags(self) -> list[Flag]:
        """Every flagged output, oldest first."""

    def add_tags(self, kind: str, target: str, tags: Sequence[str]) -> None:
        """Attach tags to a component or run."""

    def remove_tags(self, kind: str, target: str, tags: Sequence[str]) -> None:
        """Detach tags from a component or run."""

    def tags(self, kind: str, targets: Collection[str]) -> Mapping[str, list[str]]:
        """Sorted tags of each target that has any."""

    def add_note(self, kind: str, target: str, text: str, at_ns: int) -> Note:
        """Attach a note to a component or run."""

    def notes(self, kind: str, target: str) -> list[Note]:
        """Notes of one target, oldest first."""
