"""What every page handler shares: rendering a template into an HTML response, and
answering lookup failures with an HTML error page instead of the API's JSON."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from jinja2 import Environment

from mlspan.collector.api.router import HttpError, Request, Response
from mlspan.collector.lineage.queries import BadCursorError
from mlspan.collector.lineage.views import AmbiguousReferenceError, UnknownReferenceError
from mlspan.collector.ui.sources import UiSources

logger = logging.getLogger(__name__)

NAV: Final = (
    ("/", "Overview"),
    ("/ui/runs", "Runs"),
    ("/ui/lineage", "Lineage"),
    ("/ui/drift", "Drift"),
    ("/ui/models", "Models"),
    ("/ui/alerts", "Alerts"),
)
NO_STORE: Final = (("Cache-Control", "no-store"),)


class Pages:
    """Renders templates with the context every page needs."""

    def __init__(self, environment: Environment, sources: UiSources) -> None:
        self.environment = environment
        self.sources = sources

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        """The template as an HTML response (never cached: pages show live state)."""
        page = self.environment.get_template(template).render(
            nav=NAV,
            writes_enabled=self.sources.writes_enabled,
            **context,
        )
        return Response.html(page, status, NO_STORE)

    def error(self, status: int, message: str) -> Response:
        """An HTML error page."""
        return self.render("error.html", status, title=f"Error {status}", message=message)

    def guard(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """Unknown references become a 404 page, bad ones a 400 page."""

        def run(request: Request) -> Response:
            try:
                return handler(request)
            except UnknownReferenceError as exc:
                return self.error(404, str(exc))
            except (AmbiguousReferenceError, BadCursorError) as exc:
                return self.error(400, str(exc))
            except HttpError as exc:
                return self.error(exc.status, exc.message)

        run.__name__ = getattr(handler, "__name__", "page")
        return run
