"""Content digests: the artifact ids that link spans into lineage.

Every id has the form ``<kind>:xxh3_128:<32 hex digits>`` where kind is ``data`` (an
in-memory dataset), ``file`` (a file's bytes) or ``model`` (a fitted model version).
The hash is XXH3-128: non-cryptographic, 128 bits (no accidental collisions at any
realistic artifact count) and fast enough to run over the full content at memory
bandwidth.

A data digest covers everything that makes two datasets different: the container kind,
the shape, every column name, every dtype, the index of pandas objects, and every cell.
Fixed-width columns (numbers, booleans, datetimes) are hashed straight from their
buffers in little-endian byte order; object, string, categorical and nullable columns
are first mapped to one stable 64-bit value per cell with pandas' vectorized
``hash_array`` / ``hash_pandas_object`` (a fixed-key SipHash, identical across
processes and machines). Unlike digests of ``repr`` or of the first N rows, a change in
any single cell changes the digest.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterable
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import xxhash

from mlspan.instrumentation.arrow_digest import arrow_strings, update_arrow_strings

ALGORITHM: Final = "xxh3_128"
"""Name of the hash algorithm, as recorded in ``mlspan.digest.algorithm``."""

DATA_KIND: Final = "data"
FILE_KIND: Final = "file"
MODEL_KIND: Final = "model"

_CHUNK: Final = 1 << 20
_SEP: Final = b"\x1f"
_WIDE_FRAME: Final = 64
_SMALL_FRAME_CELLS: Final = 1 << 20


def format_id(kind: str, hex_digest: str) -> str:
    """An artifact id ``<kind>:xxh3_128:<hex>``."""
    return f"{kind}:{ALGORITHM}:{hex_digest}"


def digest_bytes(data: bytes, kind: str) -> str:
    """The artifact id of ``data`` under ``kind`` (for example ``file`` or ``model``)."""
    return format_id(kind, xxhash.xxh3_128_hexdigest(data))


def digest_file(path: str | os.PathLike[str]) -> str:
    """The ``file:`` id of a file's bytes, read in 1 MiB chunks (any file size).

    The file is read through ``io.FileIO``, not the ``open`` builtin, so code that
    watches ``builtins.open`` (a test spying on how often a path is opened) sees no
    call from mlspan.
    """
    hasher = xxhash.xxh3_128()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with io.FileIO(os.fspath(path), "rb") as handle:
        while count := handle.readinto(buffer):
            hasher.update(view[:count])
    return format_id(FILE_KIND, hasher.hexdigest())


def digest_data(obj: object) -> str | None:
    """The ``data:`` id of a DataFrame, Series, ndarray, sparse matrix or list.

    Returns None for any other type or when the content cannot be hashed (for example a
    ragged list); never raises.
    """
    try:
        hasher = xxhash.xxh3_128()
        if not _update(hasher, obj):
            return None
        return format_id(DATA_KIND, hasher.hexdigest())
    except Exception:
        return None


def _update(hasher: Any, obj: object) -> bool:
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(obj, pandas.DataFrame):
        _update_frame(hasher, obj)
        return True
    if pandas is not None and isinstance(obj, pandas.Series):
        _update_series(hasher, obj)
        return True
    if isinstance(obj, np.ndarray):
        _update_array(hasher, obj)
        return True
    if _is_sparse(obj):
        _update_sparse(hasher, obj)
        return True
    if isinstance(obj, (list, tuple)):
        array = np.asarray(obj)
        _update_array(hasher, array)
        return True
    return False


def _header(hasher: Any, *parts: object) -> None:
    hasher.update(json.dumps(parts, default=str, ensure_ascii=False).encode())
    hasher.update(_SEP)


def _little_endian(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if array.dtype.byteorder == ">":
        return array.astype(array.dtype.newbyteorder("<"))
    return array


def _raw_bytes(array: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    """A flat uint8 view of a fixed-width array in C order and little-endian byte order."""
    contiguous = np.ascontiguousarray(_little_endian(array))
    return contiguous.reshape(-1).view(np.uint8)


def _is_fixed_width(dtype: np.dtype[Any]) -> bool:
    return dtype.kind in "biufcmMSUV" and not dtype.hasobject


def _update_array(hasher: Any, array: npt.NDArray[Any]) -> None:
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    _header(hasher, "ndarray", dtype.str, list(array.shape))
    _update_cells(hasher, array)


def _update_cells(hasher: Any, array: npt.NDArray[Any]) -> None:
    """Hash the cells of a numpy array in C order (fixed width) or per-cell hashes."""
    if _is_fixed_width(array.dtype):
        hasher.update(_raw_bytes(array))
    else:
        hasher.update(_object_hashes(array.ravel()).tobytes())


def _object_hashes(values: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    """One stable little-endian uint64 per cell of an object array."""
    try:
        import pandas

        hashed = pandas.util.hash_array(values, categorize=False)
        return np.asarray(hashed, dtype="<u8")
    except ImportError:
        return _object_hashes_without_pandas(values)


def _object_hashes_without_pandas(values: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    out = np.empty(values.shape[0], dtype="<u8")
    for index, value in enumerate(values.tolist()):
        text = f"{type(value).__name__}:{value}".encode(errors="surrogatepass")
        out[index] = xxhash.xxh3_64_intdigest(text)
    return out


def _column_names(names: Iterable[object]) -> list[list[str]]:
    return [[type(name).__name__, str(name)] for name in names]


def _update_index(hasher: Any, index: Any) -> None:
    import pandas

    if isinstance(index, pandas.RangeIndex):
        _header(hasher, "range", index.start, index.stop, index.step, index.name)
        return
    _header(hasher, "index", str(index.dtype), _column_names(index.names))
    hashed = pandas.util.hash_pandas_object(index, categorize=False)
    hasher.update(np.asarray(hashed, dtype="<u8").tobytes())


def _update_column(hasher: Any, series: Any) -> None:
    import pandas

    dtype = series.dtype
    if isinstance(dtype, np.dtype) and _is_fixed_width(dtype):
        _update_cells(hasher, series.to_numpy())
        return
    strings = arrow_strings(series)
    if strings is not None:
        update_arrow_strings(hasher, strings)
        return
    hashed = pandas.util.hash_pandas_object(series, index=False, categorize=False)
    hasher.update(np.asarray(hashed, dtype="<u8").tobytes())


def _update_series(hasher: Any, series: Any) -> None:
    _header(hasher, "Series", len(series), [type(series.name).__name__, str(series.name)])
    _header(hasher, str(series.dtype))
    _update_index(hasher, series.index)
    _update_column(hasher, series)


def _update_frame(hasher: Any, frame: Any) -> None:
    _header(hasher, "DataFrame", list(frame.shape), _column_names(frame.columns))
    dtypes = list(frame.dtypes)
    names = {dtype: str(dtype) for dtype in set(dtypes)}  # str(dtype) costs microseconds
    _header(hasher, *(names[dtype] for dtype in dtypes))
    _update_index(hasher, frame.index)
    if len(names) == 1 and _update_single_block(hasher, frame, dtypes[0]):
        return
    for _name, column in frame.items():
        _update_column(hasher, column)


def _update_single_block(hasher: Any, frame: Any, dtype: object) -> bool:
    """Hash a frame whose columns all have ``dtype`` (fixed-width numpy) in one update.

    The bytes fed are exactly the concatenation of the columns' bytes, so the digest
    equals the column-by-column path; it saves the per-column overhead (~10 us a
    column). ``to_numpy`` copies a frame split into several blocks, so large narrow
    frames, where that overhead does not matter, take the column path.
    """
    rows, columns = frame.shape
    small = rows * columns <= _SMALL_FRAME_CELLS
    if columns < 2 or not (small or columns >= _WIDE_FRAME):
        return False
    if not isinstance(dtype, np.dtype) or not _is_fixed_width(dtype):
        return False
    by_column = frame.to_numpy().T
    if not by_column.flags.c_contiguous:
        if not small:
            return False
        by_column = np.ascontiguousarray(by_column)
    hasher.update(_raw_bytes(by_column))
    return True


def _is_sparse(obj: object) -> bool:
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and bool(sparse.issparse(obj))


def _update_sparse(hasher: Any, matrix: Any) -> None:
    csr = matrix.tocsr()
    if csr is matrix or not csr.has_canonical_format:
        csr = csr.copy()
    csr.sum_duplicates()
    csr.eliminate_zeros()
    _header(hasher, "sparse", _little_endian(csr.data).dtype.str, list(csr.shape))
    hasher.update(np.ascontiguousarray(csr.indptr, dtype="<i8").tobytes())
    hasher.update(_SEP)
    hasher.update(np.ascontiguousarray(csr.indices, dtype="<i8").tobytes())
    hasher.update(_SEP)
    _update_cells(hasher, csr.data)
