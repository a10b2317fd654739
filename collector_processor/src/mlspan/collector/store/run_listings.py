"""Run listings every SQL backend answers with the same statements.

``child_runs``, ``component_runs``, ``recent_runs`` and ``latest_runs`` only select run
rows by indexed columns, in SQL both SQLite and PostgreSQL speak; the backends differ
in their parameter marker and in how a run's "produced something" test is spelled, so
those two are class attributes and ``_runs_where`` is the backend's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from mlspan.collector.store.records import RunRecord

_LOWEST_NS = -(2**63)
_HIGHEST_NS = 2**63 - 1


class RunListings:
    """The ``Store`` listing methods over a backend's ``_runs_where``."""

    MARK: ClassVar[str] = "?"
    """The backend's parameter marker."""
    SUPERSEDES: ClassVar[str] = ""
    """SQL condition: a run that can supersede earlier runs of its component (all but a
    failed run that produced nothing); matches the backend's partial index."""

    def _runs_where(self, clause: str, params: Sequence[Any]) -> list[RunRecord]:
        """Runs matching the SQL ``clause`` (with ``MARK`` placeholders)."""
        raise NotImplementedError

    def _where(self, clause: str, params: Sequence[Any]) -> list[RunRecord]:
        return self._runs_where(clause.replace("?", self.MARK), params)

    def child_runs(self, trace_id: str, span_id: str) -> list[RunRecord]:
        """Runs whose parent is this span, oldest first."""
        return self._where(
            "trace_id = ? AND parent_id = ? ORDER BY start_ns, run_id", (trace_id, span_id)
        )

    def component_runs(
        self, component: str, limit: int, since_ns: int | None, until_ns: int | None
    ) -> list[RunRecord]:
        """A component's runs in ``[since, until)``, newest first."""
        low = since_ns if since_ns is not None else _LOWEST_NS
        high = until_ns if until_ns is not None else _HIGHEST_NS
        return self._where(
            "component = ? AND start_ns >= ? AND start_ns < ? "
            "ORDER BY start_ns DESC, run_id DESC LIMIT ?",
            (component, low, high, limit),
        )

    def recent_runs(
        self, limit: int, before: tuple[int, str] | None, component: str | None
    ) -> list[RunRecord]:
        """Keyset page of runs, newest first, strictly older than the cursor."""
        clauses: list[str] = []
        params: list[Any] = []
        if before is not None:
            clauses.append("(start_ns < ? OR (start_ns = ? AND run_id < ?))")
            params.extend((before[0], before[0], before[1]))
        if component is not None:
            clauses.append("component = ?")
            params.append(component)
        where = " AND ".join(clauses) or "1 = 1"
        return self._where(f"{where} ORDER BY start_ns DESC, run_id DESC LIMIT ?", (*params, limit))

    def latest_runs(
        self, identities: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], RunRecord]:
        """Newest superseding run of each ``(service, component)`` (one probe each of
        the partial index built on ``SUPERSEDES``)."""
        found: dict[tuple[str, str], RunRecord] = {}
        for identity in dict.fromkeys(identities):
            runs = self._where(
                f"service = ? AND component = ? AND {self.SUPERSEDES} "
                "ORDER BY start_ns DESC, run_id DESC LIMIT 1",
                identity,
            )
            if runs:
                found[identity] = runs[0]
        return found
