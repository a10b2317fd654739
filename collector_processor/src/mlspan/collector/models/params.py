"""Hyperparameters as flat ``name -> value`` maps, their differences, and display text.

``mlspan.model.params`` nests an estimator-valued parameter as ``{"class": ..., "params":
{...}}``; flattening names its parameters ``step__param`` as scikit-learn does
(``clf__C``), with the class under ``step`` itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


def parse(text: str) -> dict[str, Any]:
    """The parameters JSON object, empty when absent or unreadable."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"clf": {"class": "X", "params": {"C": 1}}}`` -> ``{"clf": "X", "clf__C": 1}``."""
    flat: dict[str, Any] = {}
    for name, value in params.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and set(value) == {"class", "params"}:
            flat[key] = value["class"]
            inner = value["params"]
            if isinstance(inner, dict):
                flat.update(flatten(inner, f"{key}__"))
        else:
            flat[key] = value
    return flat


def value_text(value: Any) -> str:
    """A parameter value as short display text (JSON for lists and maps)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class ParamChange:
    """One parameter that differs: absent on a side is None with ``present`` False."""

    name: str
    before: Any
    after: Any
    change: str
    """``changed``, ``added`` or ``removed``."""


def diff(a: dict[str, Any], b: dict[str, Any]) -> list[ParamChange]:
    """Parameters that differ between two flat maps, by name."""
    changes: list[ParamChange] = []
    for name in sorted(a.keys() | b.keys()):
        if name not in b:
            changes.append(ParamChange(name, a[name], None, "removed"))
        elif name not in a:
            changes.append(ParamChange(name, None, b[name], "added"))
        elif a[name] != b[name]:
            changes.append(ParamChange(name, a[name], b[name], "changed"))
    return changes
