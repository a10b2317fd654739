"""Bodies of the OTLP/HTTP receiver's error answers.

Errors to OTLP requests are ``google.rpc.Status`` messages in the request's encoding
(protobuf or JSON). Requests that are not OTLP at all (another method, a browser's
``GET``) get a short ``text/plain`` body instead of protobuf bytes. Messages may echo
request content, so they pass through ``printable`` first: a lone surrogate from a
JSON key must not make encoding the answer fail (the client would get no answer).
"""

from __future__ import annotations

from typing import Final

from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2

from mlspan.collector.receivers.otlp.decode import JSON, PROTOBUF
from mlspan.collector.receivers.otlp.ingest import Status, printable

ALLOWED_METHODS: Final = "POST"
"""The ``Allow`` header of a 405: the receiver serves ``POST`` only."""
TEXT: Final = "text/plain; charset=utf-8"
HTTP_STATUS: Final = {
    Status.MALFORMED: 400,
    Status.TOO_LARGE: 413,
    Status.UNSUPPORTED_MEDIA: 415,
    Status.QUEUE_FULL: 429,
    Status.UNAVAILABLE: 503,
    Status.INTERNAL: 500,
}
"""The HTTP status answering a request that ended with each ``Status``."""
RPC_CODE: Final = {
    Status.MALFORMED: code_pb2.INVALID_ARGUMENT,
    Status.TOO_LARGE: code_pb2.RESOURCE_EXHAUSTED,
    Status.UNSUPPORTED_MEDIA: code_pb2.INVALID_ARGUMENT,
    Status.QUEUE_FULL: code_pb2.RESOURCE_EXHAUSTED,
    Status.UNAVAILABLE: code_pb2.UNAVAILABLE,
    Status.INTERNAL: code_pb2.INTERNAL,
}
"""The ``google.rpc.Code`` in the ``Status`` body of that answer."""


def status_body(code: int, message: str, json_body: bool) -> tuple[bytes, str]:
    """A ``google.rpc.Status`` body and its content type."""
    rpc_status = status_pb2.Status(code=code, message=printable(message))
    if json_body:
        return json_format.MessageToJson(rpc_status, indent=None).encode(), JSON
    return bytes(rpc_status.SerializeToString()), PROTOBUF


def error_body(code: int, message: str, content_type: str) -> tuple[bytes, str]:
    """A ``Status`` for an OTLP request (protobuf or JSON ``content_type``), plain text
    for anything else."""
    if content_type in (JSON, PROTOBUF):
        return status_body(code, message, content_type == JSON)
    return f"{printable(message)}\n".encode(), TEXT
