"""Rows to a typed Arrow table through pyarrow's JSON reader (no pandas import)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from evalkit.util._arrow_table import table_from_columns

TYPES = {"s": pa.string(), "n": pa.int64(), "x": pa.float64(), "l": pa.list_(pa.string())}


def test_values_and_types_survive_exactly() -> None:
    columns = {
        "s": ["plain", None, "ünïcode \u2028 line sep", '"\\\n'],
        "n": [1, 2**53 + 1, None, -7],
        "x": [0.1, 1e-300, None, 2.0],
        "l": [["a"], None, [], ["b", "c"]],
    }
    table = table_from_columns(columns, TYPES)
    assert table.schema == pa.schema(list(TYPES.items()))
    assert table.to_pydict() == columns


def test_a_column_with_only_none_gets_the_null_type_as_pandas_writes_it() -> None:
    table = table_from_columns({"s": [None, None], "n": [1, 2]}, TYPES)
    assert table.schema.field("s").type == pa.null()
    assert table.schema.field("n").type == pa.int64()


def test_no_rows_give_an_empty_table_with_the_columns() -> None:
    table = table_from_columns({"s": [], "n": []}, TYPES)
    assert table.num_rows == 0
    assert table.column_names == ["s", "n"]


def test_a_row_longer_than_the_read_block_is_read_whole() -> None:
    big = "y" * (3 << 20)
    table = table_from_columns({"s": ["a", big, "b"]}, TYPES)
    assert table.column("s").to_pylist() == ["a", big, "b"]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"s": ["a"], "n": [1, 2]}, "differ in length"),
        ({"q": ["a"]}, "no Arrow type"),
    ],
)
def test_bad_columns_are_refused(columns: dict[str, list[object]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        table_from_columns(columns, TYPES)


def test_nan_is_refused_not_written_as_a_number() -> None:
    with pytest.raises(ValueError):
        table_from_columns({"x": [float("nan")]}, TYPES)
