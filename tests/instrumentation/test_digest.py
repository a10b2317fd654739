"""Data, file and byte digests: full content, stable across processes, sensitive to any cell."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from mlspan.instrumentation.digest import ALGORITHM, digest_bytes, digest_data, digest_file

DATA_ID = re.compile(r"^data:xxh3_128:[0-9a-f]{32}$")


def mixed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "num": [1.5, np.nan, np.inf, -2.0],
            "int": np.arange(4, dtype=np.int32),
            "str": ["a", "b", None, "é"],
            "cat": pd.Categorical(["x", "y", "x", "z"]),
            "nullable": pd.array([1, None, 3, 4], dtype="Int64"),
            "when": pd.to_datetime(["2020-01-01", "2021-01-01", None, "2022-01-01"]),
            "tz": pd.to_datetime(["2020", "2021", "2022", "2023"]).tz_localize("UTC"),
            "mixed": [1, "a", 2.5, None],
            "flag": [True, False, True, True],
        }
    )


SAMPLES: dict[str, object] = {
    "frame": mixed_frame(),
    "float_frame": pd.DataFrame(np.arange(60.0).reshape(20, 3), columns=["a", "b", "c"]),
    "series": pd.Series(["u", "v", None], name="s"),
    "float_array": np.linspace(0, 1, 50).reshape(10, 5),
    "int8": np.arange(10, dtype=np.int8),
    "uint64": np.arange(10, dtype=np.uint64),
    "complex": np.arange(4, dtype=np.complex128),
    "bool": np.array([True, False]),
    "unicode": np.array(["a", "bb", "ccc"]),
    "bytes": np.array([b"a", b"bb"]),
    "object": np.array(["a", 1, None, 2.5], dtype=object),
    "datetime": np.array(["2020-01-01", "2021-05-06"], dtype="datetime64[ns]"),
    "timedelta": np.array([1, 2], dtype="timedelta64[s]"),
    "big_endian": np.arange(5, dtype=">f8"),
    "sparse": sp.random(20, 10, density=0.3, format="csr", random_state=0),
    "list": [[1.0, 2.0], [3.0, 4.0]],
    "empty": np.empty((0, 3)),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_supported_type_gets_a_data_id(name: str) -> None:
    digest = digest_data(SAMPLES[name])
    assert digest is not None and DATA_ID.match(digest), digest


def test_unsupported_inputs_give_none_without_raising() -> None:
    assert digest_data(object()) is None
    assert digest_data("text") is None
    assert digest_data([[1, 2], [3]]) is None


def test_digest_is_stable_across_processes() -> None:
    script = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_digest import SAMPLES\n"
        "from mlspan.instrumentation.digest import digest_data\n"
        "for name in sorted(SAMPLES): print(name, digest_data(SAMPLES[name]))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    expected = "".join(f"{name} {digest_data(SAMPLES[name])}\n" for name in sorted(SAMPLES))
    assert output == expected


def test_a_single_cell_change_changes_the_digest_in_every_column() -> None:
    frame = mixed_frame()
    base = digest_data(frame)
    replacements = {
        "num": 7.0,
        "int": 9,
        "str": "q",
        "cat": "z",
        "nullable": 8,
        "when": pd.Timestamp("1999-01-01"),
        "tz": pd.Timestamp("1999-01-01", tz="UTC"),
        "mixed": "b",
        "flag": False,
    }
    for column, value in replacements.items():
        changed = frame.copy()
        changed.loc[0, column] = value
        assert digest_data(changed) != base, column


def test_a_change_deep_in_a_large_frame_changes_the_digest() -> None:
    frame = pd.DataFrame(np.zeros((20_000, 4)))
    base = digest_data(frame)
    frame.iloc[15_000, 3] = 1.0
    assert digest_data(frame) != base


def test_column_rename_dtype_change_and_index_change_change_the_digest() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    base = digest_data(frame)
    assert digest_data(frame.rename(columns={"a": "z"})) != base
    assert digest_data(frame.astype("float32")) != base
    assert digest_data(frame.set_axis([5, 6])) != base
    assert digest_data(frame) == base


def test_multi_block_and_single_block_frames_hash_the_same_bytes() -> None:
    columns = [f"c{i}" for i in range(100)]
    frame = pd.DataFrame(np.arange(1000.0).reshape(10, 100), columns=columns)
    split = pd.concat([frame[columns[:1]], frame[columns[1:]]], axis=1)
    assert digest_data(split) == digest_data(frame)
    narrow = frame[columns[:3]].copy()
    assert digest_data(narrow) == digest_data(
        pd.concat([narrow[["c0"]], narrow[["c1", "c2"]]], axis=1)
    )


def test_sparse_digest_ignores_storage_format_and_does_not_mutate_input() -> None:
    dense = np.array([[0.0, 1.0], [2.0, 0.0]])
    csr = sp.csr_matrix(dense)
    coo = sp.coo_matrix(dense)
    before = (coo.row.copy(), coo.col.copy(), coo.data.copy())
    assert digest_data(csr) == digest_data(coo) == digest_data(sp.csc_matrix(dense))
    assert all(
        np.array_equal(a, b) for a, b in zip(before, (coo.row, coo.col, coo.data), strict=True)
    )
    changed = csr.copy()
    changed[0, 1] = 5.0
    assert digest_data(changed) != digest_data(csr)


def test_list_and_equal_array_share_a_digest_and_byte_order_does_not_matter() -> None:
    assert digest_data([[1.0, 2.0]]) == digest_data(np.array([[1.0, 2.0]]))
    assert digest_data(np.arange(3, dtype=">i4")) == digest_data(np.arange(3, dtype="<i4"))


def test_file_and_bytes_digests(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    payload = bytes(range(256)) * 10_000
    path.write_bytes(payload)
    file_id = digest_file(path)
    assert file_id == digest_bytes(payload, "file")
    assert file_id.startswith(f"file:{ALGORITHM}:") and len(file_id.split(":")[2]) == 32
    path.write_bytes(payload[:-1] + b"\x00")
    assert digest_file(path) != file_id


def test_arrow_strings_hash_their_content_not_their_storage() -> None:
    import pyarrow as pa

    rng = np.random.default_rng(3)
    values = pd.Series(rng.choice(["north", "south", "", "east"], 5000), dtype="str")
    values.iloc[::7] = None  # a null over what was a string: the bytes may stay below it
    assert "pyarrow" in str(values.dtype.storage)
    base = digest_data(values)
    chunked = pd.concat([values.iloc[:1234], values.iloc[1234:]])
    assert chunked.array.__arrow_array__().num_chunks == 2
    assert digest_data(chunked) == base
    rebuilt = pd.Series(values.tolist(), dtype="str")
    assert digest_data(rebuilt) == base
    large = pd.Series(
        pd.arrays.ArrowExtensionArray(
            pa.array(values.tolist(), type=pa.large_string(), from_pandas=True)
        )
    )
    assert digest_data(large) != base  # another dtype, named in the digest's header
    sliced = values.iloc[10:]
    assert digest_data(sliced) == digest_data(
        pd.Series(sliced.tolist(), dtype="str").set_axis(sliced.index)
    )
    for change in ("", None, "northx"):
        changed = values.copy()
        changed.iloc[4001] = change if values.iloc[4001] != change else "west"
        assert digest_data(changed) != base, change
    split = pd.Series(["ab", "c"], dtype="str"), pd.Series(["a", "bc"], dtype="str")
    assert digest_data(split[0]) != digest_data(split[1])


def test_a_file_digest_does_not_go_through_the_open_builtin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    target = tmp_path / "out.bin"
    target.write_bytes(b"x" * 3_000_000)
    expected = digest_file(target)
    opened: list[object] = []
    real_open = builtins.open

    def spy(file: object, *args: object, **kwargs: object) -> object:
        opened.append(file)
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "open", spy)
    assert digest_file(target) == expected
    assert opened == []
