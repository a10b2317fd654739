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


def _text(attributes: Any, key: str) -> str:
    """A string attribute, "" when absent or of another type (one C-level map lookup)."""
    value = attributes.get(key)
    return "" if value is None else str(value.string_value)


def _texts(attributes: Any, key: str) -> list[str]:
    """A string-array attribute; a single string counts as one element."""
    value = attributes.get(key)
    if value is None:
        return []
    if value.HasField("array_value"):
        return [v.string_value for v in value.array_value.values if v.string_value]
    return [value.string_value] if value.string_value else []


def extract(batch: TraceBatch) -> LineageBatch:
    """The runs, edges, names and components one batch contributes."""
    out = LineageBatch()
    components: dict[str, ComponentRecord] = {}
    for ref in batch.spans():
        span = ref.span
        attributes = span.attributes
        operation = _text(attributes, OPERATION_NAME)
        component = _text(attributes, COMPONENT_NAME)
        if not operation and not component:
            continue
        run_id = bytes(span.span_id).hex()
        start = int(span.start_time_unix_nano)
        model_version = _text(attributes, MODEL_VERSION)
        status = span.status
        out.runs.append(
            RunRecord(
                run_id,
                bytes(span.trace_id).hex(),
                bytes(span.parent_span_id).hex(),
                ref.service,
                span.name,
                operation,
                component or span.name,
                start,
                int(span.end_time_unix_nano),
                _STATUS[status.code] if 0 <= status.code < 3 else "unset",
                status.message,
                _text(attributes, CODE_COMMIT),
                _text(attributes, CODE_DIGEST),
                _text(attributes, MODEL_PARAMS),
                _text(attributes, MODEL_CLASS),
                _text(attributes, MODEL_NAME),
                model_version,
            )
        )
        inputs = _texts(attributes, IO_INPUTS)
        outputs = _texts(attributes, IO_OUTPUTS)
        dataset = _text(attributes, DATASET_DIGEST)
        if dataset:
            inputs.append(dataset)
        prediction = _text(attributes, PREDICTION_DIGEST)
        if prediction:
            outputs.append(prediction)
        if model_version:
            (outputs if operation in _FIT_OPERATIONS else inputs).append(model_version)
        edges = out.io
        for artifact in dict.fromkeys(inputs):
            edges.append(IoRecord(run_id, INPUT, artifact, start))
        for artifact in dict.fromkeys(outputs):
            edges.append(IoRecord(run_id, OUTPUT, artifact, start))
        source = _text(attributes, DATASET_SOURCE)
        if source:
            files = [a for a in (*inputs, *outputs) if a.startswith(_FILE_PREFIX)]
            for artifact in dict.fromkeys(files or ([dataset] if dataset else [])):
                out.names.append(NameRecord(artifact, source, start))
        if component:
            owner = _text(attributes, COMPONENT_OWNER)
            tags = tuple(_texts(attributes, COMPONENT_TAGS))
            components[component] = ComponentRecord(component, owner, tags, start)
        elif span.name not in components:
            components[span.name] = ComponentRecord(span.name, "", (), start)
    out.components.extend(components.values())
    return out
