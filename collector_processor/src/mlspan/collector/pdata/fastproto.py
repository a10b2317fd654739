"""Reduced OTLP trace messages whose attribute lists parse as protobuf maps.

An OTLP ``KeyValue {string key = 1; AnyValue value = 2;}`` is byte-identical to an entry
of ``map<string, AnyValue>``. Declaring the ``attributes`` fields of Resource, Span and
Span.Event as maps lets the protobuf runtime (upb, in C) build a dictionary while it
parses, so processors pick the few keys they need without turning every attribute into
Python objects: ~116k instead of ~10k spans per CPU-second (see FIELD_NOTES.md).

Every other field of the standard messages is declared too, with its standard type
(copied from opentelemetry-proto's descriptors, so a field added upstream is declared
here as well). The collector forwards the bytes it acknowledged unchanged, so the one
parse must refuse whatever a standard OTLP parser refuses: a field left undeclared would
be kept as an opaque unknown field, and invalid UTF-8 in a scope name, a schema URL or a
link's trace state, or a corrupt message inside a scope or a link, would be acknowledged
and then refused by the backend. Declared, upb checks them while it parses, in C.

The messages live in a private descriptor pool, so the global protobuf pool is untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

_PACKAGE = "mlspan_fastotlp"
_F = descriptor_pb2.FieldDescriptorProto


def _field(
    message: descriptor_pb2.DescriptorProto,
    name: str,
    number: int,
    kind: int,
    type_name: str = "",
    repeated: bool = False,
) -> None:
    field = message.field.add(name=name, number=number, type=kind)
    field.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    if type_name:
        field.type_name = type_name


def _attribute_map(message: descriptor_pb2.DescriptorProto, number: int) -> None:
    entry = message.nested_type.add(name="AttributesEntry")
    entry.options.map_entry = True
    _field(entry, "key", 1, _F.TYPE_STRING)
    _field(entry, "value", 2, _F.TYPE_MESSAGE, ".opentelemetry.proto.common.v1.AnyValue")
    _field(
        message,
        "attributes",
        number,
        _F.TYPE_MESSAGE,
        f".{_PACKAGE}.{message.name}.AttributesEntry",
        repeated=True,
    )


def _declare_the_rest(message: descriptor_pb2.DescriptorProto, standard: Descriptor) -> None:
    """Declare every field of ``standard`` that ``message`` does not, as the standard
    message declares it (types of other messages refer to the standard ones)."""
    declared = {field.number for field in message.field}
    proto = descriptor_pb2.DescriptorProto()
    standard.CopyToProto(proto)
    for field in proto.field:
        if field.number in declared:
            continue
        if field.HasField("oneof_index"):  # none in the messages reduced here
            raise ValueError(f"{standard.full_name}.{field.name}: oneof fields unsupported")
        message.field.add().CopyFrom(field)  # type names are fully qualified


def _file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="mlspan/fastotlp.proto",
        package=_PACKAGE,
        syntax="proto3",
        dependency=[
            common_pb2.DESCRIPTOR.name,
            resource_pb2.DESCRIPTOR.name,
            trace_pb2.DESCRIPTOR.name,
        ],
    )
    resource = file.message_type.add(name="Resource")
    _attribute_map(resource, 1)
    _declare_the_rest(resource, resource_pb2.Resource.DESCRIPTOR)

    event = file.message_type.add(name="Event")
    _field(event, "time_unix_nano", 1, _F.TYPE_FIXED64)
    _field(event, "name", 2, _F.TYPE_STRING)
    _attribute_map(event, 3)
    _declare_the_rest(event, trace_pb2.Span.Event.DESCRIPTOR)

    span = file.message_type.add(name="Span")
    _field(span, "trace_id", 1, _F.TYPE_BYTES)
    _field(span, "span_id", 2, _F.TYPE_BYTES)
    _field(span, "parent_span_id", 4, _F.TYPE_BYTES)
    _field(span, "name", 5, _F.TYPE_STRING)
    _field(span, "kind", 6, _F.TYPE_INT32)
    _field(span, "start_time_unix_nano", 7, _F.TYPE_FIXED64)
    _field(span, "end_time_unix_nano", 8, _F.TYPE_FIXED64)
    _attribute_map(span, 9)
    _field(span, "events", 11, _F.TYPE_MESSAGE, f".{_PACKAGE}.Event", repeated=True)
    _declare_the_rest(span, trace_pb2.Span.DESCRIPTOR)

    scope_spans = file.message_type.add(name="ScopeSpans")
    _field(scope_spans, "spans", 2, _F.TYPE_MESSAGE, f".{_PACKAGE}.Span", repeated=True)
    _declare_the_rest(scope_spans, trace_pb2.ScopeSpans.DESCRIPTOR)

    resource_spans = file.message_type.add(name="ResourceSpans")
    _field(resource_spans, "resource", 1, _F.TYPE_MESSAGE, f".{_PACKAGE}.Resource")
    _field(
        resource_spans, "scope_spans", 2, _F.TYPE_MESSAGE, f".{_PACKAGE}.ScopeSpans", repeated=True
    )
    _declare_the_rest(resource_spans, trace_pb2.ResourceSpans.DESCRIPTOR)

    request = file.message_type.add(name="ExportTraceServiceRequest")
    _field(
        request, "resource_spans", 1, _F.TYPE_MESSAGE, f".{_PACKAGE}.ResourceSpans", repeated=True
    )
    return file


@dataclass(frozen=True)
class FastSchema:
    """The reduced message classes; build one per process and inject it where needed."""

    request: Any

    @classmethod
    def build(cls) -> FastSchema:
        """Compile the reduced schema into a private descriptor pool."""
        pool = descriptor_pool.DescriptorPool()
        for dependency in (common_pb2.DESCRIPTOR, resource_pb2.DESCRIPTOR, trace_pb2.DESCRIPTOR):
            for upstream in dependency.dependencies:
                proto = descriptor_pb2.FileDescriptorProto()
                upstream.CopyToProto(proto)
                _add_once(pool, proto)
            proto = descriptor_pb2.FileDescriptorProto()
            dependency.CopyToProto(proto)
            _add_once(pool, proto)
        pool.Add(_file())
        descriptor = pool.FindMessageTypeByName(f"{_PACKAGE}.ExportTraceServiceRequest")
        return cls(request=message_factory.GetMessageClass(descriptor))

    def parse(self, data: bytes) -> Any:
        """Parse a serialized ``ExportTraceServiceRequest``; raises ``DecodeError``."""
        message = self.request()
        message.ParseFromString(data)
        return message


def _add_once(
    pool: descriptor_pool.DescriptorPool, proto: descriptor_pb2.FileDescriptorProto
) -> None:
    try:
        pool.FindFileByName(proto.name)
    except KeyError:
        pool.Add(proto)
