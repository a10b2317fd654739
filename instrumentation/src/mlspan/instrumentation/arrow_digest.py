"""Digesting Arrow-backed string columns from their buffers.

pandas 3 stores text columns as Arrow strings when pyarrow is installed. Hashing them
through pandas' per-cell hash costs ~100 ns a cell; their Arrow buffers hold the same
content as a validity bitmap, an offsets array and one byte buffer, which hash at memory
speed. The digest must not depend on how the column happens to be stored (chunking,
slicing, 32- or 64-bit offsets, bytes left under null slots), so what is hashed is
canonical: each value's length as a little-endian int64 (0 for a null), all value bytes
in order, and the positions of the nulls.
"""

from __future__ import annotations

import importlib
from typing import Any, Final

import numpy as np
import xxhash

_STRING_TYPES: Final = frozenset({"string", "large_string", "utf8", "large_utf8"})


def arrow_strings(series: Any) -> Any | None:
    """The column's Arrow ChunkedArray when it is Arrow-backed text, else None."""
    array = getattr(series, "array", None)
    to_arrow = getattr(array, "__arrow_array__", None)
    if to_arrow is None:
        return None
    storage = str(getattr(series.dtype, "storage", ""))
    if "pyarrow" not in storage and "[pyarrow]" not in str(series.dtype):
        return None
    chunked = to_arrow()
    if str(getattr(chunked, "type", "")) not in _STRING_TYPES:
        return None
    return chunked


def pyarrow_compute() -> Any:
    """``pyarrow.compute`` (imported only for columns that are Arrow-backed already)."""
    return importlib.import_module("pyarrow.compute")


def update_arrow_strings(hasher: Any, chunked: Any) -> None:
    """Hash the lengths, bytes and null positions of an Arrow string ChunkedArray."""
    lengths, data, nulls = xxhash.xxh3_128(), xxhash.xxh3_128(), xxhash.xxh3_128()
    position = 0
    for stored in chunked.chunks:
        count = len(stored)
        if count == 0:
            continue
        chunk = stored
        if stored.null_count:
            missing = np.flatnonzero(stored.is_null().to_numpy(zero_copy_only=False))
            nulls.update((missing + position).astype("<i8").tobytes())
            # what lies under a null slot is storage, not content: make it empty
            chunk = pyarrow_compute().fill_null(stored, "")
        _validity, offsets_buffer, data_buffer = chunk.buffers()
        wide = str(chunk.type) in ("large_string", "large_utf8")
        offsets = np.frombuffer(offsets_buffer, dtype="<i8" if wide else "<i4")
        offsets = offsets[chunk.offset : chunk.offset + count + 1].astype("<i8")
        lengths.update(np.diff(offsets).tobytes())
        if data_buffer is not None and offsets[-1] > offsets[0]:
            data.update(memoryview(data_buffer)[int(offsets[0]) : int(offsets[-1])])
        position += count
    for part in (lengths, data, nulls):
        hasher.update(part.digest())
