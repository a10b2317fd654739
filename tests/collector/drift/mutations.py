"""Byte-level and attribute-level mutations of real sketches and real summary events.

Each mutation is one of the ways a fuzzer or a broken client corrupts data: bits
flipped, bytes overwritten, the buffer cut short or extended, 4- and 8-byte fields set
to boundary values (which is how offsets, counts and lengths go wrong), items swapped,
values replaced by NaN or infinities, attributes dropped or given another type.
"""

from __future__ import annotations

import base64
import math
import random
import struct
from typing import Final

from mlspan.semconv import attributes as attr

_U32: Final = (0, 1, 2, 7, 8, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)
_U64: Final = (0, 1, 2, 1 << 32, 1 << 53, (1 << 63) - 1, 1 << 63, (1 << 64) - 1)
_DOUBLES: Final = (math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, 1.7976931348623157e308)


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """``data`` with one to three random corruptions."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        _corrupt(out, rng)
    return bytes(out)


def _corrupt(out: bytearray, rng: random.Random) -> None:
    size = len(out)
    choice = rng.randrange(9)
    if choice == 0 and size:
        out[rng.randrange(size)] ^= 1 << rng.randrange(8)
    elif choice == 1 and size:
        out[rng.randrange(min(size, 40))] = rng.randrange(256)  # mostly the header
    elif choice == 2 and size:
        del out[rng.randrange(size) :]
    elif choice == 3:
        out.extend(rng.randbytes(rng.choice((1, 4, 8, 20, 200))))
    elif choice == 4 and size >= 4:
        at = rng.randrange(min(size, 64) - 3)
        out[at : at + 4] = struct.pack("<I", rng.choice(_U32))
    elif choice == 5 and size >= 8:
        at = rng.randrange(size - 7)
        out[at : at + 8] = struct.pack("<Q", rng.choice(_U64))
    elif choice == 6 and size >= 8:
        at = rng.randrange(size - 7)
        out[at : at + 8] = struct.pack("<d", rng.choice(_DOUBLES))
    elif choice == 7 and size >= 16:
        a, b = rng.randrange(size - 7), rng.randrange(size - 7)
        out[a : a + 8], out[b : b + 8] = out[b : b + 8], out[a : a + 8]
    elif size:
        at = rng.randrange(size)
        out[at:at] = out[at : at + rng.randrange(1, 17)]


_WRONG: Final[tuple[object, ...]] = (
    None,
    True,
    -1,
    0,
    1 << 62,
    (1 << 63) - 1,
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    "",
    "x" * 10_000,
    "kll_doubles:0",
    "kll_doubles:99999999",
    "frequent_strings:0",
    "frequent_strings:1e9",
    "not base64!",
    "[1, 2]",
    '{"a": 1e400}',
    '{"a": -5}',
    '{"a": 1.5}',
    '{"a": true}',
    '{"a": "1"}',
    "[" * 50_000 + "]" * 50_000,
    b"\x00\x01",
    [1, 2, 3],
    {"k": "v"},
)


def mutate_event(attributes: dict[str, object], rng: random.Random) -> dict[str, object]:
    """A copy of one summary event's attributes with one to three corruptions."""
    out = dict(attributes)
    for _ in range(rng.randint(1, 3)):
        key = rng.choice(sorted(out)) if out else attr.FEATURE_NAME
        choice = rng.randrange(5)
        if choice == 0:
            out.pop(key, None)
        elif choice == 1:
            out[key] = rng.choice(_WRONG)
        elif choice == 2 and isinstance(out.get(attr.SUMMARY_SKETCH), str):
            try:
                raw = base64.b64decode(str(out[attr.SUMMARY_SKETCH]), validate=True)
            except ValueError:
                continue
            out[attr.SUMMARY_SKETCH] = base64.b64encode(mutate_bytes(raw, rng)).decode()
        elif (
            choice == 3
            and isinstance(out.get(key), (int, float))
            and not isinstance(out.get(key), bool)
        ):
            value = out[key]
            assert isinstance(value, (int, float))
            out[key] = rng.choice((value + 1, value - 1, value * 2, -value, value * 1e300))
        else:
            out[key] = rng.choice(list(attributes.values()))  # another field's value
    return out
