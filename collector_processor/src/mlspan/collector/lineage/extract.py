"""Turn trace batches into lineage records, reading only the keys lineage needs.

A span is a run when it carries ``mlspan.operation.name`` or ``mlspan.component.name``;
other spans are skipped after two map lookups. A search's candidate fits and scores
(``mlspan.call.role`` ``candidate``) are not runs either: they consume the search's own
data, so as runs they would only repeat the search's edges many times over (one more
lookup per ML span; spans without the attribute are runs as before).

Artifacts are keyed by id (a content digest), so edges written from different traces,
services or arrival orders meet at the same artifact without any reconciliation step.

Edges: ``mlspan.io.inputs`` and ``mlspan.dataset.digest`` are inputs;
``mlspan.io.outputs`` and ``mlspan.prediction.digest`` are outputs; the model version is
an output of a fit and an input of every other model operation. ``mlspan.dataset.source``
names the span's ``file:`` artifacts (or, when it has none, its dataset digest), which is
what lets ``mlspan trace data/predictions.csv`` find an artifact by path.

Values are checked on receipt (see ``sanitize``): timestamps a store cannot hold, an end
before the start, hyperparameters with non-finite numbers or deep nesting, oversized
values and mlspan attributes of the wrong type are clamped and counted by reason. A span
that still cannot be read is left out alone (counted in ``Extracted.invalid_spans``); the
rest of its batch is recorded.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

from mlspan.collector.lineage.sanitize import (
    CLAMP_WRONG_TYPE,
    MAX_ARTIFACT_ID,
    MAX_NS,
    MAX_TEXT,
    clamp_times,
    clean_params,
    cut,
    params_need_check,
    usable_ids,
)
from mlspan.collector.pdata import TraceBatch, string_attribute
from mlspan.collector.pdata.batch import SERVICE_NAME
from mlspan.collector.store import (
    INPUT,
    OUTPUT,
    ComponentRecord,
    IoRecord,
    LineageBatch,
    NameRecord,
    RunRecord,
)
from mlspan.semconv import (
    CALL_ROLE,
    CODE_COMMIT,
    CODE_DIGEST,
    COMPONENT_NAME,
    COMPONENT_OWNER,
    COMPONENT_TAGS,
    DATASET_DIGEST,
    DATASET_SOURCE,
    IO_INPUTS,
    IO_OUTPUTS,
    MODEL_CLASS,
    MODEL_NAME,
    MODEL_PARAMS,
    MODEL_VERSION,
    OPERATION_NAME,
    PREDICTION_DIGEST,
    CallRole,
    OperationName,
)

_STATUS: Final = ("unset", "ok", "error")
_FIT_OPERATIONS: Final = frozenset(
    op.value
    for op in (
        OperationName.FIT,
        OperationName.PARTIAL_FIT,
        OperationName.FIT_TRANSFORM,
        OperationName.FIT_PREDICT,
    )
)
_FILE_PREFIX: Final = "file:"
_CANDIDATE: Final = CallRole.CANDIDATE.value
_STRING_TYPES: Final = frozenset({None, "string_value"})
_ARRAY_TYPES: Final = frozenset({None, "string_value", "array_value"})

logger = logging.getLogger(__name__)


def _texts(value: Any, counts: Counter[str]) -> list[str]:
    """A string-array attribute value; a single string counts as one element.

    Reads ``string_value`` first instead of asking which field is set: an array's
    ``string_value`` is empty and any other type's ``array_value`` has no values.
    Elements that are not strings, and ids past ``MAX_ARTIFACT_ID``, are left out and
    counted.
    """
    if value is None:
        return []
    text: str = value.string_value
    if text:
        return [text] if len(text) <= MAX_ARTIFACT_ID else usable_ids([text], counts)
    if value.WhichOneof("value") not in _ARRAY_TYPES:
        counts[CLAMP_WRONG_TYPE] += 1
        return []
    texts = [v.string_value for v in value.array_value.values]
    if all(texts) and max(map(len, texts), default=0) <= MAX_ARTIFACT_ID:
        return texts
    wrong = sum(1 for v in value.array_value.values if v.WhichOneof("value") not in _STRING_TYPES)
    if wrong:
        counts[CLAMP_WRONG_TYPE] += wrong
    return usable_ids(texts, counts)


def _unique(items: list[str]) -> tuple[str, ...]:
    """``items`` without repeats, in order (short lists: no dict unless needed)."""
    if len(items) == 1:
        return (items[0],)
    if len(items) == 2 and items[0] != items[1]:
        return (items[0], items[1])
    return tuple(dict.fromkeys(items))


def _string(value: Any, counts: Counter[str]) -> str:
    """A string attribute; "" (counted) when it holds another type, cut when too long."""
    if value is None:
        return ""
    text: str = value.string_value
    if not text:
        if value.WhichOneof("value") not in _STRING_TYPES:
            counts[CLAMP_WRONG_TYPE] += 1
        return ""
    return text if len(text) <= MAX_TEXT else cut(text, counts)


@dataclass
class Extracted(LineageBatch):
    """A batch's lineage records, with what was repaired or left out on the way."""

    clamped: Counter[str] = field(default_factory=Counter)
    """Values clamped on receipt, by reason (``sanitize.CLAMP_*``)."""
    invalid_spans: int = 0
    """ML spans left out because they could not be read."""


def extract(batch: TraceBatch, skip_operations: frozenset[str] = frozenset()) -> Extracted:
    """The runs, edges, names and components one batch contributes.

    Spans whose operation is in ``skip_operations``, and candidate spans, are not runs.
    Keys are read only where the span kind can carry them (code and owner on components,
    parameters on fits): each lookup of an absent key still costs a fraction of a
    microsecond. Records are built with ``tuple.__new__`` (no Python-level constructor
    call per record), and a component is one record per batch (its latest span's start,
    owner and tags). A span's records are added only once all of it was read, so a span
    that raises is left out whole and the others are kept; the body stays inline (a
    call per span costs more than the rest of the checks together).
    """
    out = Extracted()
    counts = out.clamped
    add_run = out.runs.append
    add_io = out.io.append
    add_names = out.names.extend
    new = tuple.__new__
    fit_operations = _FIT_OPERATIONS
    candidate = _CANDIDATE
    max_ns = MAX_NS
    max_text = MAX_TEXT
    max_id = MAX_ARTIFACT_ID
    received_ns = int(batch.received_at * 1e9)
    plain: dict[str, int] = {}
    """Latest start per component that declared no owner or tags (no key tuple to build)."""
    declared: dict[tuple[str, str, tuple[str, ...]], int] = {}
    for resource in batch.view.resource_spans:
        try:
            service = cut(
                string_attribute(resource.resource.attributes, SERVICE_NAME) or "", counts
            )
        except Exception:
            logger.debug("unreadable service name", exc_info=True)
            service = ""
        for scope in resource.scope_spans:
            for span in scope.spans:
                try:
                    get = span.attributes.get
                    value = get(OPERATION_NAME)
                    operation: str = "" if value is None else value.string_value
                    value = get(COMPONENT_NAME)
                    component: str = "" if value is None else value.string_value
                    if (not operation and not component) or operation in skip_operations:
                        continue
                    value = get(CALL_ROLE)
                    if value is not None and value.string_value == candidate:
                        continue
                    run_id: str = span.span_id.hex()
                    start: int = span.start_time_unix_nano
                    end: int = span.end_time_unix_nano
                    if not 0 < start <= end <= max_ns:
                        start, end = clamp_times(start, end, received_ns, counts)
                    name: str = span.name
                    status = span.status
                    message: str = status.message
                    if len(name) + len(message) + len(operation) + len(component) > max_text:
                        name, message = cut(name, counts), cut(message, counts)
                        operation, component = cut(operation, counts), cut(component, counts)
                    fit = operation in fit_operations
                    commit = digest = params = model_class = model_name = model_version = ""
                    if component:
                        commit = _string(get(CODE_COMMIT), counts)
                        digest = _string(get(CODE_DIGEST), counts)
                    value = get(MODEL_VERSION)
                    if value is not None:
                        model_version = _string(value, counts)
                        model_class = _string(get(MODEL_CLASS), counts)
                        model_name = _string(get(MODEL_NAME), counts)
                        if fit:
                            value = get(MODEL_PARAMS)
                            if value is not None:
                                params = value.string_value
                                if not params:
                                    _string(value, counts)
                                elif params_need_check(params):
                                    params = clean_params(params, counts)
                    code = status.code
                    run = (
                        run_id,
                        span.trace_id.hex(),
                        span.parent_span_id.hex(),
                        service,
                        name,
                        operation,
                        component or name,
                        start,
                        end,
                        _STATUS[code] if 0 <= code < 3 else "unset",
                        message,
                        commit,
                        digest,
                        params,
                        model_class,
                        model_name,
                        model_version,
                    )
                    inputs = _texts(get(IO_INPUTS), counts)
                    outputs = _texts(get(IO_OUTPUTS), counts)
                    dataset = _string(get(DATASET_DIGEST), counts)
                    if len(dataset) > max_id:
                        dataset = ""
                    if dataset and dataset not in outputs:
                        # A read's dataset is what it produced: an output, not an input.
                        inputs.append(dataset)
                    value = get(PREDICTION_DIGEST)
                    if value is not None:
                        prediction = _string(value, counts)
                        if prediction and len(prediction) <= max_id:
                            outputs.append(prediction)
                    if model_version and len(model_version) <= max_id:
                        (outputs if fit else inputs).append(model_version)
                    names: list[NameRecord] = []
                    value = get(DATASET_SOURCE)
                    if value is not None:
                        source = _string(value, counts)
                        if source:
                            files = [a for a in inputs if a.startswith(_FILE_PREFIX)]
                            files += [a for a in outputs if a.startswith(_FILE_PREFIX)]
                            artifacts = _unique(files) if files else (dataset,) if dataset else ()
                            names = [new(NameRecord, (a, source, start)) for a in artifacts]
                    owner = ""
                    tags: Any = None
                    if component:
                        owner = _string(get(COMPONENT_OWNER), counts)
                        tags = get(COMPONENT_TAGS)
                        if tags is not None:
                            tags = tuple(cut(t, counts) for t in _texts(tags, counts))
                except Exception:
                    logger.debug("lineage could not read a span", exc_info=True)
                    out.invalid_spans += 1
                    continue
                add_run(new(RunRecord, run))
                if inputs:
                    add_io(new(IoRecord, (run_id, INPUT, _unique(inputs), start)))
                if outputs:
                    add_io(new(IoRecord, (run_id, OUTPUT, _unique(outputs), start)))
                if names:
                    add_names(names)
                if not owner and tags is None:
                    key = component or name
                    if plain.get(key, -1) < start:
                        plain[key] = start
                    continue
                declared_key = (component, owner, tags or ())
                if declared.get(declared_key, -1) < start:
                    declared[declared_key] = start
    no_tags: tuple[str, ...] = ()
    seen = [(at, name, "", no_tags) for name, at in plain.items()]
    seen += [(at, *key) for key, at in declared.items()]
    seen.sort(key=lambda item: item[0])
    out.components.extend(ComponentRecord(name, owner, tags, at) for at, name, owner, tags in seen)
    return out
