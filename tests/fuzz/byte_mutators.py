"""Byte-level mutators: blind changes to an encoded request (protobuf or JSON).

Each takes a random source, the bytes to change and a second valid body to splice from,
and returns new bytes. They know nothing about the format, which is the point: they
reach the states a structure-aware mutator never builds (a length prefix off by one, a
varint that never ends, half a UTF-8 sequence).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Final

ByteMutator = Callable[[random.Random, bytes, bytes], bytes]

INTERESTING: Final = (
    b"\x00",
    b"\xff",
    b"\x7f",
    b"\x80",
    b"\xff\xff\xff\xff\x0f",
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
)
"""Byte strings that often break parsers: extreme varints, overlong and surrogate UTF-8."""


def _position(rng: random.Random, data: bytes) -> int:
    return rng.randrange(len(data) + 1)


def bit_flip(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Flip 1-8 random bits."""
    if not data:
        return b"\x01"
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def byte_set(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Overwrite 1-4 random bytes with random values."""
    if not data:
        return bytes([rng.randrange(256)])
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def truncate(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Cut the body short anywhere, down to nothing."""
    return data[: rng.randrange(len(data) + 1)]


def splice(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """The head of one body followed by the tail of another."""
    return data[: _position(rng, data)] + other[_position(rng, other) :]


def insert_random(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Insert 1-64 random bytes."""
    i = _position(rng, data)
    return data[:i] + rng.randbytes(rng.randint(1, 64)) + data[i:]


def insert_interesting(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Insert or overwrite with an extreme varint or a malformed UTF-8 sequence."""
    i = _position(rng, data)
    chunk = rng.choice(INTERESTING)
    if rng.random() < 0.5:
        return data[:i] + chunk + data[i:]
    return data[:i] + chunk + data[i + len(chunk) :]


def repeat_chunk(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Repeat a random slice 2-200 times in place."""
    if not data:
        return data
    i = rng.randrange(len(data))
    j = min(len(data), i + rng.randint(1, 64))
    return data[:i] + data[i:j] * rng.randint(2, 200) + data[j:]


def delete_chunk(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Remove a random slice."""
    if not data:
        return data
    i = rng.randrange(len(data))
    return data[:i] + data[i + rng.randint(1, 256) :]


def random_bytes(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Noise of a similar size."""
    return rng.randbytes(rng.randint(0, max(1, min(len(data), 4096))))


BYTE_MUTATORS: Final[dict[str, ByteMutator]] = {
    "bit_flip": bit_flip,
    "byte_set": byte_set,
    "truncate": truncate,
    "splice": splice,
    "insert_random": insert_random,
    "insert_interesting": insert_interesting,
    "repeat_chunk": repeat_chunk,
    "delete_chunk": delete_chunk,
    "random_bytes": random_bytes,
}


def mutate_bytes(rng: random.Random, data: bytes, other: bytes) -> tuple[str, bytes]:
    """Apply 1-3 random byte mutators; returns their names and the result."""
    names = [rng.choice(tuple(BYTE_MUTATORS)) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
    for name in names:
        data = BYTE_MUTATORS[name](rng, data, other)
    return "+".join(names), data
