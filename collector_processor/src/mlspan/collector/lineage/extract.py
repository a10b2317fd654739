"""Turn trace batches into lineage records, reading only the keys lineage needs.

A span is a run when it carries ``mlspan.operation.name`` or ``mlspan.component.name``;
other spans are skipped after two map lookups. Artifacts are keyed by id (a content
digest), so edges written from different traces, services or arrival orders meet at
the same artifact without any reconciliation step.

Edges: ``mlspan.io.inputs`` and ``mlspan.dataset.digest`` are inputs;
``mlspan.io.outputs`` and ``mlspan.prediction.digest`` are outputs; the model version is
an output of a fit and an input of every other model operation. ``mlspan.dataset.source``
names the span's ``file:`` artifacts (or, when it has none, its dataset digest), which is
what lets ``mlspan trace data/predictions.csv`` find an artifact by path.
"""

from __future__ import annotations

from typing import Any, Final

from mlspan.collector.pdata import TraceBatch
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


def _texts(value: Any) -> list[str]:
    """A string-array attribute value; a single string counts as one element."""
    if value is None:
        return []
    if value.HasField("array_value"):
        return [v.string_value for v in value.array_value.values if v.string_value]
    return [value.string_value] if value.string_value else []


def extract(batch: TraceBatch, skip_operations: frozenset[str] = frozenset()) -> LineageBatch:
    """The runs, edges, names and components one batch contributes.

    Spans whose operation is in ``skip_operations`` are not runs. Keys are read only
    where the span kind can carry them (code and owner on components, parameters on
    fits): each lookup of an absent key still costs a fraction of a microsecond.
    """
    out = LineageBatch()
    runs = out.runs
    edges = out.io
    components: dict[str, ComponentRecord] = {}
    for ref in batch.spans():
        span = ref.span
        get = span.attributes.get
        value = get(OPERATION_NAME)
        operation = "" if value is None else value.string_value
        value = get(COMPONENT_NAME)
        component = "" if value is None else value.string_value
        if (not operation and not component) or operation in skip_operations:
            continue
        run_id = span.span_id.hex()
        start = span.start_time_unix_nano
        name = span.name
        fit = operation in _FIT_OPERATIONS
        commit = digest = params = model_class = model_name = model_version = ""
        if component:
            value = get(CODE_COMMIT)
            commit = "" if value is None else value.string_value
            value = get(CODE_DIGEST)
            digest = "" if value is None else value.string_value
        value = get(MODEL_VERSION)
        if value is not None:
            model_version = value.string_value
            value = get(MODEL_CLASS)
            model_class = "" if value is None else value.string_value
            value = get(MODEL_NAME)
            model_name = "" if value is None else value.string_value
            if fit:
                value = get(MODEL_PARAMS)
                params = "" if value is None else value.string_value
        status = span.status
        code = status.code
        runs.append(
            RunRecord(
                run_id,
                span.trace_id.hex(),
                span.parent_span_id.hex(),
                ref.service,
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
            )
        )
        inputs = _texts(get(IO_INPUTS))
        outputs = _texts(get(IO_OUTPUTS))
        value = get(DATASET_DIGEST)
        dataset = "" if value is None else value.string_value
        if dataset and dataset not in outputs:
            # A read's dataset is what it produced: it is an output, not an input.
            inputs.append(dataset)
        value = get(PREDICTION_DIGEST)
        if value is not None and value.string_value:
            outputs.append(value.string_value)
        if model_version:
            (outputs if fit else inputs).append(model_version)
        for artifact in dict.fromkeys(inputs):
            edges.append(IoRecord(run_id, INPUT, artifact, start))
        for artifact in dict.fromkeys(outputs):
            edges.append(IoRecord(run_id, OUTPUT, artifact, start))
        value = get(DATASET_SOURCE)
        if value is not None and value.string_value:
            files = [a for a in (*inputs, *outputs) if a.startswith(_FILE_PREFIX)]
            for artifact in dict.fromkeys(files or ([dataset] if dataset else [])):
                out.names.append(NameRecord(artifact, value.string_value, start))
        if component:
            value = get(COMPONENT_OWNER)
            owner = "" if value is None else value.string_value
            tags = tuple(_texts(get(COMPONENT_TAGS)))
            components[component] = ComponentRecord(component, owner, tags, start)
        elif name not in components:
            components[name] = ComponentRecord(name, "", (), start)
    out.components.extend(components.values())
    return out
