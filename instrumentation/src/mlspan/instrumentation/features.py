"""Features of a call's data: the columns of any supported input, and their kinds.

``columns_of`` turns a DataFrame, Series, ndarray, sparse matrix or list into named
columns without copying dense data. ``FeatureClassifier`` is the data-format identifier:
it classifies each column as numerical or categorical from its dtype, plus a
configurable cardinality rule for integer columns (a 0/1/2 "rating" is categorical, an
integer "age" numerical).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from mlspan.semconv import FeatureKind

_CATEGORICAL_NUMPY_KINDS: Final = frozenset("bOSUV")


@dataclass(frozen=True)
class Column:
    """One feature: its name, dtype name and values (an ndarray or a pandas Series)."""

    name: str
    dtype: str
    values: Any


def is_pandas_frame(obj: object) -> bool:
    """True for a pandas DataFrame (without importing pandas)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(obj, pandas.DataFrame)


def is_pandas_series(obj: object) -> bool:
    """True for a pandas Series (without importing pandas)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(obj, pandas.Series)


def is_sparse(obj: object) -> bool:
    """True for a scipy sparse matrix or array (without importing scipy)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and bool(sparse.issparse(obj))


def shape_of(data: object) -> tuple[int, int] | None:
    """(rows, columns) of two-dimensional data, (rows, 1) of one-dimensional data."""
    if is_pandas_frame(data) or is_sparse(data):
        rows, cols = getattr(data, "shape", (0, 0))
        return int(rows), int(cols)
    if isinstance(data, (list, tuple)):
        if not data:
            return 0, 0
        first = data[0]
        return len(data), len(first) if isinstance(first, (list, tuple, np.ndarray)) else 1
    shape = getattr(data, "shape", None)
    if not isinstance(shape, tuple) or not shape:
        return None
    return int(shape[0]), int(math.prod(shape[1:])) if len(shape) > 1 else 1


def rows_of(data: object) -> int | None:
    """Number of rows of the data, cheaply."""
    if isinstance(data, (list, tuple)):
        return len(data)
    shape = getattr(data, "shape", None)
    if isinstance(shape, tuple) and shape:
        return int(shape[0])
    return None


def columns_of(data: object, prefix: str, max_columns: int) -> list[Column] | None:
    """The columns of ``data``; unnamed ones are ``<prefix><i>`` (or ``prefix`` alone in 1-D).

    Returns None for unsupported data and for data wider than ``max_columns``.
    """
    if is_pandas_frame(data):
        frame: Any = data
        if frame.shape[1] > max_columns:
            return None
        return [Column(str(name), str(col.dtype), col) for name, col in frame.items()]
    if is_pandas_series(data):
        series: Any = data
        name = prefix if series.name is None else str(series.name)
        return [Column(name, str(series.dtype), series)]
    if is_sparse(data):
        return _sparse_columns(data, prefix, max_columns)
    array = data if isinstance(data, np.ndarray) else _as_array(data)
    if array is None or array.ndim == 0 or array.ndim > 2:
        return None
    if array.ndim == 1:
        return [Column(prefix, str(array.dtype), array)]
    if array.shape[1] > max_columns:
        return None
    return [Column(f"{prefix}{i}", str(array.dtype), array[:, i]) for i in range(array.shape[1])]


def _as_array(data: object) -> npt.NDArray[Any] | None:
    if not isinstance(data, (list, tuple)):
        return None
    try:
        return np.asarray(data)
    except (ValueError, TypeError):
        return None


def _sparse_columns(matrix: Any, prefix: str, max_columns: int) -> list[Column] | None:
    if len(matrix.shape) != 2 or matrix.shape[1] > max_columns:
        return None
    csc = matrix.tocsc()
    rows = csc.shape[0]
    out = []
    for i in range(csc.shape[1]):
        start, end = csc.indptr[i], csc.indptr[i + 1]
        stored = np.asarray(csc.data[start:end])
        implicit = np.zeros(rows - (end - start), dtype=stored.dtype)
        out.append(Column(f"{prefix}{i}", str(csc.dtype), np.concatenate([stored, implicit])))
    return out


@dataclass(frozen=True)
class FeatureClassifier:
    """The data-format identifier: numerical or categorical, by dtype and cardinality.

    Booleans, strings, objects and pandas categoricals are categorical. Floats,
    datetimes and timedeltas are numerical. Integers are numerical unless
    ``integer_max_unique`` > 0, the data has at least ``min_rows`` rows and the column
    has at most ``integer_max_unique`` distinct values.
    """

    integer_max_unique: int = 0
    min_rows: int = 100

    def classify(self, column: Column) -> FeatureKind:
        """The kind of one column."""
        dtype = column.values.dtype
        if isinstance(dtype, np.dtype):
            if dtype.kind in _CATEGORICAL_NUMPY_KINDS:
                return FeatureKind.CATEGORICAL
            if dtype.kind in "iu":
                return self._integer_kind(column.values)
            return FeatureKind.NUMERICAL
        pandas = sys.modules.get("pandas")
        if pandas is None:
            return FeatureKind.CATEGORICAL
        types = pandas.api.types
        if types.is_bool_dtype(dtype) or not types.is_numeric_dtype(dtype):
            if types.is_datetime64_any_dtype(dtype) or types.is_timedelta64_dtype(dtype):
                return FeatureKind.NUMERICAL
            return FeatureKind.CATEGORICAL
        if types.is_integer_dtype(dtype):
            return self._integer_kind(column.values)
        return FeatureKind.NUMERICAL

    def _integer_kind(self, values: Any) -> FeatureKind:
        if self.integer_max_unique <= 0 or len(values) < self.min_rows:
            return FeatureKind.NUMERICAL
        distinct = np.unique(np.asarray(values[~_isna(values)], dtype=np.int64))
        if distinct.size <= self.integer_max_unique:
            return FeatureKind.CATEGORICAL
        return FeatureKind.NUMERICAL


def _isna(values: Any) -> npt.NDArray[np.bool_]:
    if isinstance(values, np.ndarray):
        return np.zeros(values.shape, dtype=bool)
    return np.asarray(values.isna().to_numpy(), dtype=bool)
