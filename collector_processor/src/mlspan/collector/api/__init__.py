"""The collector's HTTP API: a router others register routes on, and its server."""

from __future__ import annotations

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
