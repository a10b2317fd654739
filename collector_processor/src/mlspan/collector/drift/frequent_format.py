"""A bounds-checked reader of DataSketches' frequent-strings serialization.

``frequent_strings_sketch.deserialize`` reads the number of items, their weights and
each string's length from the bytes without checking them against the buffer, and sizes
its hash map from a header byte. Categorical summaries past their cardinality cap carry
such a sketch, so it is read here first and only bytes that pass reach the native code.

The layout (little-endian; ``frequent_items_sketch::serialize``):

====== ======= =============================================================
offset size    field
====== ======= =============================================================
0      1       preamble longs: 1 (empty) or 4
1      1       serial version: 1
2      1       family id: 10 (frequent items)
3      1       lg of the map's largest size, in [3, 22]
4      1       lg of the map's current size, in [3, lg max]
5      1       flags: 0b101 when empty, else 0
6      2       unused (0)
8      4       non-empty only: number of items R
12     4       unused (0)
16     8       total weight of the stream
24     8       offset (the error bound the purges accumulated)
32     8 * R   each item's weight (> 0)
..     ...     each item: a 4-byte length and that many UTF-8 bytes
====== ======= =============================================================

Beyond the bounds: items distinct and non-empty weights adding up to at most the total,
the offset at most the total, and a current map size the items justify (the map doubles
only when three quarters full, so a tiny blob cannot make the library allocate a huge
one: an 8-byte blob declaring a map of 2**30 slots made it allocate 2 GB) unless the map
is at its largest size, itself bounded by ``LG_MAX_MAP``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from mlspan.collector.drift.kll_format import SketchFormatError

FAMILY_FREQUENT: Final = 10
SERIAL_VERSION: Final = 1
PREAMBLE_EMPTY: Final = 1
PREAMBLE_FULL: Final = 4
FLAGS_EMPTY: Final = 0b101
LG_MIN_MAP: Final = 3
LG_MAX_MAP: Final = 22
"""The map size of a summary with the largest accepted cardinality cap (2**20)."""

EMPTY_BYTES: Final = 8
DATA_START: Final = 32

_HEAD: Final = struct.Struct("<BBBBBBH")
_BODY: Final = struct.Struct("<IIQQ")
_LENGTH: Final = struct.Struct("<I")


@dataclass(frozen=True)
class FrequentLayout:
    """What a checked frequent-strings serialization holds."""

    lg_max_map_size: int
    total_weight: int
    offset: int
    weights: dict[str, int]
    """Each item's counted weight (its estimate minus the offset)."""


def check_frequent_strings(data: bytes) -> FrequentLayout:
    """The layout of a serialized ``frequent_strings_sketch``; raises ``SketchFormatError``."""
    if len(data) < EMPTY_BYTES:
        raise SketchFormatError(f"frequent-items sketch of {len(data)} bytes lacks its header")
    preamble, serial, family, lg_max, lg_cur, flags, unused = _HEAD.unpack_from(data, 0)
    if family != FAMILY_FREQUENT:
        raise SketchFormatError(f"family id {family} is not frequent items ({FAMILY_FREQUENT})")
    if serial != SERIAL_VERSION:
        raise SketchFormatError(f"serial version {serial} is not {SERIAL_VERSION}")
    if not LG_MIN_MAP <= lg_cur <= lg_max <= LG_MAX_MAP:
        raise SketchFormatError(
            f"map sizes 2**{lg_cur} / 2**{lg_max} are outside 2**{LG_MIN_MAP}..2**{LG_MAX_MAP}"
        )
    if unused:
        raise SketchFormatError("a reserved header field is set")
    if flags == FLAGS_EMPTY:
        if preamble != PREAMBLE_EMPTY or len(data) != EMPTY_BYTES or lg_cur != LG_MIN_MAP:
            raise SketchFormatError("an empty sketch with a body or a grown map")
        return FrequentLayout(lg_max, 0, 0, {})
    if flags or preamble != PREAMBLE_FULL:
        raise SketchFormatError(f"flags {flags:#04x} / preamble {preamble} are inconsistent")
    if len(data) < DATA_START:
        raise SketchFormatError(f"frequent-items sketch of {len(data)} bytes lacks its preamble")
    count, unused32, total, offset = _BODY.unpack_from(data, EMPTY_BYTES)
    if unused32:
        raise SketchFormatError("a reserved preamble field is set")
    if lg_cur < lg_max and (1 << lg_cur) > max(1 << LG_MIN_MAP, 4 * count):
        raise SketchFormatError(f"a map of 2**{lg_cur} slots for {count} items")
    if count > (1 << lg_max) or len(data) < DATA_START + 12 * count:
        raise SketchFormatError(f"{len(data)} bytes cannot hold {count} items")
    weights = struct.unpack_from(f"<{count}Q", data, DATA_START)
    position = DATA_START + 8 * count
    items: dict[str, int] = {}
    for weight in weights:
        if len(data) < position + _LENGTH.size:
            raise SketchFormatError("an item's length lies past the end")
        (size,) = _LENGTH.unpack_from(data, position)
        position += _LENGTH.size
        if size > len(data) - position:
            raise SketchFormatError(f"an item of {size} bytes runs past the end")
        try:
            item = data[position : position + size].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SketchFormatError("an item is not UTF-8") from exc
        position += size
        if weight == 0 or item in items:
            raise SketchFormatError("an item with no weight, or one listed twice")
        items[item] = weight
    if position != len(data):
        raise SketchFormatError(f"{len(data) - position} bytes follow the last item")
    if sum(weights) > total or offset > total or total == 0:
        raise SketchFormatError(f"weights and offset exceed the total weight {total}")
    return FrequentLayout(lg_max, total, offset, items)
