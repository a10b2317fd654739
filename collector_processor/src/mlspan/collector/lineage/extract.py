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
"""

from __future__ import annotations

from typing import Any, Final

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


def _texts(value: Any) -> list[str]:
    """A string-array attribute value; a single string counts as one element.

    Reads ``string_value`` first instead of asking which field is set: an array's
    ``string_value`` is empty and any other type's ``array_value`` has no values.
    """
    if value is None:
        return []
    text: str = value.string_value
    if text:
        return [text]
    texts = [v.string_value for v in value.array_value.values]
    return texts if all(texts) else [t for t in texts if t]


def _unique(items: list[str]) -> tuple[str, ...]:
    """``items`` without repeats, in order (short lists: no dict unless needed)."""
    if len(items) == 1:
        return (items[0],)
    if len(items) == 2 and items[0] != items[1]:
        return (items[0], items[1])
    return tuple(dict.fromkeys(items))


def _string(value: Any) -> str:
    return "" if value is None else str(value.string_value)


def extract(batch: TraceBatch, skip_operations: frozenset[str] = frozenset()) -> LineageBatch:
    """The runs, edges, names and components one batch contributes.

    Spans whose operation is in ``skip_operations``, and candidate spans, are not runs.
    Keys are read only where the span kind can carry them (code and owner on components,
    parameters on fits): each lookup of an absent key still costs a fraction of a
    microsecond. Records are built with ``tuple.__new__`` (no Python-level constructor
    call per record), and a component is one record per batch (its latest span's start,
    owner and tags).
    """
    out = LineageBatch()
    add_run = out.runs.append
    add_io = out.io.append
    add_name = out.names.append
    new = tuple.__new__
    fit_operations = _FIT_OPERATIONS
    candidate = _CANDIDATE
    plain: dict[str, int] = {}
    """Latest start per component that declared no owner or tags (no key tuple to build)."""
    declared: dict[tuple[str, str, tuple[str, ...]], int] = {}
    for resource in batch.view.resource_spans:
        service = string_attribute(resource.resource.attributes, SERVICE_NAME) or ""
        for scope in resource.scope_spans:
            for span in scope.spans:
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
                name: str = span.name
                fit = operation in fit_operations
                commit = digest = params = model_class = model_name = model_version = ""
                if component:
                    commit = _string(get(CODE_COMMIT))
                    digest = _string(get(CODE_DIGEST))
                value = get(MODEL_VERSION)
                if value is not None:
                    model_version = value.string_value
                    model_class = _string(get(MODEL_CLASS))
                    model_name = _string(get(MODEL_NAME))
                    if fit:
                        params = _string(get(MODEL_PARAMS))
                status = span.status
                code = status.code
                add_run(
                    new(
                        RunRecord,
                        (
                            run_id,
                            span.trace_id.hex(),
                            span.parent_span_id.hex(),
                            service,
                            name,
                            operation,
                            component or name,
                            start,
                            span.end_time_unix_nano,
                            _STATUS[code] if 0 <= code < 3 else "unset",
                            status.message,
                            commit,
                            digest,
                            params,
                            model_class,
                            model_name,
                            model_version,
                        ),
                    )
                )
                inputs = _texts(get(IO_INPUTS))
                outputs = _texts(get(IO_OUTPUTS))
                dataset = _string(get(DATASET_DIGEST))
                if dataset and dataset not in outputs:
                    # A read's dataset is what it produced: it is an output, not an input.
                    inputs.append(dataset)
                value = get(PREDICTION_DIGEST)
                if value is not None and value.string_value:
                    outputs.append(value.string_value)
                if model_version:
                    (outputs if fit else inputs).append(model_version)
                if inputs:
                    add_io(new(IoRecord, (run_id, INPUT, _unique(inputs), start)))
                if outputs:
                    add_io(new(IoRecord, (run_id, OUTPUT, _unique(outputs), start)))
                value = get(DATASET_SOURCE)
                if value is not None and value.string_value:
                    source: str = value.string_value
                    files = [a for a in inputs if a.startswith(_FILE_PREFIX)]
                    files += [a for a in outputs if a.startswith(_FILE_PREFIX)]
                    for artifact in _unique(files) if files else (dataset,) if dataset else ():
                        add_name(new(NameRecord, (artifact, source, start)))
                if not component:
                    if plain.get(name, -1) < start:
                        plain[name] = start
                    continue
                value = get(COMPONENT_OWNER)
                owner = "" if value is None else value.string_value
                value = get(COMPONENT_TAGS)
                if not owner and value is None:
                    if plain.get(component, -1) < start:
                        plain[component] = start
                    continue
                key = (component, owner, tuple(_texts(value)))
                if declared.get(key, -1) < start:
                    declared[key] = start
    no_tags: tuple[str, ...] = ()
    seen = [(at, name, "", no_tags) for name, at in plain.items()]
    seen += [(at, *key) for key, at in declared.items()]
    seen.sort(key=lambda item: item[0])
    out.components.extend(ComponentRecord(name, owner, tags, at) for at, name, owner, tags in seen)
    return out
