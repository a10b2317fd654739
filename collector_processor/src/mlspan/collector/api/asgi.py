"""The query API as a Starlette application over a ``Router``.

Every request goes to the router (``Router.dispatch``, run in Starlette's worker-thread
pool because handlers query the store synchronously), with the target as the client
sent it: path parameters are single percent-encoded segments (``file:data%2Fx.csv``),
which routing on the decoded path would split. Middleware: gzip for clients that accept
it. (The bounds on connections, reads and writes are the connection gate's,
``api.gate``.)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.routing import Mount

from mlspan.collector.api.router import Router

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GZIP_MINIMUM_BYTES: Final = 1024
"""Answers shorter than this are sent as they are."""
GZIP_LEVEL: Final = 5
"""zlib level: most of level 9's ratio on JSON at a fraction of its CPU."""


class RouterEndpoint:
    """The ASGI endpoint answering every request through ``router``."""

    def __init__(self, router: Router) -> None:
        self._router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body (the connection gate bounds it), dispatch, answer."""
        if scope["type"] != "http":
            return
        try:
            body = await Request(scope, receive).body()
        except ClientDisconnect:
            return
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        response = await run_in_threadpool(
            self._router.dispatch, scope["method"], target, body, headers
        )
        head = [
            (b"content-type", response.content_type.encode("latin-1")),
            (b"content-length", b"%d" % len(response.body)),
        ]
        head.extend(
            (name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers
        )
        await send({"type": "http.response.start", "status": response.status, "headers": head})
        await send({"type": "http.response.body", "body": response.body})


def build_app(router: Router) -> Starlette:
    """The Starlette application serving ``router``."""
    return Starlette(
        routes=[Mount("", app=RouterEndpoint(router))],
        middleware=[
            Middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES, compresslevel=GZIP_LEVEL)
        ],
    )
