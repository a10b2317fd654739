"""OTLP/JSON mutators: tree changes and the text-level tricks a JSON parser meets.

Each takes a random source and a seed's OTLP/JSON body and returns new bytes: a node
replaced by a value of the wrong type, 50,000 levels of nesting, numbers too big for
any type, invalid UTF-8 and lone surrogates (as values and as field names), duplicate
keys, NaN literals, bad hex ids, other text encodings.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any, Final

JsonMutator = Callable[[random.Random, bytes], bytes]

PLACEHOLDER: Final = "@@FUZZ@@"
WRONG_VALUES: Final[tuple[Any, ...]] = (
    None,
    True,
    0,
    -1,
    1.5,
    "",
    "x",
    [],
    {},
    [1, "a", None],
    {"a": 1},
    "18446744073709551616",
    "-9223372036854775809",
    "0x1F",
    "1e400",
)
HUGE_NUMBERS: Final = (
    "1e999",
    "-1e999",
    "1" + "0" * 400,
    "-" + "9" * 5000,
    "18446744073709551616",
    "1.5",
    "-0",
    "0.0000000000000000000000001",
    "NaN",
    "Infinity",
    "-Infinity",
)
BAD_UTF8: Final = (
    b"\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xf0\x28\x8c\x28",
    b"\xc0\xaf",
    b"\xe2\x82",
)
SURROGATES: Final = ("\\ud800", "\\udfff", "\\ud800\\ud800", "\\udc00x", "\\uDBFF")


def _load(body: bytes) -> Any:
    return json.loads(body)


def _nodes(document: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every node of ``document`` (object keys and list indexes)."""
    out = [path]
    if isinstance(document, dict):
        for key, value in document.items():
            out += _nodes(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            out += _nodes(value, (*path, index))
    return out


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return document


def _with_placeholder(rng: random.Random, body: bytes, as_key: bool = False) -> str:
    """The document with one node (or one object key) replaced by ``PLACEHOLDER``."""
    document = _load(body)
    paths = _nodes(document)
    if as_key:
        objects = [p for p in paths if isinstance(_get(document, p), dict) and _get(document, p)]
        if objects:
            node = _get(document, rng.choice(objects))
            key = rng.choice(list(node))
            node[PLACEHOLDER] = node.pop(key)
            return json.dumps(document)
    path = rng.choice(paths[1:] or paths)
    return json.dumps(_replace(document, path, PLACEHOLDER))


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


def wrong_type(rng: random.Random, body: bytes) -> bytes:
    """A random node replaced by a value of another type."""
    document = _load(body)
    paths = _nodes(document)
    for _ in range(rng.randint(1, 3)):
        value = copy.deepcopy(rng.choice(WRONG_VALUES))
        document = _replace(document, rng.choice(paths[1:] or paths), value)
        paths = _nodes(document)
    return json.dumps(document).encode()


def deep_nesting(rng: random.Random, body: bytes) -> bytes:
    """A node replaced by 1,000-50,000 nested arrays or objects."""
    depth = rng.choice((1_000, 10_000, 50_000))
    if rng.random() < 0.5:
        deep = "[" * depth + "1" + "]" * depth
    else:
        deep = '{"a":' * depth + "1" + "}" * depth
    text = _with_placeholder(rng, body)
    return text.replace(json.dumps(PLACEHOLDER), deep, 1).encode()


def huge_number(rng: random.Random, body: bytes) -> bytes:
    """A node replaced by a number no type holds, or a NaN/Infinity literal."""
    text = _with_placeholder(rng, body)
    return text.replace(json.dumps(PLACEHOLDER), rng.choice(HUGE_NUMBERS), 1).encode()


def bad_utf8(rng: random.Random, body: bytes) -> bytes:
    """Invalid UTF-8 inside a string value or a field name."""
    text = _with_placeholder(rng, body, as_key=rng.random() < 0.5).encode()
    return text.replace(PLACEHOLDER.encode(), rng.choice(BAD_UTF8), 1)


def lone_surrogate(rng: random.Random, body: bytes) -> bytes:
    """A ``\\ud800``-style escape as a string value or as a field name."""
    text = _with_placeholder(rng, body, as_key=rng.random() < 0.5)
    return text.replace(PLACEHOLDER, rng.choice(SURROGATES), 1).encode()


def duplicate_keys(rng: random.Random, body: bytes) -> bytes:
    """The same key twice in an object, the first with a value of the wrong type."""
    text = body.decode()
    starts = [i for i, char in enumerate(text) if char == "{"]
    i = rng.choice(starts)
    closing = text.find('"', i + 2)
    key = text[i + 2 : closing] if text[i + 1 : i + 2] == '"' else "resourceSpans"
    duplicate = f'"{key}":{json.dumps(rng.choice(WRONG_VALUES))},'
    return (text[: i + 1] + duplicate + text[i + 1 :]).encode()


def bad_ids(rng: random.Random, body: bytes) -> bytes:
    """Trace and span ids that are not hex, have odd length or are not strings."""
    document = _load(body)
    value = rng.choice(("zz", "abc", "", "0" * 1000, 12, None, ["00"], "\u00e9\u00e9"))
    for path in _nodes(document):
        if path and path[-1] in ("traceId", "spanId", "parentSpanId") and rng.random() < 0.5:
            _replace(document, path, value)
    return json.dumps(document).encode()


def other_encoding(rng: random.Random, body: bytes) -> bytes:
    """The body with a BOM, in UTF-16/32, or with trailing garbage."""
    text = body.decode()
    choice = rng.randrange(4)
    if choice == 0:
        return b"\xef\xbb\xbf" + body
    if choice == 1:
        return text.encode(rng.choice(("utf-16", "utf-32", "utf-16-le")))
    if choice == 2:
        return body + rng.choice((b"}", b"garbage", b"\x00", b"{}"))
    return body.replace(b'"', b"'")


JSON_MUTATORS: Final[dict[str, JsonMutator]] = {
    "wrong_type": wrong_type,
    "deep_nesting": deep_nesting,
    "huge_number": huge_number,
    "bad_utf8": bad_utf8,
    "lone_surrogate": lone_surrogate,
    "duplicate_keys": duplicate_keys,
    "bad_ids": bad_ids,
    "other_encoding": other_encoding,
}
