"""A bounds-checked reader of DataSketches' KLL doubles serialization.

``kll_doubles_sketch.deserialize`` trusts its input: it reads the level offsets from the
bytes and then copies ``capacity - levels[0]`` items without checking either against the
buffer, so a 20-byte blob with a valid header reads out of bounds and kills the process.
Every sketch that arrives in a span is therefore read here first, in Python, and only
bytes that pass every check below reach the native code.

The layout (little-endian; as written by ``kll_sketch::serialize`` and by
``mlspan.summaries.kll_build``):

====== ======= =============================================================
offset size    field
====== ======= =============================================================
0      1       preamble ints: 2 (empty or single item) or 5 (full)
1      1       serial version: 1 (empty or full) or 2 (single item)
2      1       family id: 15 (KLL)
3      1       flags: bit 0 empty, bit 1 level zero sorted, bit 2 single item
4      2       k, in [8, 65535]
6      1       m (minimum level width), always 8
7      1       unused (0)
8      8       single item: the item; full: n, the number of values summarised
16     2       full only: min k (the smallest k merged in), in [8, k]
18     1       full only: number of levels, in [1, 64]
19     1       full only: unused (0)
20     4 * L   full only: each level's start offset in the item buffer
..     8 + 8   full only: the minimum and maximum value
..     8 * R   full only: the retained items, level 0 first
====== ======= =============================================================

The item buffer has ``capacity(k, m, L)`` slots (the sum of the levels' nominal
capacities) and level ``i`` occupies ``[levels[i], levels[i + 1])`` with
``levels[L] = capacity``, so ``R = capacity - levels[0]``. Beyond the byte-level bounds,
the reader checks what makes the native code's later work safe and its answers right:
offsets ascending, the byte length exactly the header plus ``R`` items, every level's
items weighing ``2**level`` and adding up to ``n``, every value finite (NaN breaks the
ordering the library's sorts rely on; mlspan sketches only finite values), levels above
zero sorted (and level zero when its flag says so), and every item within
``[min, max]``.

``check_kll_many`` runs the same checks over many sketches at once (the sketches of one
batch of spans): the fixed-size fields of each are read in Python, and the level
offsets, weights, ranges and orderings of all of them in one vectorised pass. A sketch
that any of those checks fails, or whose shape the pass does not cover (empty or single
item), is read again by ``check_kll_doubles``, whose answer (a layout or a precise error)
is then the one returned: the batch pass may refuse more than the single reader, never
less.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Final

import numpy as np
import numpy.typing as npt

FAMILY_KLL: Final = 15
MIN_K: Final = 8
MAX_K: Final = 65535
MIN_WIDTH: Final = 8
"""The only level width (``m``) the Python library writes and reads."""
MAX_LEVELS: Final = 64
"""An item on level ``i`` weighs ``2**i`` and ``n`` is a 64-bit count."""

PREAMBLE_SHORT: Final = 2
PREAMBLE_FULL: Final = 5
SERIAL_FULL: Final = 1
SERIAL_SINGLE: Final = 2
FLAG_EMPTY: Final = 1
FLAG_SORTED: Final = 2
FLAG_SINGLE: Final = 4

EMPTY_BYTES: Final = 8
SINGLE_BYTES: Final = 16
DATA_START: Final = 20

_POWERS_OF_3: Final = tuple(3**depth for depth in range(31))
"""Past depth 30 a level's nominal capacity is below ``m`` for every ``k``."""

_HEAD: Final = struct.Struct("<BBBBHBB")
_FULL: Final = struct.Struct("<QHBB")
_PAIR: Final = struct.Struct("<dd")
_FULL_HEAD: Final = struct.Struct("<BBBBHBBQHBB")
"""The 20 fixed bytes of a full sketch: ``_HEAD`` then ``_FULL``."""
_LEVEL_ZERO: Final = struct.Struct("<I")
_BATCH_MAX_LEVELS: Final = 40
"""Deepest sketch the vectorised pass reads: its level weights (below 2**18 items, each
weighing at most 2**39) sum exactly in int64. Deeper ones (n beyond ~1e12 at k=200) go
to ``check_kll_doubles``."""
_BATCH_MAX_N: Final = 1 << 62


class SketchFormatError(ValueError):
    """Bytes that are not a well-formed serialized sketch."""


@dataclass(frozen=True)
class KllLayout:
    """What a checked KLL serialization holds."""

    k: int
    min_k: int
    n: int
    levels: tuple[int, ...]
    """Start offsets of each level plus the capacity (``num_levels + 1`` entries)."""
    min_value: float
    """The smallest value summarised (NaN when the sketch is empty)."""
    max_value: float
    """The largest value summarised (NaN when the sketch is empty)."""

    @property
    def num_levels(self) -> int:
        """Levels of the sketch (1 until it first compacts)."""
        return len(self.levels) - 1

    @property
    def retained(self) -> int:
        """Items the sketch keeps."""
        return self.levels[-1] - self.levels[0]


@dataclass
class KllChecks:
    """What ``check_kll_many`` found, one entry per sketch in the order given."""

    n: list[int]
    min_value: list[float]
    max_value: list[float]
    """NaN for an empty sketch and for a refused one."""
    errors: dict[int, SketchFormatError] = field(default_factory=dict)
    """Why each refused sketch (by position) was refused."""


def check_kll_many(blobs: Sequence[bytes]) -> KllChecks:
    """``check_kll_doubles`` of every blob, with the per-item work done in one pass.

    Equivalent to calling ``check_kll_doubles`` on each blob (see the module docstring):
    a blob is accepted only where that reader accepts it, with the same ``n`` and
    extremes, and refused with that reader's error.
    """
    count = len(blobs)
    nan = math.nan
    out = KllChecks([0] * count, [nan] * count, [nan] * count)
    batch = _Batch()
    head = _FULL_HEAD.unpack_from
    level_zero = _LEVEL_ZERO.unpack_from
    pair = _PAIR.unpack_from
    capacities: dict[tuple[int, int], int] = {}
    for index, data in enumerate(blobs):
        size = len(data)
        if size >= DATA_START:
            pre, serial, family, flags, k, m, unused, n, min_k, levels, reserved = head(data)
            if (
                pre == PREAMBLE_FULL
                and serial == SERIAL_FULL
                and family == FAMILY_KLL
                and not flags & ~FLAG_SORTED
                and m == MIN_WIDTH
                and not unused
                and not reserved
                and MIN_K <= min_k <= k
                and 1 <= levels <= _BATCH_MAX_LEVELS
                and 0 < n < _BATCH_MAX_N
            ):
                capacity = capacities.get((k, levels))
                if capacity is None:
                    capacity = capacities[k, levels] = total_capacity(k, levels)
                extremes_at = DATA_START + 4 * levels
                items_at = extremes_at + 16
                if size > items_at:
                    retained = capacity - level_zero(data, DATA_START)[0]
                    if retained > 0 and size == items_at + 8 * retained:
                        low, high = pair(data, extremes_at)
                        if -math.inf < low <= high < math.inf:
                            view = memoryview(data)
                            batch.add(index, view, levels, capacity, retained, n, low, high)
                            batch.sorted_zero.append(bool(flags & FLAG_SORTED))
                            continue
        _check_one(blobs, index, out)
    if batch.index:
        refused = batch.check().tolist()
        for at, index in enumerate(batch.index):
            if refused[at]:
                _check_one(blobs, index, out)
            else:
                out.n[index] = batch.n[at]
                out.min_value[index] = batch.low[at]
                out.max_value[index] = batch.high[at]
    return out


def _check_one(blobs: Sequence[bytes], index: int, out: KllChecks) -> None:
    try:
        layout = check_kll_doubles(blobs[index])
    except SketchFormatError as exc:
        out.errors[index] = exc
        return
    out.n[index] = layout.n
    out.min_value[index] = layout.min_value
    out.max_value[index] = layout.max_value


class _Batch:
    """Full sketches whose fixed fields passed, gathered for the vectorised checks."""

    def __init__(self) -> None:
        self.index: list[int] = []
        self.levels: list[memoryview] = []
        self.items: list[memoryview] = []
        self.num_levels: list[int] = []
        self.capacity: list[int] = []
        self.retained: list[int] = []
        self.n: list[int] = []
        self.low: list[float] = []
        self.high: list[float] = []
        self.sorted_zero: list[bool] = []

    def add(
        self,
        index: int,
        view: memoryview,
        levels: int,
        capacity: int,
        retained: int,
        n: int,
        low: float,
        high: float,
    ) -> None:
        extremes_at = DATA_START + 4 * levels
        self.index.append(index)
        self.levels.append(view[DATA_START:extremes_at])
        self.items.append(view[extremes_at + 16 :])
        self.num_levels.append(levels)
        self.capacity.append(capacity)
        self.retained.append(retained)
        self.n.append(n)
        self.low.append(low)
        self.high.append(high)

    def check(self) -> npt.NDArray[np.bool_]:
        """Per sketch gathered: whether a vectorised check refuses it.

        Level offsets: each level's width (the next offset, or the capacity, minus its
        own) must be >= 0, and the widths shifted by their depth must add up to ``n``.
        Items: each within its sketch's ``[min, max]`` (which fails NaN and infinities
        too), and every descent between neighbours at a level start (a sketch's first
        item is one) or, where level zero is not flagged sorted, inside level zero.
        Positions come from the offsets of sketches whose levels passed only.
        """
        counts = np.array(self.num_levels, dtype=np.int64)
        offsets = np.frombuffer(b"".join(self.levels), dtype="<u4").astype(np.int64)
        ends = np.cumsum(counts)
        starts = ends - counts
        following = np.empty_like(offsets)
        following[:-1] = offsets[1:]
        following[ends - 1] = self.capacity
        widths = following - offsets
        depth = np.arange(offsets.size, dtype=np.int64) - np.repeat(starts, counts)
        weights = np.add.reduceat(widths << depth, starts)
        bad = np.minimum.reduceat(widths, starts) < 0
        bad |= weights != np.array(self.n, dtype=np.int64)

        retained = np.array(self.retained, dtype=np.int64)
        items = np.frombuffer(b"".join(self.items), dtype="<f8")
        first = np.cumsum(retained) - retained
        inside = np.repeat(np.array(self.low), retained) <= items
        inside &= items <= np.repeat(np.array(self.high), retained)
        if not inside.all():
            bad[np.searchsorted(first, np.flatnonzero(~inside), side="right") - 1] = True
        descents = np.flatnonzero(items[1:] < items[:-1]) + 1
        if not descents.size:
            return bad
        good_levels = np.repeat(~bad, counts)
        level_zero = np.repeat(offsets[starts], counts)
        allowed = np.zeros(items.size + 2, dtype=bool)
        allowed[(offsets - level_zero + np.repeat(first, counts))[good_levels]] = True
        unsorted = np.flatnonzero(~np.array(self.sorted_zero, dtype=bool) & ~bad)
        if unsorted.size:
            # Items 1 .. width of an unsorted level zero may descend (at ``width`` level
            # one starts, allowed above in any case).
            marks = np.zeros(items.size + 2, dtype=np.int64)
            np.add.at(marks, first[unsorted] + 1, 1)  # add.at: ends may coincide
            np.add.at(marks, first[unsorted] + widths[starts[unsorted]] + 1, -1)
            allowed |= np.cumsum(marks) > 0
        wrong = descents[~allowed[descents]]
        if wrong.size:
            bad[np.searchsorted(first, wrong, side="right") - 1] = True
        return bad


def check_kll_doubles(data: bytes) -> KllLayout:
    """The layout of a serialized ``kll_doubles_sketch``; raises ``SketchFormatError``.

    Reads only inside ``data``; every field is checked before the next one is used.
    """
    if len(data) < EMPTY_BYTES:
        raise SketchFormatError(f"KLL sketch of {len(data)} bytes is shorter than its header")
    preamble, serial, family, flags, k, m, unused = _HEAD.unpack_from(data, 0)
    if family != FAMILY_KLL:
        raise SketchFormatError(f"family id {family} is not KLL ({FAMILY_KLL})")
    if not MIN_K <= k <= MAX_K:
        raise SketchFormatError(f"k {k} is outside [{MIN_K}, {MAX_K}]")
    if m != MIN_WIDTH:
        raise SketchFormatError(f"minimum level width {m} is not {MIN_WIDTH}")
    if unused:
        raise SketchFormatError("a reserved header byte is set")
    if flags & ~(FLAG_EMPTY | FLAG_SORTED | FLAG_SINGLE):
        raise SketchFormatError(f"unknown flags {flags:#04x}")
    empty, single = bool(flags & FLAG_EMPTY), bool(flags & FLAG_SINGLE)
    if empty and single:
        raise SketchFormatError("flags say both empty and single-item")
    if empty:
        if flags != FLAG_EMPTY:
            raise SketchFormatError(f"an empty sketch with flags {flags:#04x}")
        _expect(preamble, serial, PREAMBLE_SHORT, SERIAL_FULL, "an empty")
        _expect_length(data, EMPTY_BYTES)
        capacity = total_capacity(k, 1)
        return KllLayout(k, k, 0, (capacity, capacity), float("nan"), float("nan"))
    if single:
        _expect(preamble, serial, PREAMBLE_SHORT, SERIAL_SINGLE, "a single-item")
        _expect_length(data, SINGLE_BYTES)
        (item,) = struct.unpack_from("<d", data, EMPTY_BYTES)
        if not math.isfinite(item):
            raise SketchFormatError("the single item is not finite")
        capacity = total_capacity(k, 1)
        return KllLayout(k, k, 1, (capacity - 1, capacity), item, item)
    _expect(preamble, serial, PREAMBLE_FULL, SERIAL_FULL, "a full")
    return _check_full(data, flags, k)


def _check_full(data: bytes, flags: int, k: int) -> KllLayout:
    if len(data) < DATA_START:
        raise SketchFormatError(f"full KLL sketch of {len(data)} bytes lacks its preamble")
    n, min_k, num_levels, unused = _FULL.unpack_from(data, EMPTY_BYTES)
    if unused:
        raise SketchFormatError("a reserved preamble byte is set")
    if not MIN_K <= min_k <= k:
        raise SketchFormatError(f"min k {min_k} is outside [{MIN_K}, k={k}]")
    if not 1 <= num_levels <= MAX_LEVELS:
        raise SketchFormatError(f"{num_levels} levels is outside [1, {MAX_LEVELS}]")
    if n == 0:
        raise SketchFormatError("a non-empty sketch with n = 0")
    extremes_at = DATA_START + 4 * num_levels
    items_at = extremes_at + _PAIR.size
    if len(data) < items_at:
        raise SketchFormatError(f"{len(data)} bytes cannot hold {num_levels} level offsets")
    capacity = total_capacity(k, num_levels)
    levels = (*struct.unpack_from(f"<{num_levels}I", data, DATA_START), capacity)
    if any(a > b for a, b in pairwise(levels)):
        raise SketchFormatError(f"level offsets {levels} are not ascending within {capacity}")
    retained = capacity - levels[0]
    if retained == 0:
        raise SketchFormatError("a non-empty sketch retains no item")
    _expect_length(data, items_at + 8 * retained)
    weight = sum((levels[i + 1] - levels[i]) << i for i in range(num_levels))
    if weight != n:
        raise SketchFormatError(f"levels weigh {weight}, not n = {n}")
    low, high = _PAIR.unpack_from(data, extremes_at)
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise SketchFormatError(f"minimum {low} and maximum {high} are not finite and ordered")
    items = np.frombuffer(data, dtype="<f8", count=retained, offset=items_at)
    # NaN propagates through min and max and fails both comparisons, and an infinity
    # lies outside the finite extremes, so one pair of reductions checks finiteness too.
    if not (low <= items.min() and items.max() <= high):
        if not np.isfinite(items).all():
            raise SketchFormatError("an item is not finite")
        raise SketchFormatError("an item lies outside [min, max]")
    _check_sorted(items, [offset - levels[0] for offset in levels], bool(flags & FLAG_SORTED))
    return KllLayout(k, min_k, n, levels, low, high)


def _check_sorted(items: np.ndarray, starts: list[int], level_zero_sorted: bool) -> None:
    """Every level above zero ascending (and level zero when flagged): each descent
    between neighbours must sit where one level ends and the next starts. An unsorted
    level zero is left out of the comparison, so only the few descents at level starts
    remain to be looked at in Python. One vectorised pass instead of one per level."""
    begin = 0 if level_zero_sorted else starts[1]
    tail = items[begin:]
    descents = np.flatnonzero(tail[1:] < tail[:-1])
    if descents.size == 0:
        return
    boundaries = set(starts)
    for index in descents.tolist():
        position = begin + index + 1
        if position not in boundaries:
            level = sum(1 for start in starts if start <= position) - 1
            raise SketchFormatError(f"level {level} is not sorted")


def total_capacity(k: int, num_levels: int) -> int:
    """Slots of the item buffer of a sketch of ``num_levels`` levels (as DataSketches:
    each level's nominal capacity ``ceil(k * (2/3)**depth)`` rounded as the library
    rounds it, at least ``m``)."""
    total = 0
    for depth in range(num_levels):
        if depth > 30:
            total += MIN_WIDTH
            continue
        scaled = ((2 * k) << depth) // _POWERS_OF_3[depth]
        total += max(MIN_WIDTH, (scaled + 1) >> 1)
    return total


def _expect(preamble: int, serial: int, want_preamble: int, want_serial: int, what: str) -> None:
    if preamble != want_preamble or serial != want_serial:
        raise SketchFormatError(
            f"preamble ints {preamble} / serial version {serial} do not describe {what} "
            f"sketch ({want_preamble} / {want_serial})"
        )


def _expect_length(data: bytes, size: int) -> None:
    if len(data) != size:
        raise SketchFormatError(f"sketch of {len(data)} bytes, its fields say {size}")
