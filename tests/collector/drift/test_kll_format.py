"""The bounds-checked KLL reader against real DataSketches sketches and corrupt bytes."""

from __future__ import annotations

import contextlib
import random
import struct

import numpy as np
import pytest
from datasketches import kll_doubles_sketch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlspan.collector.drift.kll_format import KllLayout, SketchFormatError, check_kll_doubles
from mlspan.summaries.kll_build import kll_from_sorted, total_capacity
from tests.collector.drift.corpus import kll_sketches
from tests.collector.drift.mutations import mutate_bytes

CORPUS = list(kll_sketches(seed=3))

CRASHERS = (
    # 20 bytes: a valid full-sketch header, then garbage. Each of these killed an
    # unprotected process with SIGSEGV inside the native deserializer (see
    # test_native_safety.py, which replays them in a child process).
    "05010f00c80008003b583bad38c275f34aed056a",
    "05010f00c8000800abda4e409b369b0994ae28ff",
    "05010f00c80008003c978b215eea9a79a094109b",
    "05010f00c8000800e15f16d89b56ab63813f2d3f",
)


def test_every_real_sketch_is_accepted_and_read_as_the_library_reads_it() -> None:
    labels = {label.split()[0] for label, _ in CORPUS}
    assert labels == {"update", "sorted", "shrunk", "merged", "queried"}
    assert any("n=1e6" in label for label, _ in CORPUS)
    for label, blob in CORPUS:
        layout = check_kll_doubles(blob)
        sketch = kll_doubles_sketch.deserialize(blob)
        assert (layout.n, layout.k, layout.retained) == (
            sketch.n,
            sketch.k,
            sketch.num_retained,
        ), label
        assert layout.num_levels >= 1
        if sketch.n:
            assert (layout.min_value, layout.max_value) == (
                sketch.get_min_value(),
                sketch.get_max_value(),
            ), label


def test_empty_and_single_item_layouts() -> None:
    empty = check_kll_doubles(bytes(kll_doubles_sketch(200).serialize()))
    assert (empty.n, empty.retained) == (0, 0)
    one = kll_doubles_sketch(200)
    one.update(2.5)
    single = check_kll_doubles(bytes(one.serialize()))
    assert single == KllLayout(
        200, 200, 1, (total_capacity(200, 1) - 1, total_capacity(200, 1)), 2.5, 2.5
    )


@pytest.mark.parametrize("blob", CRASHERS)
def test_the_crashing_20_byte_blobs_are_refused(blob: str) -> None:
    with pytest.raises(SketchFormatError):
        check_kll_doubles(bytes.fromhex(blob))


def _full(values: np.ndarray, k: int = 8) -> bytearray:
    return bytearray(kll_from_sorted(np.sort(values), k))


def _refused(blob: bytes | bytearray, words: str) -> None:
    with pytest.raises(SketchFormatError, match=words):
        check_kll_doubles(bytes(blob))


def test_each_field_is_checked() -> None:
    good = _full(np.arange(1000.0))
    check_kll_doubles(bytes(good))
    num_levels = good[18]

    def with_byte(at: int, value: int) -> bytearray:
        out = bytearray(good)
        out[at] = value
        return out

    def with_struct(at: int, fmt: str, value: float) -> bytearray:
        out = bytearray(good)
        struct.pack_into(fmt, out, at, value)
        return out

    _refused(good[:7], "shorter than its header")
    _refused(with_byte(2, 16), "family")
    _refused(with_struct(4, "<H", 7), "k 7")
    _refused(with_byte(6, 4), "level width")
    _refused(with_byte(7, 1), "reserved")
    _refused(with_byte(3, 0x08), "unknown flags")
    _refused(with_byte(3, 0x05), "both empty and single")
    _refused(with_byte(0, 2), "preamble")
    _refused(with_byte(1, 2), "preamble")
    _refused(good[:19], "lacks its preamble")
    _refused(with_struct(16, "<H", 9), "min k 9")  # above k=8
    _refused(with_byte(18, 0), "0 levels")
    _refused(with_byte(18, 65), "65 levels")
    _refused(with_byte(19, 3), "reserved")
    _refused(with_struct(8, "<Q", 0), "n = 0")
    _refused(with_struct(8, "<Q", 999), "weigh 1000, not n = 999")
    _refused(with_struct(20, "<I", 0xFFFFFFF0), "not ascending")
    _refused(with_struct(20 + 4 * (num_levels - 1), "<I", 0), "not ascending")
    _refused(good[:-8], "its fields say")
    _refused(good + b"\x00" * 8, "its fields say")
    extremes = 20 + 4 * num_levels
    _refused(with_struct(extremes, "<d", float("nan")), "not finite")
    _refused(with_struct(extremes, "<d", 1e9), "not finite and ordered")
    _refused(with_struct(extremes + 8, "<d", 10.0), "outside")
    items = extremes + 16
    _refused(with_struct(len(good) - 8, "<d", float("inf")), "not finite")
    _refused(with_struct(items, "<d", -1.0), "outside")


def test_unsorted_levels_and_a_wrong_single_item_are_refused() -> None:
    good = _full(np.arange(1000.0))
    last = len(good) - 8
    swapped = bytearray(good)
    swapped[last - 8 : last], swapped[last:] = good[last:], good[last - 8 : last]
    _refused(swapped, "not sorted")
    one = kll_doubles_sketch(200)
    one.update(1.0)
    single = bytearray(one.serialize())
    _refused(single[:-1], "its fields say")
    struct.pack_into("<d", single, 8, float("nan"))
    _refused(single, "single item is not finite")
    empty = bytearray(kll_doubles_sketch(200).serialize())
    _refused(empty + b"\x00", "its fields say")
    empty[3] |= 2
    _refused(empty, "an empty sketch with flags")


def test_level_zero_sortedness_is_checked_only_when_flagged() -> None:
    sketch = kll_doubles_sketch(8)
    sketch.update(np.array([5.0, 1.0, 4.0, 2.0, 3.0, 9.0, 0.0]))
    unsorted = bytes(sketch.serialize())
    assert unsorted[3] & 2 == 0
    check_kll_doubles(unsorted)  # an unsorted level zero is legitimate...
    flagged = bytearray(unsorted)
    flagged[3] |= 2
    _refused(flagged, "level 0 is not sorted")  # ...unless the flag says otherwise


def test_items_of_a_sketch_with_an_unsorted_level_zero_are_still_checked() -> None:
    sketch = kll_doubles_sketch(8)
    sketch.update(np.random.default_rng(3).permutation(np.arange(200.0)))
    good = bytes(sketch.serialize())
    layout = check_kll_doubles(good)
    assert good[3] & 2 == 0 and layout.num_levels > 2
    items_at = 20 + 4 * layout.num_levels + 16
    zero_end = items_at + 8 * (layout.levels[1] - layout.levels[0])
    level_one = np.frombuffer(good, "<f8", layout.levels[2] - layout.levels[1], zero_end)
    assert level_one.size >= 2
    swapped = bytearray(good)
    swapped[zero_end : zero_end + 16] = struct.pack("<dd", level_one[1], level_one[0])
    _refused(swapped, "level 1 is not sorted")
    for at in (items_at, zero_end, len(good) - 8):
        for value, reason in ((float("nan"), "not finite"), (-float("inf"), "not finite")):
            bad = bytearray(good)
            struct.pack_into("<d", bad, at, value)
            _refused(bad, reason)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_the_format_error(blob: bytes) -> None:
    with contextlib.suppress(SketchFormatError):
        check_kll_doubles(blob)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(min_size=12, max_size=12),
    st.sampled_from([8, 200, 65535]),
)
def test_valid_headers_followed_by_garbage_are_refused(garbage: bytes, k: int) -> None:
    blob = struct.pack("<BBBBHBB", 5, 1, 15, 0, k, 8, 0) + garbage
    with pytest.raises(SketchFormatError):
        check_kll_doubles(blob)


def test_mutations_of_real_sketches_raise_only_the_format_error() -> None:
    rng = random.Random(7)
    blobs = [blob for _label, blob in CORPUS if len(blob) < 50_000]
    accepted = 0
    for _ in range(5_000):
        try:
            check_kll_doubles(mutate_bytes(rng.choice(blobs), rng))
            accepted += 1
        except SketchFormatError:
            pass
    # Some mutations leave a valid sketch (an item moved within its level, say); most
    # do not. Both outcomes occur, and nothing else happens.
    assert 0 < accepted < 2_500
