"""The collector's HTTP API: a router others register routes on, and its server.

Names are imported on first use (PEP 562), so ``mlspan.collector.api.client`` (what the
CLI needs) loads without the server, the ASGI framework or the security stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from mlspan.collector.api.router import (
        BadRequestError,
        HttpError,
        NotFoundError,
        Parameter,
        Request,
        Response,
        Route,
        Router,
    )
    from mlspan.collector.api.server import DEFAULT_HOST, DEFAULT_PORT, ApiServer

_EXPORTS: Final = {
    "DEFAULT_HOST": "server",
    "DEFAULT_PORT": "server",
    "ApiServer": "server",
    "BadRequestError": "router",
    "HttpError": "router",
    "NotFoundError": "router",
    "Parameter": "router",
    "Request": "router",
    "Response": "router",
    "Route": "router",
    "Router": "router",
}

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "ApiServer",
    "BadRequestError",
    "HttpError",
    "NotFoundError",
    "Parameter",
    "Request",
    "Response",
    "Route",
    "Router",
]


def __getattr__(name: str) -> Any:
    """Import the module holding ``name`` when it is first asked for."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
