"""Corrupt serialized sketches that still look like sketches.

A KLL doubles sketch (Apache DataSketches, serial version 1-2) starts with a preamble:
byte 0 preamble ints (2 or 5), 1 serial version, 2 family (15), 3 flags, 4-5 k, 6 m,
and for a full sketch 8-15 n, 16-17 min k, 18 number of levels, then the level offsets,
min, max and the items. A deserializer that trusts those fields reads past the buffer;
the variants here keep a valid preamble (or most of the real bytes) and break what
follows, which is what blind byte mutation rarely reaches. The frequent-items sketch of
categorical summaries gets the same treatment.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from typing import Final

Corruption = Callable[[random.Random, bytes], bytes]

_HEADER: Final = 8
_FULL_HEADER: Final = 20


def header_then_garbage(rng: random.Random, valid: bytes) -> bytes:
    """20 bytes: the first 8 of a real sketch, then random bytes."""
    return valid[:_HEADER] + rng.randbytes(_FULL_HEADER - _HEADER)


def full_header_then_garbage(rng: random.Random, valid: bytes) -> bytes:
    """The real 20-byte preamble followed by 0-200 random bytes."""
    return valid[:_FULL_HEADER] + rng.randbytes(rng.randint(0, 200))


def _patched(valid: bytes, offset: int, value: bytes) -> bytes:
    if len(valid) < offset + len(value):
        valid = valid + bytes(offset + len(value) - len(valid))
    return valid[:offset] + value + valid[offset + len(value) :]


def wrong_level_count(rng: random.Random, valid: bytes) -> bytes:
    """A real sketch claiming 0-255 levels."""
    return _patched(valid, 18, bytes([rng.randrange(256)]))


def wrong_item_count(rng: random.Random, valid: bytes) -> bytes:
    """A real sketch claiming 0 to 2^64-1 items."""
    n = rng.choice((0, 1, 2**32, 2**63, 2**64 - 1, rng.getrandbits(64)))
    return _patched(valid, 8, struct.pack("<Q", n))


def wrong_k(rng: random.Random, valid: bytes) -> bytes:
    """A real sketch with k (and sometimes m) at absurd values."""
    out = _patched(valid, 4, struct.pack("<H", rng.choice((0, 1, 7, 65535))))
    if rng.random() < 0.5:
        out = _patched(out, 6, bytes([rng.choice((0, 1, 255))]))
    return out


def wrong_preamble(rng: random.Random, valid: bytes) -> bytes:
    """Preamble size, serial version, family or flags changed."""
    offset = rng.randrange(4)
    return _patched(valid, offset, bytes([rng.choice((0, 1, 2, 3, 5, 15, 255))]))


def wrong_offsets(rng: random.Random, valid: bytes) -> bytes:
    """Level offsets after the preamble replaced by random 32-bit values."""
    count = rng.randint(1, 8)
    return _patched(valid, _FULL_HEADER, b"".join(rng.randbytes(4) for _ in range(count)))


def truncated(rng: random.Random, valid: bytes) -> bytes:
    """A real sketch cut after its preamble."""
    return valid[: rng.randint(min(len(valid), 1), len(valid))]


def extended(rng: random.Random, valid: bytes) -> bytes:
    """A real sketch with random bytes after its end."""
    return valid + rng.randbytes(rng.randint(1, 64))


def random_sketch(rng: random.Random, valid: bytes) -> bytes:
    """Random bytes of a sketch's size."""
    return rng.randbytes(rng.randint(0, 64))


CORRUPTIONS: Final[dict[str, Corruption]] = {
    "header_then_garbage": header_then_garbage,
    "full_header_then_garbage": full_header_then_garbage,
    "wrong_level_count": wrong_level_count,
    "wrong_item_count": wrong_item_count,
    "wrong_k": wrong_k,
    "wrong_preamble": wrong_preamble,
    "wrong_offsets": wrong_offsets,
    "truncated": truncated,
    "extended": extended,
    "random_sketch": random_sketch,
}


def corrupt(rng: random.Random, valid: bytes) -> tuple[str, bytes]:
    """One random corruption of ``valid``: its name and the bytes."""
    name = rng.choice(tuple(CORRUPTIONS))
    return name, CORRUPTIONS[name](rng, valid)
