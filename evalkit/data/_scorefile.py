"""Plain score files from other tools (JSONL or CSV), read into a
:class:`~evalkit.data._records.Run`.

One score a row, with columns ``case_id, metric, value`` and optionally ``sample`` (an
integer, default 0), ``group`` (cluster id), ``kind`` (``binary``, ``continuous`` or
``ordinal``; inferred when absent: 0/1 values are binary), ``tags`` (a JSON list, or in
CSV a string separated by ``;`` or ``|``) and ``error`` (why a row is unscored). An empty
or null ``value`` is an unscored row. Other columns are ignored. Example::

    {"case_id": "q1", "metric": "correct", "value": 1, "group": "doc-3", "tags": ["geo"]}

Every bad row is reported as ``file:line: what is wrong`` in one
:class:`~evalkit.errors.InvalidInputError`. A byte-order mark at the start of the file is
accepted (UTF-8, or UTF-16/32 read in that encoding); bytes that are not UTF-8 are named
by line.

Reading is vectorised: pyarrow's CSV and JSON readers parse the file, and every check
runs on whole columns (each distinct text checked once), so a million score rows load in
about a second. A file the fast reader cannot vouch for (any bad row, or a layout it does
not parse, such as a JSONL column holding numbers on some lines and text on others) is
read again row by row, which accepts the same files and names every bad row by file and
line.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

import evalkit
from evalkit.data._jsonl import checked_utf8
from evalkit.data._records import (
    SCORE_COLUMNS,
    MetricInfo,
    MetricKind,
    Run,
    RunManifest,
    outputs_frame,
)
from evalkit.errors import InvalidInputError, NotFoundError, Problem

REQUIRED_COLUMNS = ("case_id", "metric", "value")
KINDS = ("binary", "continuous", "ordinal")
UNKNOWN_FINGERPRINT = "unknown"
_MISSING_TEXT = {"", "na", "nan", "null", "none"}
_HINT = "a score file has columns case_id, metric, value [, sample, group, kind, tags, error]"


def is_score_file(path: str | Path) -> bool:
    """Returns True when ``path`` looks like a score file by its suffix (.jsonl or .csv)."""
    return Path(path).suffix.lower() in (".jsonl", ".csv")


def _jsonl_rows(text: str, path: str) -> Iterator[tuple[int, dict[str, Any] | Problem]]:
    # Lines end at "\n" only: JSON strings may hold U+2028 and other characters that
    # str.splitlines() would break a line at.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            yield number, Problem(path, number, f"not valid JSON: {err.msg}; {_HINT}")
            continue
        if not isinstance(row, dict):
            yield number, Problem(path, number, f"expected a JSON object; {_HINT}")
            continue
        yield number, row


def _csv_rows(text: str, path: str) -> Iterator[tuple[int, dict[str, Any] | Problem]]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        yield 1, Problem(path, 1, f"missing column(s) {', '.join(missing)}; {_HINT}")
        return
    for row in reader:
        yield reader.line_num, dict(row)


def _value(raw: Any) -> tuple[float | None, str | None]:
    """Returns (value, problem) for a raw cell: None value means unscored."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in _MISSING_TEXT):
        return None, None
    if isinstance(raw, bool):
        return float(raw), None
    if isinstance(raw, int | float):
        number = float(raw)
    elif isinstance(raw, str):
        try:
            number = float(raw)
        except ValueError:
            return None, f'"value" must be a number or empty (unscored), got {raw!r}'
    else:
        return None, f'"value" must be a number or empty (unscored), got {type(raw).__name__}'
    if math.isnan(number) or math.isinf(number):
        return None, f'"value" must be finite, got {raw!r}; leave it empty for unscored'
    return number, None


def _sample(raw: Any) -> tuple[int, str | None]:
    if raw is None or raw == "":
        return 0, None
    try:
        number = int(raw) if not isinstance(raw, float) or raw.is_integer() else None
    except (TypeError, ValueError):
        number = None
    if number is None or number < 0 or isinstance(raw, bool):
        return 0, f'"sample" must be a non-negative integer, got {raw!r}'
    return number, None


def _tags(raw: Any) -> tuple[list[str], str | None]:
    if raw is None or raw == "":
        return [], None
    if isinstance(raw, str):
        return [t.strip() for t in re.split(r"[;|]", raw) if t.strip()], None
    if isinstance(raw, list) and all(isinstance(t, str) for t in raw):
        return list(raw), None
    return [], f'"tags" must be a list of strings (CSV: "a;b"), got {raw!r}'


def _text(raw: Any) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bool | dict | list):
        return None
    text = str(raw).strip()
    return text or None


@dataclass
class _Scores:
    """The validated rows of a score file, column by column, before kinds are inferred."""

    case_id: pa.Array  # text
    sample: npt.NDArray[np.int64]
    metric: pa.Array  # text
    value: npt.NDArray[np.float64]  # NaN: unscored
    error: pa.Array  # text or null
    rationale: pa.Array  # text or null
    kinds: dict[str, str]  # metric -> declared kind
    groups: dict[str, str]  # case -> group
    tags: dict[str, list[str]]  # case -> tags, in order of first appearance


def load_score_file(path: str | Path, *, suite: str = "scores") -> Run:
    """Returns the Run read from a JSONL or CSV score file (see the module docstring).

    Raises NotFoundError for a missing file and InvalidInputError listing every bad row.
    """
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"{file}: no such score file")
    name = str(file)
    data = checked_utf8(file.read_bytes(), name)
    is_csv = file.suffix.lower() == ".csv"
    parsed = _fast_scores(data, is_csv)
    if parsed is None:
        parsed = _checked_scores(data.decode("utf-8"), name, is_csv)
    return _run_of(parsed, file, suite)


# ---------------------------------------------------------------- row by row


def _checked_scores(text: str, name: str, is_csv: bool) -> _Scores:
    """Returns the rows of ``text`` checked one by one; raises with every bad row."""
    rows = _csv_rows(text, name) if is_csv else _jsonl_rows(text, name)
    problems: list[Problem] = []
    columns: dict[str, list[Any]] = {c: [] for c in SCORE_COLUMNS}
    kinds: dict[str, tuple[str, int]] = {}
    groups: dict[str, tuple[str | None, int]] = {}
    tags: dict[str, list[str]] = {}
    seen: dict[tuple[str, str, int], int] = {}
    for number, row in rows:
        if isinstance(row, Problem):
            problems.append(row)
            continue
        messages: list[str] = []
        missing = [c for c in REQUIRED_COLUMNS if c not in row]
        if missing:
            problems.append(Problem(name, number, f"missing {', '.join(missing)}; {_HINT}"))
            continue
        case_id = _text(row["case_id"])
        metric = _text(row["metric"])
        if case_id is None:
            messages.append('"case_id" must be a non-empty string')
        if metric is None:
            messages.append('"metric" must be a non-empty string')
        value, message = _value(row["value"])
        messages += [message] if message else []
        sample, message = _sample(row.get("sample"))
        messages += [message] if message else []
        case_tags, message = _tags(row.get("tags"))
        messages += [message] if message else []
        kind = _text(row.get("kind"))
        if kind is not None and kind not in KINDS:
            messages.append(f'"kind" must be one of {", ".join(KINDS)}, got {kind!r}')
        if messages or case_id is None or metric is None:
            problems.extend(Problem(name, number, m) for m in messages)
            continue
        if kind is not None:
            first_kind, first_line = kinds.setdefault(metric, (kind, number))
            if first_kind != kind:
                problems.append(
                    Problem(
                        name,
                        number,
                        f"metric {metric!r} is {kind!r} here but {first_kind!r} on line "
                        f"{first_line}; a metric has one kind",
                    )
                )
                continue
        group = _text(row.get("group"))
        first_group, first_line = groups.setdefault(case_id, (group, number))
        if group is not None and first_group is not None and group != first_group:
            problems.append(
                Problem(
                    name,
                    number,
                    f"case {case_id!r} is in group {group!r} here but {first_group!r} on "
                    f"line {first_line}; a case belongs to one group",
                )
            )
            continue
        if first_group is None and group is not None:
            groups[case_id] = (group, number)
        key = (case_id, metric, sample)
        if key in seen:
            problems.append(
                Problem(
                    name,
                    number,
                    f"case {case_id!r}, metric {metric!r}, sample {sample} already scored on "
                    f'line {seen[key]}; give repeated samples distinct "sample" numbers',
                )
            )
            continue
        seen[key] = number
        if case_tags:
            known = tags.setdefault(case_id, [])
            known.extend(t for t in case_tags if t not in known)
        columns["case_id"].append(case_id)
        columns["sample"].append(sample)
        columns["metric"].append(metric)
        columns["value"].append(value)
        columns["error"].append(_text(row.get("error")))
        columns["rationale"].append(_text(row.get("rationale")))
    if not problems and not columns["case_id"]:
        problems.append(Problem(name, None, f"no score rows found; {_HINT}"))
    if problems:
        raise InvalidInputError(problems)
    return _Scores(
        case_id=pa.array(columns["case_id"], pa.string()),
        sample=np.array(columns["sample"], dtype=np.int64),
        metric=pa.array(columns["metric"], pa.string()),
        value=np.array(columns["value"], dtype=np.float64),
        error=pa.array(columns["error"], pa.string()),
        rationale=pa.array(columns["rationale"], pa.string()),
        kinds={metric: kind for metric, (kind, _) in kinds.items()},
        groups={case: group for case, (group, _) in groups.items() if group is not None},
        tags=tags,
    )


# ---------------------------------------------------------------- vectorised


class _CannotVouch(Exception):
    """The fast reader cannot accept this file: the row-by-row reader decides."""


def _fast_scores(data: bytes, is_csv: bool) -> _Scores | None:
    """Returns the file's rows when every row is valid, else None (then read row by row).

    Each check is the row-by-row reader's own rule, applied to whole Arrow columns or
    once per distinct cell; anything else (a problem, an unusual type) returns None
    rather than guessing.
    """
    try:
        table = _csv_table(data) if is_csv else _jsonl_table(data)
        if table is None or table.num_rows == 0:
            return None
        return _validated(table, data, is_csv)
    except (_CannotVouch, pa.ArrowException):  # e.g. an integer too large for a double
        return None


def _csv_table(data: bytes) -> pa.Table | None:
    first = data.split(b"\n", 1)[0].decode("utf-8")
    header = next(csv.reader([first]), [])
    if len(set(header)) != len(header) or any(c not in header for c in REQUIRED_COLUMNS):
        return None
    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, ValueError):
        return None  # e.g. a row with too many or too few cells
    return table if table.column_names == header else None


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_null(t))


#: The JSONL column types the fast reader accepts (anything else: row by row).
_JSON_TYPES: dict[str, Callable[[pa.DataType], bool]] = {
    "case_id": pa.types.is_string,
    "metric": pa.types.is_string,
    "value": lambda t: _is_text(t) or pa.types.is_floating(t) or pa.types.is_integer(t),
    "sample": lambda t: pa.types.is_integer(t) or pa.types.is_null(t),
    "tags": lambda t: _is_text(t) or (pa.types.is_list(t) and pa.types.is_string(t.value_type)),
    "group": _is_text,
    "kind": _is_text,
    "error": _is_text,
    "rationale": _is_text,
}


def _jsonl_table(data: bytes) -> pa.Table | None:
    try:
        table = pa_json.read_json(io.BytesIO(data))
    except (pa.ArrowException, ValueError):
        return None  # invalid JSON, a line that is not an object, mixed types in a column
    if any(c not in table.column_names for c in REQUIRED_COLUMNS):
        return None
    names = [n for n in _JSON_TYPES if n in table.column_names]
    if not all(_JSON_TYPES[n](table.column(n).type) for n in names):
        return None
    return table.select(names)


def _column(table: pa.Table, name: str) -> pa.Array | None:
    return table.column(name).combine_chunks() if name in table.column_names else None


def _text_codes(
    column: pa.Array | None, rows: int
) -> tuple[npt.NDArray[np.int64], list[str], bool]:
    """Returns (code per row, distinct texts, clean): the ``_text`` of each cell.

    Code -1 is None. ``clean`` says every cell already was its text (no blank, no
    surrounding spaces), so the column itself can be kept.
    """
    if column is None or pa.types.is_null(column.type):
        return np.full(rows, -1, dtype=np.int64), [], False
    encoded = column.dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    # For a str, _text(cell) is cell.strip() or None: applied once per distinct cell.
    cleaned = [cell.strip() or None for cell in distinct]
    indices = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    if cleaned == distinct and not encoded.indices.null_count:  # the usual case: clean text
        return indices.astype(np.int64), distinct, True
    texts: dict[str, int] = {}
    remap = np.full(len(cleaned) + 1, -1, dtype=np.int64)  # the last slot: null cells
    for index, text in enumerate(cleaned):
        if text is not None:
            remap[index] = texts.setdefault(text, len(texts))
    codes: npt.NDArray[np.int64] = remap[indices]
    return codes, list(texts), False


def _texts(codes: npt.NDArray[np.int64], texts: list[str]) -> pa.Array:
    """Returns the text column of ``codes`` (nulls where the code is -1)."""
    if not texts:
        return pa.nulls(len(codes), pa.string())
    indices = pa.array(codes, mask=codes < 0)
    return pc.take(pa.array(texts, pa.string()), indices)


def _values(column: pa.Array, data: bytes, is_csv: bool) -> npt.NDArray[np.float64]:
    """Returns the value column as floats (NaN: unscored); raises _CannotVouch on a bad cell.

    Text is parsed by Arrow's correctly rounded float parser (the same doubles as Python's
    ``float``); the words of ``_MISSING_TEXT`` are unscored; anything Arrow rejects, and
    NaN or infinity written as numbers, go to the row-by-row reader.
    """
    if pa.types.is_null(column.type):
        _require_value_keys(data, np.arange(len(column)))
        return np.full(len(column), np.nan)
    if pa.types.is_string(column.type):
        trimmed = pc.utf8_trim_whitespace(column)
        words = pa.array(sorted(_MISSING_TEXT))
        blank_cells = pc.fill_null(pc.is_in(pc.utf8_lower(trimmed), value_set=words), True)
        try:
            numbers = pc.cast(pc.if_else(blank_cells, pa.scalar("0"), trimmed), pa.float64())
        except (pa.ArrowException, ValueError):
            raise _CannotVouch from None
        parsed = numbers.to_numpy(zero_copy_only=False)
        blank = blank_cells.to_numpy(zero_copy_only=False)
    else:
        blank = column.is_null().to_numpy(zero_copy_only=False)
        parsed = pc.cast(pc.fill_null(column, 0), pa.float64()).to_numpy(zero_copy_only=False)
    if not np.isfinite(parsed[~blank]).all():
        raise _CannotVouch  # NaN or infinity as a number: the row-by-row reader words it
    if not is_csv and column.null_count:
        _require_value_keys(data, np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False)))
    result: npt.NDArray[np.float64] = np.where(blank, np.nan, parsed).astype(np.float64)
    return result


def _require_value_keys(data: bytes, rows: npt.NDArray[np.int64]) -> None:
    """Raises _CannotVouch unless each of these JSONL rows has a "value" key (null is fine)."""
    lines = [line for line in data.split(b"\n") if line.strip()]
    for row in rows.tolist():
        if "value" not in json.loads(lines[row]):
            raise _CannotVouch


def _samples(column: pa.Array | None, rows: int) -> npt.NDArray[np.int64]:
    if column is None or pa.types.is_null(column.type):
        return np.zeros(rows, dtype=np.int64)
    if pa.types.is_integer(column.type):
        sample: npt.NDArray[np.int64] = (
            pc.fill_null(column, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        )
        if (sample < 0).any():
            raise _CannotVouch
        return sample
    encoded = column.dictionary_encode()  # text (CSV): _sample once per distinct cell
    checked = [_sample(cell) for cell in encoded.dictionary.to_pylist()]
    if any(message is not None for _, message in checked):
        raise _CannotVouch
    numbers = np.array([number for number, _ in checked] + [0], dtype=np.int64)
    result: npt.NDArray[np.int64] = numbers[
        pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    ]
    return result


def _first_per_code(owners: npt.NDArray[np.int64], values: npt.NDArray[np.int64]) -> dict[int, int]:
    """Returns owner -> value over the rows where both are set (codes; -1 is unset).

    Raises _CannotVouch when an owner (a metric's kind, a case's group) has two values.
    """
    keep = (owners >= 0) & (values >= 0)
    pairs = np.unique(np.stack([owners[keep], values[keep]]), axis=1)
    if len(np.unique(pairs[0])) != pairs.shape[1]:
        raise _CannotVouch  # e.g. a metric declared with two kinds
    return dict(zip(pairs[0].tolist(), pairs[1].tolist(), strict=True))


def _validated(table: pa.Table, data: bytes, is_csv: bool) -> _Scores:
    rows = table.num_rows
    case_column, metric_column = _column(table, "case_id"), _column(table, "metric")
    case_codes, cases, clean_cases = _text_codes(case_column, rows)
    metric_codes, metrics, clean_metrics = _text_codes(metric_column, rows)
    if (case_codes < 0).any() or (metric_codes < 0).any():
        raise _CannotVouch
    value = _values(table.column("value").combine_chunks(), data, is_csv)
    sample = _samples(_column(table, "sample"), rows)
    n_metrics, n_samples = len(metrics), int(sample.max()) + 1
    if len(cases) * n_metrics * n_samples < 2**62:  # one int64 key per (case, metric, sample)
        key = (case_codes * n_metrics + metric_codes) * n_samples + sample
        duplicated = pd.Series(key).duplicated().any()
    else:
        keys = pd.DataFrame({"case": case_codes, "metric": metric_codes, "sample": sample})
        duplicated = keys.duplicated().any()
    if duplicated:
        raise _CannotVouch
    kind_codes, kinds, _ = _text_codes(_column(table, "kind"), rows)
    if not set(kinds) <= set(KINDS):
        raise _CannotVouch
    group_codes, groups, _ = _text_codes(_column(table, "group"), rows)
    metric_kind = _first_per_code(metric_codes, kind_codes)
    case_group = _first_per_code(case_codes, group_codes)
    error_codes, errors, _ = _text_codes(_column(table, "error"), rows)
    rationale_codes, rationales, _ = _text_codes(_column(table, "rationale"), rows)
    tags_column = _column(table, "tags")
    return _Scores(
        case_id=case_column if clean_cases else _texts(case_codes, cases),
        sample=sample,
        metric=metric_column if clean_metrics else _texts(metric_codes, metrics),
        value=value,
        error=_texts(error_codes, errors),
        rationale=_texts(rationale_codes, rationales),
        kinds={metrics[m]: kinds[k] for m, k in metric_kind.items()},
        groups={cases[c]: groups[g] for c, g in case_group.items()},
        tags=_case_tags(case_codes, cases, tags_column) if tags_column is not None else {},
    )


def _case_tags(
    case_codes: npt.NDArray[np.int64], cases: list[str], column: pa.Array
) -> dict[str, list[str]]:
    """Returns each case's tags in order of first appearance; raises _CannotVouch on bad tags."""
    if pa.types.is_null(column.type):
        return {}
    if pa.types.is_list(column.type):  # JSON lists of strings: each element is a tag
        if pc.list_flatten(column).null_count:
            raise _CannotVouch
        owners = case_codes[pc.list_parent_indices(column).to_numpy(zero_copy_only=False)]
        tag_codes, tag_texts = _dictionary_codes(pc.list_flatten(column))
        cells = [[text] for text in tag_texts]
    else:  # text, "a;b" or "a|b": _tags once per distinct cell
        owners = case_codes
        tag_codes, cell_texts = _dictionary_codes(column)
        checked = [_tags(cell) for cell in cell_texts]
        if any(message is not None for _, message in checked):
            raise _CannotVouch
        cells = [case_tags for case_tags, _ in checked]
    keep = tag_codes >= 0
    pairs = pd.DataFrame({"case": owners[keep], "cell": tag_codes[keep]}).drop_duplicates()
    tags: dict[str, list[str]] = {}
    for case, cell in zip(pairs["case"].tolist(), pairs["cell"].tolist(), strict=True):
        if cells[cell]:
            known = tags.setdefault(cases[case], [])
            known.extend(t for t in cells[cell] if t not in known)
    return tags


def _dictionary_codes(column: pa.Array) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Returns (code per cell, distinct cells) without cleaning; code -1 is a null."""
    encoded = column.dictionary_encode()
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


# ---------------------------------------------------------------- the run


def _frame_column(column: pa.Array) -> Any:
    """Returns a text column as pandas would infer it from a list (all None: objects)."""
    if column.null_count == len(column):
        return np.full(len(column), None, dtype=object)
    return column.to_pandas()


def _run_of(parsed: _Scores, file: Path, suite: str) -> Run:
    """Returns the Run of validated rows: kinds inferred, unscored rows given a reason."""
    name = str(file)
    value = parsed.value
    rows = len(value)
    unscored = np.isnan(value)
    default = pa.scalar("no value in score file")
    error = pc.if_else(
        pa.array(unscored), pc.coalesce(parsed.error, default), pa.nulls(rows, pa.string())
    )
    metric_codes, names = _dictionary_codes(parsed.metric)  # in order of first appearance
    scored = ~unscored
    n_scored = np.bincount(metric_codes[scored], minlength=len(names))
    not_binary = scored & (value != 0.0) & (value != 1.0)
    n_not_binary = np.bincount(metric_codes[not_binary], minlength=len(names))
    metric_infos = []
    kind_of: list[MetricKind] = []
    for index, metric in enumerate(names):
        inferred = "binary" if n_scored[index] and not n_not_binary[index] else "continuous"
        kind_of.append(cast(MetricKind, parsed.kinds.get(metric) or inferred))
        metric_infos.append(
            MetricInfo(name=metric, scorer="score-file", kind=kind_of[-1], low=None, high=None)
        )
    scores = pd.DataFrame(
        {
            "case_id": _frame_column(parsed.case_id),
            "sample": parsed.sample,
            "metric": _frame_column(parsed.metric),
            "value": value,
            "kind": _frame_column(pc.take(pa.array(kind_of, pa.string()), metric_codes)),
            "error": _frame_column(error),
            "rationale": _frame_column(parsed.rationale),
            "raw": np.full(rows, None, dtype=object),
            "soft_score": np.full(rows, np.nan),
        },
        columns=SCORE_COLUMNS,
    )
    modified = datetime.fromtimestamp(file.stat().st_mtime, tz=UTC).isoformat()
    manifest = RunManifest(
        run_id=file.name,
        suite=suite,
        status="complete",
        golden_path=name,
        golden_fingerprint=UNKNOWN_FINGERPRINT,
        n_cases=int(pc.count_distinct(parsed.case_id).as_py()),
        samples=int(parsed.sample.max()) + 1,
        sut_fingerprint=UNKNOWN_FINGERPRINT,
        metrics=metric_infos,
        started_at=modified,
        finished_at=modified,
        evalkit_version=evalkit.__version__,
        extra={"source": "score-file"},
    )
    return Run(
        manifest=manifest,
        outputs=outputs_frame([]),
        scores=scores,
        location=name,
        groups=parsed.groups,
        tags=parsed.tags,
    )
