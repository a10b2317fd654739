"""Keeping every span mlspan creates under a byte budget, whatever the data looks like.

An OTLP receiver refuses a whole request above its size limit (4 MiB is the common gRPC
default), so no single span may come near it. ``emit`` packs summary events by bytes
as well as by count; this module supplies the pieces it needs:

- ``summary_event`` turns a ``FeatureSummary`` into event attributes with a cheap upper
  bound of their encoded size, and shrinks a summary that alone exceeds the room of a
  span: a numerical sketch is merged into a KLL sketch of a smaller ``k`` (its wire type
  ``kll_doubles:<k>`` says so and the error bound follows), a categorical summary keeps
  its most frequent values and is marked inexact (``categories_exact`` false: the
  collector counts the rest as "other", as for a frequent-items sketch).
- ``bound_attributes`` shortens a span's oversized string attributes (a huge
  ``mlspan.model.params`` JSON, say) in place: JSON stays valid JSON, long strings,
  lists and objects inside it are cut with an explicit "omitted" marker.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from datasketches import kll_doubles_sketch
from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from mlspan.instrumentation.otlp_size import (
    attributes_bytes,
    text_bytes,
    value_bytes,
    varint_bytes,
)
from mlspan.semconv import (
    FEATURE_DTYPE,
    FEATURE_KIND,
    FEATURE_NAME,
    FEATURE_ORIGIN,
    FEATURE_SUMMARY,
    SUMMARY_CATEGORIES,
    SUMMARY_SKETCH,
    SUMMARY_SKETCH_TYPE,
)
from mlspan.summaries import CategoricalSummary, FeatureSummary, NumericalSummary
from mlspan.summaries.codec import AttributeValue as SummaryValue

_logger = logging.getLogger(__name__)

DEFAULT_MAX_SPAN_BYTES: Final = 1024 * 1024
"""Most encoded bytes of one span mlspan creates: a quarter of the common 4 MiB limit."""
SPAN_OVERHEAD: Final = 1024
"""Bytes reserved for a span's ids, times, name, status and flags."""
_TEXT_KEYS: Final = (
    FEATURE_NAME,
    FEATURE_KIND,
    FEATURE_ORIGIN,
    FEATURE_DTYPE,
    SUMMARY_SKETCH_TYPE,
    SUMMARY_SKETCH,
    SUMMARY_CATEGORIES,
)
"""The string attributes of a summary event; every other one is an int, float or bool."""
_EVENT_SLACK: Final = 64 + len(FEATURE_SUMMARY)
"""An event's time, name, dropped count and the field prefixes around it."""
_MIN_KLL_K: Final = 8
_MIN_TEXT: Final = 64
_OMITTED_KEY: Final = "…"
_KEPT_MEMBERS: Final = 64
"""Members of a JSON object always kept (with their values capped): an estimator's
hyperparameters are a few dozen names, each worth keeping."""


def summary_event_bytes(attributes: Mapping[str, object]) -> int:
    """An upper bound of the encoded size of a summary event with these attributes.

    Cheaper than ``event_bytes`` (which it never undercuts: a test checks both): every
    key counts as its length plus 17, the slack of the widest scalar entry, and only the
    seven string attributes are measured.
    """
    total = 17 * len(attributes) + sum(map(len, attributes)) + _EVENT_SLACK
    for key in _TEXT_KEYS:
        value = attributes.get(key)
        if value.__class__ is str:
            length = text_bytes(value)
            total += length + 3 * varint_bytes(length + 120)
    return total


def summary_event(summary: FeatureSummary, limit: int) -> tuple[dict[str, SummaryValue], int]:
    """The event attributes of ``summary`` and their size bound, shrunk to ``limit`` bytes
    when the summary alone is larger."""
    attributes = summary.to_attributes()
    size = summary_event_bytes(attributes)
    if size <= limit:
        return attributes, size
    try:
        smaller = _shrink(summary, limit)
    except Exception:
        _logger.warning("mlspan could not shrink the summary of %s", summary.name, exc_info=True)
        return attributes, size
    attributes = smaller.to_attributes()
    return attributes, summary_event_bytes(attributes)


def _shrink(summary: FeatureSummary, limit: int) -> FeatureSummary:
    stats = summary.stats
    if isinstance(stats, NumericalSummary):
        return _shrink_numerical(summary, stats, limit)
    if isinstance(stats, CategoricalSummary):
        return _shrink_categorical(summary, stats, limit)
    return summary


def _fits(summary: FeatureSummary, limit: int) -> bool:
    return summary_event_bytes(summary.to_attributes()) <= limit


def _shrink_numerical(
    summary: FeatureSummary, stats: NumericalSummary, limit: int
) -> FeatureSummary:
    """The summary with its KLL sketch merged into ever smaller ``k`` until it fits."""
    sketch = stats.sketch()
    k = stats.k
    smaller = summary
    while k > _MIN_KLL_K:
        k = max(_MIN_KLL_K, k // 2)
        target = kll_doubles_sketch(k)
        target.merge(sketch)
        reduced = dataclasses.replace(stats, sketch_bytes=bytes(target.serialize()), k=k)
        smaller = dataclasses.replace(summary, stats=reduced)
        if _fits(smaller, limit):
            break
    _logger.debug("summary of %s shrunk to a KLL sketch of k=%d", summary.name, k)
    return smaller


def _shrink_categorical(
    summary: FeatureSummary, stats: CategoricalSummary, limit: int
) -> FeatureSummary:
    """The summary without its frequent-items sketch and with only its most frequent
    values, marked inexact (the collector counts the uncounted rest as "other")."""
    ranked = sorted(stats.counts.items(), key=lambda item: (-item[1], item[0]))
    keep = len(ranked)
    while True:
        counts = MappingProxyType(dict(ranked[:keep]))
        reduced = CategoricalSummary(stats.count, stats.nulls, counts, False, b"", stats.cap)
        smaller = dataclasses.replace(summary, stats=reduced)
        if keep == 0 or _fits(smaller, limit):
            break
        keep //= 2
    _logger.debug("summary of %s kept its %d most frequent values", summary.name, keep)
    return smaller


def bound_attributes(span: trace.Span, limit: int) -> int:
    """Shorten ``span``'s largest string attributes until all of them take at most
    ``limit`` bytes; the bound of their size afterwards (0 for a non-recording span)."""
    attributes = getattr(span, "attributes", None)
    if not attributes:
        return 0
    size = attributes_bytes(attributes)
    if size <= limit:
        return size
    values = dict(attributes)
    for key in sorted(values, key=lambda name: value_bytes(values[name]), reverse=True):
        value = values[key]
        if not isinstance(value, str):
            continue
        current = value_bytes(value)
        shorter = shorten_text(value, max(_MIN_TEXT, current - (size - limit) - 16))
        span.set_attribute(key, shorter)
        size += value_bytes(shorter) - current
        _logger.debug("attribute %s shortened from %d to %d bytes", key, current, len(shorter))
        if size <= limit:
            break
    return size


def shorten_text(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` UTF-8 bytes: JSON stays valid JSON with its large
    parts replaced by "omitted" markers; other text is cut and ends with a marker."""
    if text_bytes(text) <= limit:
        return text
    if text.lstrip()[:1] in ("{", "["):
        try:
            document = json.loads(text)
        except ValueError:
            pass
        else:
            shortened = _shorten_json(document, limit)
            if shortened is not None:
                return shortened
    return _cut(text, limit)


def _cut(text: str, limit: int) -> str:
    marker = f"…[{text_bytes(text)} bytes, cut]"
    room = max(0, limit - text_bytes(marker))
    head = text.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
    return head + marker


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


def _shorten_json(document: object, limit: int) -> str | None:
    """The document with every string, list and object capped at ever fewer bytes until
    its JSON fits; None when even a marker alone does not."""
    cap = limit
    while cap >= _MIN_TEXT // 4:
        text = _dump(_capped(document, cap))
        if text_bytes(text) <= limit:
            return text
        cap //= 2
    text = _dump({_OMITTED_KEY: f"{text_bytes(_dump(document))} bytes omitted"})
    return text if text_bytes(text) <= limit else None


def _capped(value: object, cap: int) -> Any:
    """``value`` with strings cut to ``cap`` characters, lists cut once their items take
    ``cap`` characters of JSON, objects past their first members likewise; each cut is
    marked."""
    if isinstance(value, str):
        if len(value) <= cap:
            return value
        return value[:cap] + f"…[{len(value) - cap} characters omitted]"
    if isinstance(value, list):
        items: list[Any] = []
        used = 0
        for index, item in enumerate(value):
            capped = _capped(item, cap)
            used += len(_dump(capped)) + 2
            if items and used > cap:
                items.append(f"…[{len(value) - index} items omitted]")
                break
            items.append(capped)
        return items
    if isinstance(value, dict):
        members: dict[str, Any] = {}
        used = 0
        for index, (key, item) in enumerate(value.items()):
            capped = _capped(item, cap)
            used += len(_dump(capped)) + len(key) + 4
            if index >= _KEPT_MEMBERS and used > cap:
                members[_OMITTED_KEY] = f"{len(value) - index} entries omitted"
                break
            members[key] = capped
        return members
    return value


def child_room(max_span_bytes: int, attributes: dict[str, AttributeValue]) -> int:
    """Bytes left for events on a span carrying ``attributes``."""
    return max_span_bytes - SPAN_OVERHEAD - attributes_bytes(attributes)
