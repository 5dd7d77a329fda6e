"""Plain score files from other tools (JSONL or CSV), read into a :class:`~evalkit.records.Run`.

One score a row, with columns ``case_id, metric, value`` and optionally ``sample`` (an
integer, default 0), ``group`` (cluster id), ``kind`` (``binary``, ``continuous`` or
``ordinal``; inferred when absent: 0/1 values are binary), ``tags`` (a JSON list, or in
CSV a string separated by ``;`` or ``|``) and ``error`` (why a row is unscored). An empty
or null ``value`` is an unscored row. Other columns are ignored. Example::

    {"case_id": "q1", "metric": "correct", "value": 1, "group": "doc-3", "tags": ["geo"]}

Every bad row is reported as ``file:line: what is wrong`` in one
:class:`~evalkit.errors.InvalidInputError`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pandas as pd

import evalkit
from evalkit.errors import InvalidInputError, NotFoundError, Problem
from evalkit.records import (
    SCORE_COLUMNS,
    MetricInfo,
    MetricKind,
    Run,
    RunManifest,
    outputs_frame,
)

REQUIRED_COLUMNS = ("case_id", "metric", "value")
KINDS = ("binary", "continuous", "ordinal")
UNKNOWN_FINGERPRINT = "unknown"
_MISSING_TEXT = {"", "na", "nan", "null", "none"}
_HINT = "a score file has columns case_id, metric, value [, sample, group, kind, tags, error]"


def is_score_file(path: str | Path) -> bool:
    """Returns True when ``path`` looks like a score file by its suffix (.jsonl or .csv)."""
    return Path(path).suffix.lower() in (".jsonl", ".csv")


def _jsonl_rows(text: str, path: str) -> Iterator[tuple[int, dict[str, Any] | Problem]]:
    for number, line in enumerate(text.splitlines(), start=1):
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


def load_score_file(path: str | Path, *, suite: str = "scores") -> Run:
    """Returns the Run read from a JSONL or CSV score file (see the module docstring).

    Raises NotFoundError for a missing file and InvalidInputError listing every bad row.
    """
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"{file}: no such score file")
    name = str(file)
    text = file.read_text(encoding="utf-8-sig")
    rows = _csv_rows(text, name) if file.suffix.lower() == ".csv" else _jsonl_rows(text, name)

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
        error = _text(row.get("error"))
        columns["case_id"].append(case_id)
        columns["sample"].append(sample)
        columns["metric"].append(metric)
        columns["value"].append(value)
        columns["kind"].append(kind)
        columns["error"].append(None if value is not None else error or "no value in score file")
        columns["rationale"].append(_text(row.get("rationale")))
        columns["raw"].append(None)
    if not problems and not columns["case_id"]:
        problems.append(Problem(name, None, f"no score rows found; {_HINT}"))
    if problems:
        raise InvalidInputError(problems)

    scores = pd.DataFrame(columns, columns=SCORE_COLUMNS)
    scores["value"] = scores["value"].astype("float64")
    metric_infos = []
    for name_of, frame in scores.groupby("metric", sort=False):
        declared = kinds.get(str(name_of), (None, 0))[0]
        values = frame["value"].dropna()
        inferred = "binary" if len(values) and values.isin([0.0, 1.0]).all() else "continuous"
        kind_of = cast(MetricKind, declared or inferred)
        scores.loc[frame.index, "kind"] = kind_of
        metric_infos.append(
            MetricInfo(name=str(name_of), scorer="score-file", kind=kind_of, low=None, high=None)
        )
    modified = datetime.fromtimestamp(file.stat().st_mtime, tz=UTC).isoformat()
    manifest = RunManifest(
        run_id=file.name,
        suite=suite,
        status="complete",
        golden_path=name,
        golden_fingerprint=UNKNOWN_FINGERPRINT,
        n_cases=int(scores["case_id"].nunique()),
        samples=int(scores["sample"].max()) + 1,
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
        groups={case: group for case, (group, _) in groups.items() if group is not None},
        tags=tags,
    )
