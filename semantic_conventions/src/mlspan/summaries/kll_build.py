"""Build a KLL sketch of a whole sorted batch in one step instead of item by item.

Feeding a KLL sketch one value at a time costs ~15-30 ns per value (its compactors sort
and halve buffers over and over), which dominated the cost of summarising a training set.
When the whole batch is at hand and sorted, the sketch's compaction can be done in one
pass: keep every ``w``-th value (``w = 2**h``, random offset) as items of weight ``w`` on
level ``h``, and split the ``r < w`` values left over into runs of ``2**b`` values, one
per set bit ``b`` of ``r``, each kept as one item on level ``b``. That is a valid KLL
state (each item weighs ``2**level``; the weights sum to ``n``), written in DataSketches'
own serialization so every later merge, update and query is the library's.
Its rank error is at most ``w / n <= 2 / k`` (deterministic; about ``2 / (3k)`` for large
batches), inside the sketch's stated bound (about 1.3 % at k=200, 0.7 % at k=400);
tests/summaries/test_kll_build.py checks both.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from datasketches import kll_doubles_sketch

_MIN_WIDTH = 8
"""DataSketches' default minimum level width (``m``)."""

_FAMILY_KLL = 15
_SERIAL_VERSION_FULL = 1
_PREAMBLE_INTS_FULL = 5


def level_capacity(k: int, num_levels: int, height: int) -> int:
    """Items level ``height`` may hold in a sketch of ``num_levels`` levels (as DataSketches)."""
    depth = num_levels - height - 1
    if depth > 30:
        return _MIN_WIDTH
    scaled = ((2 * k) << depth) // (3**depth)
    return max(_MIN_WIDTH, int(scaled + 1) >> 1)


def total_capacity(k: int, num_levels: int) -> int:
    """Items a sketch of ``num_levels`` levels holds before it must compact."""
    return sum(level_capacity(k, num_levels, h) for h in range(num_levels))


def kll_from_sorted(
    ordered: npt.NDArray[np.float64], k: int, rng: np.random.Generator | None = None
) -> bytes:
    """Serialized KLL sketch (accuracy ``k``) of the finite, ascending values ``ordered``."""
    n = int(ordered.size)
    if n <= k:
        sketch = kll_doubles_sketch(k)
        if n:
            sketch.update(np.ascontiguousarray(ordered, dtype=np.float64))
        return bytes(sketch.serialize())
    return _one_pass(n, k, rng, lambda positions: ordered[positions], ordered[0], ordered[-1])


def kll_from_weighted(
    values: npt.NDArray[np.float64],
    weights: npt.NDArray[np.int64],
    k: int,
    rng: np.random.Generator | None = None,
) -> bytes:
    """Serialized KLL sketch of ``values[i]`` repeated ``weights[i]`` times, never expanded.

    ``values`` are finite, distinct and ascending, ``weights`` positive with a sum below
    2**63. The sketch is the one ``kll_from_sorted`` builds from the expanded array (the
    same one for the same ``rng``), but only the ``O(k)`` items it keeps are looked up,
    by binary search on the cumulative weights: the work is ``O(len(values) + k log
    len(values))`` whatever the weights add up to.
    """
    cumulative = np.cumsum(weights, dtype=np.int64)
    n = int(cumulative[-1]) if cumulative.size else 0
    if n <= k:  # at most k values: the library's own sketch of them
        return kll_from_sorted(np.repeat(values, weights), k, rng)

    def pick(positions: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        return values[np.searchsorted(cumulative, positions, side="right")]

    return _one_pass(n, k, rng, pick, values[0], values[-1])


def _one_pass(
    n: int,
    k: int,
    rng: np.random.Generator | None,
    pick: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float64]],
    lowest: float,
    highest: float,
) -> bytes:
    """The compacted sketch of ``n > k`` sorted values, ``pick`` giving those at positions."""
    height = 1
    while True:
        width = 1 << height
        kept = n // width
        rest = n - kept * width
        capacity = total_capacity(k, height + 1)
        if kept + rest.bit_count() <= capacity:
            break
        height += 1
    generator = rng if rng is not None else np.random.default_rng()
    offset = int(generator.integers(width))
    top = pick(offset + width * np.arange(kept, dtype=np.int64))
    # The leftover tail, in runs of 2**b values for each set bit b of ``rest``: each run
    # is represented by one of its values, chosen like the top level's offset.
    chosen: list[int] = []
    counts = [0] * (height + 1)
    position = kept * width
    for bit in range(height - 1, -1, -1):
        if rest >> bit & 1:
            run = 1 << bit
            chosen.append(position + int(generator.integers(run)))
            counts[bit] = 1
            position += run
    counts[height] = kept
    # Items are stored level 0 first; ``chosen`` was collected from the top bit down.
    bottom = pick(np.array(chosen[::-1], dtype=np.int64))
    num_levels = height + 1
    retained = kept + len(chosen)
    levels = [capacity - retained]
    for level in range(height):
        levels.append(levels[-1] + counts[level])
    header = struct.pack(
        "<BBBBHBBQHBB",
        _PREAMBLE_INTS_FULL,
        _SERIAL_VERSION_FULL,
        _FAMILY_KLL,
        0,
        k,
        _MIN_WIDTH,
        0,
        n,
        k,
        num_levels,
        0,
    )
    body = struct.pack(f"<{num_levels}I", *levels)
    extremes = struct.pack("<dd", float(lowest), float(highest))
    items = np.concatenate([bottom, top]).astype("<f8", copy=False).tobytes()
    return header + body + extremes + items
