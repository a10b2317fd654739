"""The wire form of a feature summary: the attributes of one ``mlspan.feature.summary`` event.

Scalars travel as scalar attributes and each sketch as one base64 string, because OTLP
encodes every element of a numeric array attribute as its own message (slow to encode
and to parse); categorical counts travel as one JSON object. ``to_attributes`` and
``from_attributes`` are inverse; ``from_attributes`` trusts its input (the collector
decodes what arrives over the network with its own checked decoder).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeAlias

from mlspan.semconv import attributes as attr
from mlspan.semconv.values import FeatureKind, FeatureOrigin
from mlspan.summaries.categorical import CategoricalSummary
from mlspan.summaries.moments import Moments
from mlspan.summaries.numerical import NumericalSummary

AttributeValue: TypeAlias = str | bool | int | float
"""The attribute value types a summary event uses."""


class SummaryDecodeError(ValueError):
    """An event's attributes do not form a valid feature summary."""


@dataclass(frozen=True)
class FeatureSummary:
    """One feature's summary with its identity: what a summary event carries."""

    name: str
    kind: FeatureKind
    origin: FeatureOrigin
    dtype: str
    stats: NumericalSummary | CategoricalSummary

    def merge(self, other: FeatureSummary) -> FeatureSummary:
        """Merge two summaries of the same feature and kind."""
        if isinstance(self.stats, NumericalSummary) and isinstance(other.stats, NumericalSummary):
            return FeatureSummary(
                self.name, self.kind, self.origin, self.dtype, self.stats.merge(other.stats)
            )
        if isinstance(self.stats, CategoricalSummary) and isinstance(
            other.stats, CategoricalSummary
        ):
            return FeatureSummary(
                self.name, self.kind, self.origin, self.dtype, self.stats.merge(other.stats)
            )
        raise ValueError(f"cannot merge a {self.kind.value} and a {other.kind.value} summary")

    def to_attributes(self) -> dict[str, AttributeValue]:
        """The event attributes of this summary."""
        stats = self.stats
        out: dict[str, AttributeValue] = {
            attr.FEATURE_NAME: self.name,
            attr.FEATURE_KIND: self.kind.value,
            attr.FEATURE_ORIGIN: self.origin.value,
            attr.FEATURE_DTYPE: self.dtype,
            attr.SUMMARY_COUNT: stats.count,
            attr.SUMMARY_NULLS: stats.nulls,
            attr.SUMMARY_SKETCH_TYPE: stats.sketch_type,
        }
        if isinstance(stats, NumericalSummary):
            m = stats.moments
            out[attr.SUMMARY_NAN] = stats.nan
            out[attr.SUMMARY_INF] = stats.inf
            if m.count:
                out[attr.SUMMARY_MIN] = m.min
                out[attr.SUMMARY_MAX] = m.max
            out[attr.SUMMARY_MEAN] = m.mean
            out[attr.SUMMARY_M2] = m.m2
            out[attr.SUMMARY_M3] = m.m3
            out[attr.SUMMARY_M4] = m.m4
            out[attr.SUMMARY_SKETCH] = base64.b64encode(stats.sketch_bytes).decode("ascii")
        else:
            out[attr.SUMMARY_CATEGORIES] = json.dumps(dict(stats.counts), separators=(",", ":"))
            out[attr.SUMMARY_CATEGORIES_EXACT] = stats.exact
            if stats.sketch_bytes:
                out[attr.SUMMARY_SKETCH] = base64.b64encode(stats.sketch_bytes).decode("ascii")
        return out

    @classmethod
    def from_attributes(cls, attributes: Mapping[str, object]) -> FeatureSummary:
        """Rebuild a summary from event attributes; raises ``SummaryDecodeError``.

        Trusts its input: meant for attributes this package wrote (round trips, tests,
        stored summaries). The sketch bytes go to DataSketches' deserializers unchecked,
        and they read out of bounds on a corrupt blob; counts, moments and categories
        are not checked against each other. Attributes from the network must go through
        a checked decoder such as the collector's ``decode_summary`` instead.
        """
        try:
            return cls._decode(attributes)
        except SummaryDecodeError:
            raise
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as exc:
            raise SummaryDecodeError(f"invalid feature summary: {exc}") from exc

    @classmethod
    def _decode(cls, attributes: Mapping[str, object]) -> FeatureSummary:
        kind = FeatureKind(_text(attributes, attr.FEATURE_KIND))
        origin = FeatureOrigin(_text(attributes, attr.FEATURE_ORIGIN, FeatureOrigin.INPUT.value))
        name = _text(attributes, attr.FEATURE_NAME)
        dtype = _text(attributes, attr.FEATURE_DTYPE, "")
        count = _integer(attributes, attr.SUMMARY_COUNT)
        nulls = _integer(attributes, attr.SUMMARY_NULLS)
        param = int(_text(attributes, attr.SUMMARY_SKETCH_TYPE, ":0").rsplit(":", 1)[1])
        sketch = base64.b64decode(_text(attributes, attr.SUMMARY_SKETCH, ""), validate=True)
        if kind is FeatureKind.CATEGORICAL:
            raw = json.loads(_text(attributes, attr.SUMMARY_CATEGORIES))
            if not isinstance(raw, dict):
                raise SummaryDecodeError("categories must be a JSON object")
            counts = MappingProxyType({str(k): int(v) for k, v in raw.items()})
            exact = bool(attributes.get(attr.SUMMARY_CATEGORIES_EXACT, True))
            categorical = CategoricalSummary(count, nulls, counts, exact, sketch, param)
            if sketch:
                categorical.sketch()  # validates the bytes
            return cls(name, kind, origin, dtype, categorical)
        inf = _integer(attributes, attr.SUMMARY_INF, 0)
        moments = Moments(
            count=count - nulls - inf,
            mean=_number(attributes, attr.SUMMARY_MEAN, 0.0),
            m2=_number(attributes, attr.SUMMARY_M2, 0.0),
            m3=_number(attributes, attr.SUMMARY_M3, 0.0),
            m4=_number(attributes, attr.SUMMARY_M4, 0.0),
            min=_number(attributes, attr.SUMMARY_MIN, float("inf")),
            max=_number(attributes, attr.SUMMARY_MAX, float("-inf")),
        )
        if moments.count < 0:
            raise SummaryDecodeError("summary counts are inconsistent")
        numerical = NumericalSummary(
            count=count,
            nulls=nulls,
            nan=_integer(attributes, attr.SUMMARY_NAN, 0),
            inf=inf,
            moments=moments,
            sketch_bytes=sketch,
            k=param,
        )
        numerical.sketch()  # validates the bytes
        return cls(name, kind, origin, dtype, numerical)


_MISSING = object()


def _value(attributes: Mapping[str, object], key: str, default: object) -> object:
    value = attributes.get(key, default)
    if value is _MISSING:
        raise SummaryDecodeError(f"feature summary lacks {key}")
    return value


def _text(attributes: Mapping[str, object], key: str, default: object = _MISSING) -> str:
    value = _value(attributes, key, default)
    if not isinstance(value, str):
        raise SummaryDecodeError(f"{key} must be a string")
    return value


def _integer(attributes: Mapping[str, object], key: str, default: object = _MISSING) -> int:
    value = _value(attributes, key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SummaryDecodeError(f"{key} must be a non-negative integer")
    return value


def _number(attributes: Mapping[str, object], key: str, default: float) -> float:
    value = attributes.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SummaryDecodeError(f"{key} must be a number")
    return float(value)
