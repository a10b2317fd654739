"""``ui``: the web UI's section of the collector config.

```yaml
ui:
  enabled: true                                         # served at / on api.endpoint
  trace_url_template: http://jaeger:16686/trace/{trace_id}   # link from a run to its trace
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from mlspan.collector.pipeline.factory import ConfigError

TRACE_ID_FIELD: Final = "{trace_id}"
"""The placeholder ``trace_url_template`` must contain."""
_FIELDS: Final = ("{trace_id}", "{span_id}")
DEFAULT_TRACE_URL: Final = "http://127.0.0.1:16686/trace/{trace_id}"
"""Jaeger's own UI on its default port on this machine."""


@dataclass(frozen=True)
class UiConfig:
    """``ui``: whether the API's address serves the web UI, and where traces are viewed."""

    enabled: bool = True
    """Serve the pages at ``/`` (needs ``api.enabled``)."""
    trace_url_template: str = DEFAULT_TRACE_URL
    """URL of a trace in a trace viewer such as Jaeger, with ``{trace_id}`` (and
    optionally ``{span_id}``) filled in per run; empty: no trace links."""

    def validate(self) -> None:
        """The template is an http(s) URL holding ``{trace_id}`` and no other field."""
        template = self.trace_url_template
        if not template:
            return
        if TRACE_ID_FIELD not in template:
            raise ConfigError(f"trace_url_template: must contain {TRACE_ID_FIELD}")
        rest = template
        for name in _FIELDS:
            rest = rest.replace(name, "")
        if "{" in rest or "}" in rest:
            raise ConfigError("trace_url_template: only {trace_id} and {span_id} may be filled")
        if urlsplit(rest).scheme not in ("http", "https"):
            raise ConfigError("trace_url_template: must be an http:// or https:// URL")

    def trace_url(self, trace_id: str, span_id: str = "") -> str:
        """The trace viewer's URL of a run, or "" without a template."""
        if not self.trace_url_template or not trace_id:
            return ""
        return self.trace_url_template.replace(TRACE_ID_FIELD, trace_id).replace(
            "{span_id}", span_id
        )
