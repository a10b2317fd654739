"""The Jinja2 environment of the UI: package templates, autoescaping, a few filters.

Autoescaping is on for every template, so any value a page prints is HTML-escaped unless
it is ``Markup``; the only ``Markup`` the pages receive is SVG built by ``charts`` and
``graph_export``, which escape every string they draw.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from mlspan.collector.lineage.render import duration, when
from mlspan.collector.ui.graph_model import artifact_label, short_id


def segment(value: object) -> str:
    """A value as one URL path segment (``/`` and everything else percent-encoded)."""
    return quote(str(value), safe="")


def build_environment() -> Environment:
    """A new environment reading ``ui/templates`` (one per registered UI)."""
    environment = Environment(
        loader=PackageLoader(__name__.rpartition(".")[0], "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        when=when,
        duration=duration,
        seg=segment,
        short_id=short_id,
        artifact_label=artifact_label,
        number=_number,
    )
    return environment


def _number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def svg(markup: str) -> Markup:
    """SVG built by ``charts``/``graph_export`` (already escaped) for a template."""
    return Markup(markup)
