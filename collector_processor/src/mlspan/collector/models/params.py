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
    """``{"clf": {"class": "X", "params": {"C": 1}}}`` -> ``{"clf": "X", "clf__C": 1}``.

    Lists of named estimators (a Pipeline's ``steps``, a ColumnTransformer's
    ``transformers``: ``[name, estimator, ...]`` items) flatten the way scikit-learn's
    ``get_params(deep=True)`` names them: ``classifier__learning_rate``, with the list
    itself kept as its names, classes and any further item fields (the columns).
    """
    flat: dict[str, Any] = {}
    for name, value in params.items():
        key = f"{prefix}{name}"
        if _is_estimator(value):
            flat.update(_estimator(key, value))
        elif _is_named_estimators(value):
            flat[key] = [[item[0], _class_of(item[1]), *item[2:]] for item in value]
            for item in value:
                flat.update(_estimator(f"{prefix}{item[0]}", item[1]))
        else:
            flat[key] = value
    return flat


def _is_estimator(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"class", "params"}


def _is_named_estimators(value: Any) -> bool:
    """``[[name, estimator or dotted class name, ...], ...]`` with distinct names."""
    if not isinstance(value, list) or not value:
        return False
    items = [item for item in value if isinstance(item, list) and len(item) >= 2]
    if len(items) != len(value):
        return False
    names = [item[0] for item in items]
    return (
        all(isinstance(name, str) and name for name in names)
        and len(set(names)) == len(names)
        and all(_is_estimator(item[1]) or _is_class_name(item[1]) for item in items)
    )


def _is_class_name(value: Any) -> bool:
    """A nested estimator recorded by its dotted class name only (below the depth the
    instrumentation records parameters to)."""
    return isinstance(value, str) and "." in value and " " not in value


def _class_of(value: Any) -> Any:
    return value["class"] if _is_estimator(value) else value


def _estimator(key: str, value: Any) -> dict[str, Any]:
    """An estimator-valued parameter: its class under ``key``, its parameters below."""
    flat: dict[str, Any] = {key: _class_of(value)}
    inner = value["params"] if _is_estimator(value) else None
    if isinstance(inner, dict):
        flat.update(flatten(inner, f"{key}__"))
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
