"""Metrics and model names of component runs: ``run.log_metric`` and ``model_name=``.

``run.log_metric("f1", 0.87, rows=2000)`` adds an ``mlspan.metric.logged`` event to the
component's span with ``mlspan.metric.name``, ``mlspan.metric.value``, optionally
``mlspan.metric.rows`` and ``mlspan.model.version`` (from ``model=``: a fitted estimator
or a version string). The collector's model registry gives the metric to that version,
else to the models the component produced (``add_output(model)``), else to those it
consumed. Bad arguments are logged and ignored, never raised.

``component("train", model_name="churn")`` names the models the user's own estimator
calls inside the component fit or use: their spans carry ``mlspan.model.name`` =
``churn`` (over ``configure(model_name=...)``), so the registry, drift and performance
keep them under that name. The name lives in ``CURRENT_MODEL_NAME`` while the run is
open.
"""

from __future__ import annotations

import logging
import math
from contextvars import ContextVar
from typing import Final

from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

from mlspan.instrumentation.model_version import fitted_model_id
from mlspan.semconv import METRIC_NAME, METRIC_ROWS, METRIC_VALUE, MODEL_VERSION
from mlspan.semconv.events import METRIC_LOGGED

logger = logging.getLogger(__name__)

MAX_METRIC_NAME: Final = 128

CURRENT_MODEL_NAME: ContextVar[str] = ContextVar("mlspan_component_model_name", default="")
"""The ``model_name`` of the innermost open component run that set one ("" if none)."""


def metric_event(
    name: str, value: float, rows: int | None = None, model: object = None
) -> dict[str, AttributeValue] | None:
    """The attributes of one ``mlspan.metric.logged`` event, or None (logged) when the
    arguments cannot make one."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_METRIC_NAME:
        logger.warning("mlspan: log_metric needs a name of 1 to %d characters", MAX_METRIC_NAME)
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        logger.warning("mlspan: log_metric(%r) needs a number, got %r", name, value)
        return None
    if not math.isfinite(number):
        logger.warning("mlspan: log_metric(%r) got a non-finite value %r", name, value)
        return None
    attributes: dict[str, AttributeValue] = {METRIC_NAME: name, METRIC_VALUE: number}
    if rows is not None:
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            logger.warning("mlspan: log_metric(%r) rows must be a count, got %r", name, rows)
        else:
            attributes[METRIC_ROWS] = int(rows)
    if model is not None:
        version = model if isinstance(model, str) else fitted_model_id(model)
        if version:
            attributes[MODEL_VERSION] = version
        else:
            logger.warning("mlspan: log_metric(%r) cannot identify the model %r", name, model)
    return attributes


def add_metric(span: Span, name: str, value: float, rows: int | None, model: object) -> None:
    """Add the event to ``span``; never raises."""
    try:
        attributes = metric_event(name, value, rows, model)
        if attributes is not None:
            span.add_event(METRIC_LOGGED, attributes)
    except Exception:
        logger.warning("mlspan could not log metric %r", name, exc_info=True)
