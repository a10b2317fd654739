"""Typed bodies of the lineage routes: what they accept and answer (pydantic models).

Request models validate write bodies (strict JSON types; unknown keys are ignored);
response models document the answers in the OpenAPI document. The answers themselves
are built by ``lineage.queries``; ``tests/collector/api/test_lineage_models.py`` checks
real answers against these models, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must be a non-empty string")
    return text


NonEmpty = Annotated[str, StringConstraints(min_length=1)]
Text = Annotated[str, AfterValidator(_not_blank)]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class FlagBody(_Body):
    """``POST /api/v1/artifacts/{ref}/flag`` (the body may be left out)."""

    reason: str = Field("", description="Why the output is wrong")


class TagsBody(_Body):
    """``POST .../tags``: tags to add and to remove."""

    add: list[NonEmpty] = Field(default_factory=list)
    remove: list[NonEmpty] = Field(default_factory=list)


class NoteBody(_Body):
    """``POST .../notes``: the note's text (not blank)."""

    text: Text


class Run(_Answer):
    """One run (a span that did ML work)."""

    run_id: str
    trace_id: str
    parent_id: str
    service: str
    name: str
    operation: str
    component: str
    start_ns: int
    end_ns: int
    duration_ms: float
    status: str
    status_message: str
    code_commit: str
    code_digest: str
    params: Any = Field(None, description="Hyperparameters as recorded (strict JSON)")
    model_class: str
    model_name: str
    model_version: str


class Artifact(_Answer):
    """A data set, model or file, by content digest."""

    artifact_id: str
    kind: str = ""
    names: list[str] = Field(default_factory=list)
    flagged: bool = False


class GraphRun(Run):
    """A run in a lineage graph, with its distance from the root in runs."""

    depth: int


class GraphArtifact(Artifact):
    """An artifact in a lineage graph."""

    depth: int


class Edge(BaseModel):
    """A lineage edge between a run and an artifact id."""

    model_config = ConfigDict(populate_by_name=True)

    source: str = Field(alias="from")
    target: str = Field(alias="to")


class Resolved(_Answer):
    """What a reference resolved to."""

    matched_by: str
    run: Run | None = None
    artifact: Artifact | None = None
    alternatives: list[str] = Field(default_factory=list)


class LineageGraph(_Answer):
    """The upstream (trace) or downstream (impact) DAG of a run or artifact."""

    root: Resolved
    runs: list[GraphRun]
    artifacts: list[GraphArtifact]
    edges: list[Edge]
    truncated: bool
    warnings: list[Any] = Field(default_factory=list, description="Staleness warnings")


class RunsPage(_Answer):
    """A page of runs, newest first."""

    runs: list[Run]
    next_cursor: str | None = Field(None, description="Pass back as cursor for the next page")


class Note(_Answer):
    """A note on a run or component."""

    note_id: int
    kind: str
    target: str
    text: str
    created_ns: int


class Notes(_Answer):
    """Notes of a run or component."""

    notes: list[Note]


class Tags(_Answer):
    """Tags of a run or component after a change."""

    kind: str
    target: str
    tags: list[str]


class Component(_Answer):
    """A pipeline component."""

    name: str
    owner: str | None = None
    first_seen_ns: int
    last_seen_ns: int
    tags: list[str]
    notes: list[Note]


class ComponentHistory(_Answer):
    """A component and its runs, newest first."""

    component: Component
    runs: list[Run]


class RunIo(Artifact):
    """An input or output of a run, with the other runs that made or used it."""

    produced_by: list[str] = Field(default_factory=list)
    consumed_by: list[str] = Field(default_factory=list)


class RunDetail(_Answer):
    """One run with its inputs, outputs, family, tags, notes and staleness."""

    run: Run
    inputs: list[RunIo]
    outputs: list[RunIo]
    parent: Run | None
    children: list[Run]
    tags: list[str]
    component_tags: list[str]
    notes: list[Note]
    warnings: list[Any]


class Flag(_Answer):
    """A flagged output."""

    artifact_id: str
    reason: str
    flagged_ns: int


class Flags(_Answer):
    """Every flagged output."""

    flags: list[Flag]


class ReviewRun(_Answer):
    """A run and how many flagged outputs' traces contain it."""

    run: Run
    count: int
    flagged_outputs: list[str]


class Review(_Answer):
    """Runs ranked by how many flagged outputs they feed."""

    flagged: int
    runs: list[ReviewRun]
