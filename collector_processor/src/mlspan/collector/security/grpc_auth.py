"""A gRPC server interceptor that refuses calls without an accepted bearer token.

The token is read from the call's metadata (``authorization`` by default); a call
without it, or with a wrong one, is answered ``UNAUTHENTICATED`` before any handler
runs, with the RFC 6750 challenge as ``www-authenticate`` trailing metadata.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import grpc

from mlspan.collector.security.bearer import BearerAuthenticator, Denial, Verdict
from mlspan.collector.security.config import AuthConfig

logger = logging.getLogger(__name__)


def _denying_handler(denial: Denial) -> grpc.RpcMethodHandler:
    def deny(_request: Any, context: grpc.ServicerContext) -> None:
        context.set_trailing_metadata((("www-authenticate", denial.challenge),))
        context.abort(grpc.StatusCode.UNAUTHENTICATED, denial.message)

    return grpc.unary_unary_rpc_method_handler(deny)


class BearerAuthInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Lets a call through only when its metadata carries an accepted token."""

    def __init__(
        self,
        authenticator: BearerAuthenticator,
        on_denied: Callable[[Verdict], None] | None = None,
    ) -> None:
        self._authenticator = authenticator
        self._on_denied = on_denied
        self._handlers = {
            verdict: _denying_handler(authenticator.deny(verdict))
            for verdict in (Verdict.MISSING, Verdict.INVALID)
        }

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        """Continue with an accepted token, else answer UNAUTHENTICATED."""
        metadata = getattr(handler_call_details, "invocation_metadata", None)
        verdict = self._authenticator.check_metadata(metadata)
        if verdict is Verdict.ACCEPTED:
            return continuation(handler_call_details)
        logger.debug("gRPC call refused: %s token", verdict.value)
        if self._on_denied is not None:
            self._on_denied(verdict)
        return self._handlers[verdict]


def auth_interceptors(
    auth: AuthConfig | None, on_denied: Callable[[Verdict], None] | None = None
) -> list[grpc.ServerInterceptor]:
    """The interceptors a gRPC server needs for ``auth`` (none without it), calling
    ``on_denied`` for each refused call; reads the tokens now, raising ``TokenError``
    when they cannot be read."""
    if auth is None or auth.bearer_tokens is None:
        return []
    authenticator = BearerAuthenticator.from_config(auth.bearer_tokens)
    return [BearerAuthInterceptor(authenticator, on_denied)]
