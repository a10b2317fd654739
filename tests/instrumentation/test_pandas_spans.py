"""pandas read/write spans link files and frames by content digest."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wrapt
from opentelemetry.trace import StatusCode

from mlspan.instrumentation.digest import digest_data, digest_file
from mlspan.instrumentation.pandas import READERS, PandasInstrumentor
from mlspan.semconv import (
    DATASET_COLUMNS,
    DATASET_DIGEST,
    DATASET_ROWS,
    DATASET_SOURCE,
    IO_INPUTS,
    IO_OUTPUTS,
)
from tests.instrumentation.instrumented import instrumented, operation, spans_named


def sample() -> pd.DataFrame:
    return pd.DataFrame({"id": np.arange(5), "name": list("abcde"), "score": np.linspace(0, 1, 5)})


@pytest.mark.parametrize(
    ("writer", "reader", "suffix", "read_kwargs"),
    [
        ("to_csv", "read_csv", "csv", {"index_col": 0}),
        ("to_parquet", "read_parquet", "parquet", {}),
        ("to_json", "read_json", "json", {}),
    ],
)
def test_write_then_read_links_frame_file_frame(
    tmp_path: Path, writer: str, reader: str, suffix: str, read_kwargs: dict[str, object]
) -> None:
    path = tmp_path / f"data.{suffix}"
    frame = sample()
    with instrumented() as exporter:
        getattr(frame, writer)(path)
        loaded = getattr(pd, reader)(path, **read_kwargs)
    (write,) = spans_named(exporter, writer)
    (read,) = spans_named(exporter, reader)
    file_id = digest_file(path)
    wattrs, rattrs = dict(write.attributes or {}), dict(read.attributes or {})
    assert operation(write) == "write" and operation(read) == "read"
    assert list(wattrs[IO_INPUTS]) == [digest_data(frame)]  # type: ignore[arg-type]
    assert list(wattrs[IO_OUTPUTS]) == [file_id] == list(rattrs[IO_INPUTS])  # type: ignore[arg-type]
    assert list(rattrs[IO_OUTPUTS]) == [digest_data(loaded)]  # type: ignore[arg-type]
    assert rattrs[DATASET_DIGEST] == digest_data(loaded)
    assert rattrs[DATASET_SOURCE] == wattrs[DATASET_SOURCE] == str(path)
    assert (rattrs[DATASET_ROWS], rattrs[DATASET_COLUMNS]) == (5, 3)


def test_read_excel_and_read_sql(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    sample().to_excel(path, index=False)
    connection = sqlite3.connect(":memory:")
    sample().to_sql("items", connection, index=False)
    with instrumented() as exporter:
        excel = pd.read_excel(path)
        sql = pd.read_sql("SELECT * FROM items", connection)
    (excel_span,) = spans_named(exporter, "read_excel")
    assert list(dict(excel_span.attributes or {})[IO_INPUTS]) == [digest_file(path)]  # type: ignore[arg-type]
    (sql_span,) = spans_named(exporter, "read_sql")
    attrs = dict(sql_span.attributes or {})
    assert attrs[DATASET_SOURCE] == "SELECT * FROM items"
    assert list(attrs[IO_OUTPUTS]) == [digest_data(sql)] and excel.shape == (5, 3)  # type: ignore[arg-type]


def test_buffers_and_string_results_have_no_file_ids(tmp_path: Path) -> None:
    import io

    with instrumented() as exporter:
        text = sample().to_csv(None)
        loaded = pd.read_csv(io.StringIO(text))
    (write,) = spans_named(exporter, "to_csv")
    (read,) = spans_named(exporter, "read_csv")
    assert list(dict(write.attributes or {})[IO_OUTPUTS]) == []  # type: ignore[arg-type]
    assert DATASET_SOURCE not in dict(read.attributes or {})
    assert isinstance(text, str) and loaded.shape == (5, 4)


def test_read_errors_pass_through(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    with instrumented() as exporter, pytest.raises(FileNotFoundError):
        pd.read_csv(missing)
    (span,) = spans_named(exporter, "read_csv")
    assert span.status.status_code is StatusCode.ERROR


def test_uninstrument_restores_pandas_exactly() -> None:
    readers = {name: vars(pd)[name] for name in READERS}
    writers = {name: vars(pd.core.generic.NDFrame).get(name) for name in ("to_csv", "to_json")}
    parquet = vars(pd.DataFrame)["to_parquet"]
    with instrumented():
        assert isinstance(vars(pd)["read_csv"], wrapt.FunctionWrapper)
        assert isinstance(vars(pd.DataFrame)["to_parquet"], wrapt.FunctionWrapper)
    assert all(vars(pd)[name] is original for name, original in readers.items())
    assert all(vars(pd.core.generic.NDFrame).get(n) is o for n, o in writers.items())
    assert vars(pd.DataFrame)["to_parquet"] is parquet
    assert list(PandasInstrumentor().instrumentation_dependencies()) == ["pandas >= 2.0"]
