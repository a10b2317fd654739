"""JSON in and out of the query API that cannot fail on odd values.

Answers: the standard encoder refuses ``NaN``/``Infinity`` (not JSON), lone surrogates
(not UTF-8) and nesting deeper than the interpreter's recursion limit. Stored data may
hold all three (a model's ``mlspan.model.params`` is whatever the user's estimator had,
and scikit-learn's ``missing_values=nan`` is common), and one such run must not turn a
whole page of runs into an error. ``encode`` tries the fast standard encoder first and,
only when it refuses, or when the text may nest too deep, encodes a ``sanitized`` copy:

* ``NaN``, ``Infinity`` and ``-Infinity`` become the strings ``"NaN"``, ``"Infinity"``
  and ``"-Infinity"`` (the spelling Python's ``json`` module reads back), not ``null``,
  which would read as a parameter set to ``None``;
* lone surrogates become U+FFFD;
* containers nested deeper than ``MAX_DEPTH`` become the string ``TRUNCATED``;
* keys that are not strings, and values JSON has no type for, become their ``str()``.

Requests: ``check_body`` refuses bodies nested deeper than ``MAX_DEPTH`` or holding lone
surrogates, which no handler needs and which the store could not write.

Both walk values with an explicit stack, so depth costs no recursion.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from itertools import accumulate
from typing import Any, Final

MAX_DEPTH: Final = 64
"""Deepest nesting of arrays and objects answered or accepted."""
TRUNCATED: Final = f"<nested deeper than {MAX_DEPTH} levels>"
_NON_FINITE: Final = {math.inf: "Infinity", -math.inf: "-Infinity"}
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_STEP: Final = tuple(1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256))


class BodyShapeError(ValueError):
    """A request body the API refuses (too deep, or not encodable as UTF-8)."""


def encode(data: Any) -> bytes:
    """``data`` as compact UTF-8 JSON; never raises for values built from JSON or store rows."""
    try:
        body = _dumps(data).encode()
    except (ValueError, TypeError, RecursionError):  # UnicodeEncodeError is a ValueError
        return _dumps(sanitized(data)).encode()
    if _may_be_deeper(body):
        return _dumps(sanitized(data)).encode()
    return body


def _may_be_deeper(body: bytes) -> bool:
    """Whether ``body`` may nest deeper than ``MAX_DEPTH``: brackets counted at C speed,
    those inside strings too (an overestimate only costs a sanitizing pass)."""
    brackets = body.translate(None, _NOT_BRACKETS)
    if len(brackets) <= 2 * MAX_DEPTH:
        return False
    return max(accumulate(map(_STEP.__getitem__, brackets))) > MAX_DEPTH


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def sanitized(data: Any) -> Any:
    """A copy of ``data`` the standard encoder accepts (see the module docstring)."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any, int]] = [(data, root, 0, 0)]
    while stack:
        value, parent, slot, depth = stack.pop()
        if isinstance(value, (Mapping, list, tuple)):
            if depth >= MAX_DEPTH:
                parent[slot] = TRUNCATED
                continue
            if isinstance(value, Mapping):
                copy: dict[str, Any] = {}
                parent[slot] = copy
                for key, item in value.items():
                    name = _text(key) if isinstance(key, str) else _key(key)
                    copy[name] = None
                    stack.append((item, copy, name, depth + 1))
            else:
                items: list[Any] = [None] * len(value)
                parent[slot] = items
                stack.extend((item, items, i, depth + 1) for i, item in enumerate(value))
        else:
            parent[slot] = _scalar(value)
    return root[0]


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else _NON_FINITE[value]
    if isinstance(value, str):
        return _text(value)
    return _text(str(value))


def _key(key: Any) -> str:
    """A non-string key spelled as the standard encoder spells it (``null``, ``1.5``)."""
    if (
        key is None
        or isinstance(key, (bool, int))
        or (isinstance(key, float) and math.isfinite(key))
    ):
        return json.dumps(key)
    scalar = _scalar(key)
    return scalar if isinstance(scalar, str) else str(scalar)


def _text(value: str) -> str:
    try:
        value.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)
    return value


def check_body(data: Any) -> None:
    """Raise ``BodyShapeError`` when a parsed request body is too deep or not UTF-8."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            if depth >= MAX_DEPTH:
                raise BodyShapeError(f"nested deeper than {MAX_DEPTH} levels")
            for key, item in value.items():
                _check_text(key)
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            if depth >= MAX_DEPTH:
                raise BodyShapeError(f"nested deeper than {MAX_DEPTH} levels")
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            _check_text(value)


def _check_text(value: str) -> None:
    try:
        value.encode()
    except UnicodeEncodeError:
        raise BodyShapeError("a string holds a lone surrogate (not valid Unicode)") from None
