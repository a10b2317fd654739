"""Finds what the registry needs in trace batches, reading few keys per span.

A span counts when its ``mlspan.operation.name`` is one of:

- a fit (``fit``, ``fit_transform``, ``fit_predict``; ``partial_fit`` when configured) of
  the user's own call (``mlspan.call.role`` ``user`` or absent) with a model version: a
  ``FitRecord`` with its parameters, data digests, libraries, search results and the
  training data's feature summaries (the span's ``mlspan.feature.summary`` events);
- ``summary`` with dataset role ``train`` and a model version: the further feature
  summaries of a wide training frame;
- ``score`` of the user's call carrying ``mlspan.metric.value``: a metric (source
  ``score``) on the scored data's digest;
- a search's fit with ``mlspan.search.best_score``: a metric (source ``search``);
- ``component`` with ``mlspan.metric.logged`` events: metrics (source ``logged``) of the
  version the event names, else of the models the component produced, else of those it
  consumed;
- a predict-like call with a model version: one more serving call for the span's service.

Other spans cost one map look-up. A span that cannot be read is counted, never raised.
Values a store cannot hold are clamped with the lineage side's ``sanitize`` helpers:
timestamps of 0 or past 2^63 - 1 become the span's other time or the receipt time, long
texts are cut, digests too long to be one drop the record, hyperparameters with
``NaN``/``Infinity`` are rewritten; the counts are ``Extracted.clamped``.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

from mlspan.collector.lineage.sanitize import (
    MAX_ARTIFACT_ID,
    MAX_NS,
    clamp_times,
    clean_params,
    cut,
    params_need_check,
)
from mlspan.collector.models.records import (
    Extracted,
    FitRecord,
    MetricRecord,
    ServingRecord,
    SummaryRecord,
)
from mlspan.collector.pdata import (
    TraceBatch,
    int_attribute,
    plain_attributes,
    string_attribute,
    strings_attribute,
)
from mlspan.collector.pdata.batch import SERVICE_NAME
from mlspan.semconv import attributes as attr
from mlspan.semconv.events import FEATURE_SUMMARY, METRIC_LOGGED
from mlspan.semconv.values import CallRole, DatasetRole, OperationName

logger = logging.getLogger(__name__)

FIT_OPERATIONS: Final = frozenset(
    {OperationName.FIT.value, OperationName.FIT_TRANSFORM.value, OperationName.FIT_PREDICT.value}
)
SERVING_OPERATIONS: Final = frozenset(
    {
        OperationName.PREDICT.value,
        OperationName.PREDICT_PROBA.value,
        OperationName.PREDICT_LOG_PROBA.value,
        OperationName.DECISION_FUNCTION.value,
    }
)
SCORE: Final = OperationName.SCORE.value
COMPONENT: Final = OperationName.COMPONENT.value
SUMMARY: Final = OperationName.SUMMARY.value
PARTIAL_FIT: Final = OperationName.PARTIAL_FIT.value
MODEL_PREFIX: Final = "model:"
MAX_NAME: Final = 256
MAX_METRIC_NAME: Final = 128
_USER_ROLES: Final = frozenset({"", CallRole.USER.value})
_TRAIN: Final = DatasetRole.TRAIN.value


def model_name(attributes: Any) -> str:
    """``mlspan.model.name``, else the short name of ``mlspan.model.class``."""
    name = string_attribute(attributes, attr.MODEL_NAME)
    if not name:
        name = (string_attribute(attributes, attr.MODEL_CLASS) or "").rsplit(".", 1)[-1]
    return name[:MAX_NAME]


def extract(
    batch: TraceBatch,
    partial_fit: bool = False,
    known: Callable[[str, str, str], bool] = lambda service, name, digest: False,
) -> Extracted:
    """Everything in ``batch`` the registry keeps (see the module docstring).

    ``known(service, name, digest)`` says whether a version is registered already: a
    further fit of it is read no further than its identity and time."""
    found = Extracted()
    received_ns = min(max(int(batch.received_at * 1e9), 1), MAX_NS)
    clamped = found.clamped
    fits = FIT_OPERATIONS | {PARTIAL_FIT} if partial_fit else FIT_OPERATIONS
    serving: Counter[tuple[str, str]] = Counter()
    serving_at: dict[tuple[str, str], int] = {}
    for resource in batch.view.resource_spans:
        service = cut(string_attribute(resource.resource.attributes, SERVICE_NAME) or "", clamped)
        for scope in resource.scope_spans:
            for span in scope.spans:
                attributes = span.attributes
                value = attributes.get(attr.OPERATION_NAME)
                if value is None:
                    continue
                operation: str = value.string_value
                try:
                    if operation in SERVING_OPERATIONS:
                        version = attributes.get(attr.MODEL_VERSION)
                        if version is not None and _digest(version.string_value):
                            key = (version.string_value, service)
                            serving[key] += 1
                            at = _time(span.end_time_unix_nano, received_ns, clamped)
                            serving_at[key] = max(serving_at.get(key, 0), at)
                    elif operation in fits:
                        _fit(found, service, span, known, received_ns)
                    elif operation == SCORE:
                        _score(found, service, span, received_ns)
                    elif operation == COMPONENT:
                        _component(found, service, span, received_ns)
                    elif operation == SUMMARY:
                        _summary(found, service, span, known)
                except Exception:
                    logger.debug("models: a span could not be read", exc_info=True)
                    found.bad += 1
    found.serving = [
        ServingRecord(digest, service, serving_at[(digest, service)], calls)
        for (digest, service), calls in serving.items()
    ]
    return found


def _time(value: int, received_ns: int, clamped: Counter[str]) -> int:
    """One timestamp a store can hold (``clamp_times`` of it as start and end)."""
    return clamp_times(int(value), int(value), received_ns, clamped)[0]


def _digest(text: str) -> bool:
    """True for a model version digest worth keeping (set, not absurdly long)."""
    return 0 < len(text) <= MAX_ARTIFACT_ID


def _role(attributes: Any) -> str:
    return string_attribute(attributes, attr.CALL_ROLE) or ""


def _summaries(span: Any) -> tuple[dict[str, object], ...]:
    """The span's feature-summary events as dicts of their scalar attributes (the checked
    decoder reads them back when a diff needs them)."""
    return tuple(
        {
            key: item
            for key, item in plain_attributes(event.attributes).items()
            if isinstance(item, str | int | float | bool)
        }
        for event in span.events
        if event.name == FEATURE_SUMMARY
    )


def _fit(
    found: Extracted,
    service: str,
    span: Any,
    known: Callable[[str, str, str], bool],
    received_ns: int,
) -> None:
    attributes = span.attributes
    digest = string_attribute(attributes, attr.MODEL_VERSION) or ""
    if not _digest(digest) or _role(attributes) not in _USER_ROLES:
        return
    name = model_name(attributes)
    clamped = found.clamped
    start, end = clamp_times(
        int(span.start_time_unix_nano), int(span.end_time_unix_nano), received_ns, clamped
    )
    if known(service, name, digest):
        found.fits.append(refit_record(service, name, digest, start))
        return
    fit = FitRecord(
        service=service,
        name=name,
        digest=digest,
        model_class=cut(string_attribute(attributes, attr.MODEL_CLASS) or "", clamped),
        params=_params(string_attribute(attributes, attr.MODEL_PARAMS) or "", clamped),
        run_id=bytes(span.span_id).hex(),
        trace_id=bytes(span.trace_id).hex(),
        parent_id=bytes(span.parent_span_id).hex(),
        start_ns=start,
        end_ns=end,
        train_digest=cut(string_attribute(attributes, attr.DATASET_DIGEST) or "", clamped),
        target_digest=cut(string_attribute(attributes, attr.DATASET_TARGET_DIGEST) or "", clamped),
        rows=int_attribute(attributes, attr.DATASET_ROWS),
        columns=int_attribute(attributes, attr.DATASET_COLUMNS),
        framework_version=cut(
            string_attribute(attributes, attr.MODEL_FRAMEWORK_VERSION) or "", clamped
        ),
        libraries=cut(string_attribute(attributes, attr.RUNTIME_LIBRARIES) or "", clamped),
        search=_search(attributes, clamped),
        summaries=(lambda: _summaries(span)) if span.events else tuple,
    )
    found.fits.append(fit)
    best = _number(attributes, attr.SEARCH_BEST_SCORE)
    if best is not None:
        found.metrics.append(
            MetricRecord(
                digest, "search", "cv_score", best, None, fit.train_digest, fit.end_ns, service
            )
        )


def refit_record(service: str, name: str, digest: str, start_ns: int) -> FitRecord:
    """A further fit of a registered version: only its identity and time matter."""
    return FitRecord(
        service,
        name,
        digest,
        "",
        "",
        "",
        "",
        "",
        start_ns,
        start_ns,
        "",
        "",
        None,
        None,
        "",
        "",
        "",
    )


def _params(text: str, clamped: Counter[str]) -> str:
    """Hyperparameter JSON the API can serve (``sanitize.clean_params`` when needed)."""
    return clean_params(text, clamped) if params_need_check(text) else text


def _search(attributes: Any, clamped: Counter[str]) -> str:
    """The search's results table with its number of folds added as ``splits`` (dropped
    when longer than hyperparameters may be, or with non-finite numbers rewritten)."""
    text = _params(string_attribute(attributes, attr.SEARCH_RESULTS) or "", clamped)
    splits = int_attribute(attributes, attr.SEARCH_SPLITS)
    if not text or splits is None:
        return text
    try:
        table = json.loads(text)
    except ValueError:
        return text
    if not isinstance(table, dict):
        return text
    table["splits"] = splits
    return json.dumps(table, separators=(",", ":"), ensure_ascii=False)


def _summary(
    found: Extracted, service: str, span: Any, known: Callable[[str, str, str], bool]
) -> None:
    """Summaries of a wide training frame's child span, unless its version is registered
    already (they come in the batch of the fit that makes it, before the fit span)."""
    attributes = span.attributes
    digest = string_attribute(attributes, attr.MODEL_VERSION) or ""
    if not digest or not span.events or known(service, model_name(attributes), digest):
        return
    if string_attribute(attributes, attr.DATASET_ROLE) == _TRAIN:
        summaries = _summaries(span)
        if summaries:
            found.summaries.append(SummaryRecord(digest, summaries))


def _score(found: Extracted, service: str, span: Any, received_ns: int) -> None:
    attributes = span.attributes
    digest = string_attribute(attributes, attr.MODEL_VERSION) or ""
    value = _number(attributes, attr.METRIC_VALUE)
    if not _digest(digest) or value is None or _role(attributes) not in _USER_ROLES:
        return
    name = (string_attribute(attributes, attr.METRIC_NAME) or "score")[:MAX_METRIC_NAME]
    rows = int_attribute(attributes, attr.METRIC_ROWS)
    if rows is None:
        rows = int_attribute(attributes, attr.DATASET_ROWS)
    dataset = cut(string_attribute(attributes, attr.DATASET_DIGEST) or "", found.clamped)
    at = _time(span.end_time_unix_nano, received_ns, found.clamped)
    found.metrics.append(MetricRecord(digest, "score", name, value, rows, dataset, at, service))


def _component(found: Extracted, service: str, span: Any, received_ns: int) -> None:
    if not span.events:
        return
    attributes = span.attributes
    outputs = [
        a for a in strings_attribute(attributes, attr.IO_OUTPUTS) if a.startswith(MODEL_PREFIX)
    ]
    inputs = [
        a for a in strings_attribute(attributes, attr.IO_INPUTS) if a.startswith(MODEL_PREFIX)
    ]
    models = outputs or inputs
    for event in span.events:
        if event.name != METRIC_LOGGED:
            continue
        values = event.attributes
        value = _number(values, attr.METRIC_VALUE)
        name = (string_attribute(values, attr.METRIC_NAME) or "")[:MAX_METRIC_NAME]
        if value is None or not name:
            found.bad += 1
            continue
        named = string_attribute(values, attr.MODEL_VERSION)
        rows = int_attribute(values, attr.METRIC_ROWS)
        at = _time(event.time_unix_nano or span.end_time_unix_nano, received_ns, found.clamped)
        for digest in [named] if named else models:
            if not _digest(digest):
                continue
            found.metrics.append(MetricRecord(digest, "logged", name, value, rows, "", at, service))


def _number(attributes: Any, key: str) -> float | None:
    if key not in attributes:
        return None
    value = attributes[key]
    which = value.WhichOneof("value")
    if which not in ("double_value", "int_value"):
        return None
    number = float(getattr(value, which))
    return number if math.isfinite(number) else None
