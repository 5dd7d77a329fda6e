"""Python rows to a typed Arrow table without importing pandas.

``pyarrow.array`` imports pandas on its first call (to check for pandas inputs), which
costs about 0.45 s: most of a fully cached ``evalkit run``. pyarrow's JSON reader builds
the same typed columns in C++ without that import, so rows are encoded as JSON lines
and read back with an explicit schema.

The types can match what ``DataFrame.to_parquet`` writes for the same rows: a column
whose values are all None (or that has no rows) gets Arrow's null type, as pandas writes
an object column with nothing in it, unless it is named in ``typed``.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

_MIN_BLOCK = 1 << 20


def table_from_columns(
    columns: dict[str, list[Any]],
    types: dict[str, pa.DataType],
    *,
    typed: frozenset[str] = frozenset(),
) -> pa.Table:
    """Returns a table of ``columns`` (equal-length lists) typed by ``types``.

    Args:
        columns: ``{name: values}``; values are JSON-encodable (str, int, float, bool,
            None, lists of str).
        types: the Arrow type of every column. A column whose values are all None (or
            that has no rows) gets the null type instead...
        typed: ...unless it is named here.

    Raises:
        ValueError: the columns differ in length, or a column has no type.
    """
    import pyarrow as pa
    import pyarrow.json as pa_json

    names = list(columns)
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns differ in length: {sorted(lengths)}")
    missing = [name for name in names if name not in types]
    if missing:
        raise ValueError(f"no Arrow type for column(s) {missing}")
    schema = pa.schema(
        [
            (
                name,
                types[name]
                if name in typed or any(v is not None for v in columns[name])
                else pa.null(),
            )
            for name in names
        ]
    )
    count = lengths.pop() if lengths else 0
    if count == 0:  # (schema.empty_table() would import pandas)
        return pa.Table.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)
    lines = [
        json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False, allow_nan=False).encode()
        for row in zip(*(columns[name] for name in names), strict=True)
    ]
    # A JSON object may not straddle two blocks: make every block hold the longest line.
    block = max(_MIN_BLOCK, 2 * max(map(len, lines)) + 2)
    return pa_json.read_json(
        io.BytesIO(b"\n".join(lines) + b"\n"),
        read_options=pa_json.ReadOptions(block_size=block),
        parse_options=pa_json.ParseOptions(
            explicit_schema=schema, unexpected_field_behavior="error"
        ),
    ).select(names)
