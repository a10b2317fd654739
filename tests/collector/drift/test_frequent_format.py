"""The bounds-checked frequent-strings reader against real sketches and corrupt bytes."""

from __future__ import annotations

import contextlib
import random
import struct

import pytest
from datasketches import frequent_items_error_type, frequent_strings_sketch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlspan.collector.drift.frequent_format import check_frequent_strings
from mlspan.collector.drift.kll_format import SketchFormatError
from tests.collector.drift.corpus import frequent_sketches
from tests.collector.drift.mutations import mutate_bytes

CORPUS = list(frequent_sketches(seed=4))


def test_every_real_sketch_is_accepted_with_the_library_counts() -> None:
    assert any(label.startswith("merged") for label, _ in CORPUS)
    for label, blob in CORPUS:
        layout = check_frequent_strings(blob)
        sketch = frequent_strings_sketch.deserialize(blob)
        assert layout.total_weight == sketch.total_weight, label
        assert len(layout.weights) == sketch.num_active_items, label
        rows = sketch.get_frequent_items(frequent_items_error_type.NO_FALSE_NEGATIVES, 0)
        assert {item: lower for item, _est, lower, _up in rows} == layout.weights, label


def _one_item() -> bytearray:
    sketch = frequent_strings_sketch(4)
    sketch.update("plan", 7)
    return bytearray(sketch.serialize())


def _refused(blob: bytes | bytearray, words: str) -> None:
    with pytest.raises(SketchFormatError, match=words):
        check_frequent_strings(bytes(blob))


def test_each_field_is_checked() -> None:
    good = _one_item()
    check_frequent_strings(bytes(good))

    def put(at: int, fmt: str, value: int) -> bytearray:
        out = bytearray(good)
        struct.pack_into(fmt, out, at, value)
        return out

    _refused(good[:7], "lacks its header")
    _refused(put(2, "<B", 15), "family")
    _refused(put(1, "<B", 2), "serial version")
    _refused(put(3, "<B", 30), "map sizes")  # lg max above 22
    _refused(put(4, "<B", 2), "map sizes")  # lg current below 3
    _refused(put(4, "<B", 5), "map sizes")  # lg current above lg max (4)
    _refused(put(6, "<H", 1), "reserved")
    _refused(put(5, "<B", 1), "inconsistent")
    _refused(put(0, "<B", 1), "inconsistent")
    _refused(good[:31], "lacks its preamble")
    _refused(put(12, "<I", 1), "reserved")
    _refused(put(8, "<I", 0xFFFFFFFF), "cannot hold")
    _refused(put(8, "<I", 2), "cannot hold|past the end")
    _refused(put(32, "<Q", 0), "no weight")
    _refused(put(32, "<Q", 8), "exceed the total")
    _refused(put(24, "<Q", 8), "exceed the total")
    _refused(put(40, "<I", 5), "runs past the end")
    _refused(put(40, "<I", 0xFFFFFFFF), "runs past the end")
    _refused(good + b"x", "follow the last item")
    _refused(good[:-1], "runs past the end")
    bad_utf8 = bytearray(good)
    bad_utf8[-1] = 0xFF
    _refused(bad_utf8, "not UTF-8")


def test_duplicate_items_and_oversized_maps_are_refused() -> None:
    sketch = frequent_strings_sketch(4)
    sketch.update("a", 2)
    sketch.update("b", 3)
    blob = bytearray(sketch.serialize())
    twice = blob.replace(b"\x01\x00\x00\x00b", b"\x01\x00\x00\x00a")
    _refused(twice, "listed twice")
    # An empty sketch whose map claims 2**22 slots: the library would allocate them.
    _refused(bytes([1, 1, 10, 22, 22, 5, 0, 0]), "grown map")
    grown = frequent_strings_sketch(22)
    grown.update("a", 1)
    blob = bytearray(grown.serialize())
    struct.pack_into("<B", blob, 4, 20)  # 2**20 slots for one item, below the largest
    _refused(blob, "slots for 1 items")


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_the_format_error(blob: bytes) -> None:
    with contextlib.suppress(SketchFormatError):
        check_frequent_strings(blob)


def test_mutations_of_real_sketches_raise_only_the_format_error() -> None:
    rng = random.Random(8)
    blobs = [blob for _label, blob in CORPUS]
    outcomes = {"accepted": 0, "refused": 0}
    for _ in range(5_000):
        try:
            check_frequent_strings(mutate_bytes(rng.choice(blobs), rng))
            outcomes["accepted"] += 1
        except SketchFormatError:
            outcomes["refused"] += 1
    assert outcomes["accepted"] > 0 and outcomes["refused"] > outcomes["accepted"]
