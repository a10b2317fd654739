"""Answers are standard JSON whatever the data holds; request bodies are checked."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlspan.collector.api.json_safe import (
    MAX_DEPTH,
    TRUNCATED,
    BodyShapeError,
    check_body,
    encode,
    sanitized,
)
from mlspan.collector.api.messages import Response


def strict(body: bytes) -> Any:
    def refuse(token: str) -> Any:
        raise AssertionError(f"non-standard token {token}")

    return json.loads(body.decode("utf-8"), parse_constant=refuse)


def depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def nested(levels: int, objects: bool = False) -> Any:
    """``levels`` of arrays (alternating with objects when ``objects``) around 1."""
    value: Any = 1
    for level in range(levels):
        value = {"a": value} if objects and level % 2 else [value]
    return value


def test_non_finite_numbers_become_their_python_json_spelling() -> None:
    data = {"C": math.nan, "hi": math.inf, "lo": -math.inf, "ok": 0.5, "n": None}
    assert strict(encode(data)) == {
        "C": "NaN",
        "hi": "Infinity",
        "lo": "-Infinity",
        "ok": 0.5,
        "n": None,
    }


def test_lone_surrogates_become_replacement_characters() -> None:
    assert strict(encode({"a\ud800": ["x\udfffy"]})) == {"a\ufffd": ["x\ufffdy"]}


def test_nesting_is_cut_at_max_depth_even_when_the_encoder_would_accept_it() -> None:
    for levels in (MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 300, 50_000):
        for objects in (False, True):
            answer = strict(encode({"params": nested(levels, objects)}))
            assert depth(answer) <= MAX_DEPTH
    deep = strict(encode(nested(300)))
    leaf = deep
    while isinstance(leaf, list):
        leaf = leaf[0]
    assert leaf == TRUNCATED


def test_shallow_answers_take_the_fast_path_unchanged() -> None:
    data = {"runs": [{"params": {"C": 1.0, "grid": [[1, 2], [3]]}, "s": "[[[{{{"}] * 50}
    assert encode(data) == json.dumps(data, separators=(",", ":")).encode()
    assert sanitized(data) == data


def test_response_json_never_fails() -> None:
    response = Response.json({"bad": [math.nan, object()], "deep": nested(2000)})
    assert response.status == 200
    assert strict(response.body)["bad"][0] == "NaN"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(codec=None, exclude_categories=())),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(value=json_values, levels=st.integers(min_value=0, max_value=150))
def test_any_value_encodes_to_strict_bounded_json(value: Any, levels: int) -> None:
    wrapped: Any = value
    for _ in range(levels):
        wrapped = [wrapped]
    assert depth(strict(encode(wrapped))) <= MAX_DEPTH


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (nested(MAX_DEPTH + 1), "nested deeper than 64 levels"),
        ({"text": "\ud800"}, "lone surrogate"),
        ({"\udc00": 1}, "lone surrogate"),
        ([["\ud800"]], "lone surrogate"),
    ],
)
def test_check_body_refuses(body: Any, message: str) -> None:
    with pytest.raises(BodyShapeError, match=message):
        check_body(body)


def test_check_body_accepts_ordinary_bodies() -> None:
    check_body({"add": ["prod", "ünïcode ✓"], "remove": [], "text": "note"})
    check_body(nested(MAX_DEPTH - 1))
