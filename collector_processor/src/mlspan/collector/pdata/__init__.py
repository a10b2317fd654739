"""Pipeline data: trace batches, the reduced OTLP parse, and the consumer protocol."""

from __future__ import annotations

from mlspan.collector.pdata.batch import (
    Component,
    QueueFullError,
    SpanRef,
    TraceBatch,
    TracesConsumer,
    any_value,
    int_attribute,
    plain_attributes,
    string_attribute,
    strings_attribute,
)
from mlspan.collector.pdata.fastproto import FastSchema

__all__ = [
    "Component",
    "FastSchema",
    "QueueFullError",
    "SpanRef",
    "TraceBatch",
    "TracesConsumer",
    "any_value",
    "int_attribute",
    "plain_attributes",
    "string_attribute",
    "strings_attribute",
]
