"""Golden sets: load, validate and fingerprint JSONL cases (or a local HF dataset).

A golden set is one JSON object a line::

    {"id": "capital-fr", "input": {"question": "Capital of France?"}, "expected": "Paris",
     "tags": ["geo", "critical"]}

Every problem is reported as ``file:line: what is wrong, and what to do``, all problems
in one pass (see :class:`evalkit.errors.GoldenSetError`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evalkit._policy import is_critical
from evalkit.data._jsonl import describe_type, json_objects
from evalkit.errors import GoldenSetError, Problem
from evalkit.util._fingerprint import fingerprint_lines

FORMAT_HINT = "see the golden-set format in README"
_FIELDS = ("id", "input", "expected", "contexts", "tags", "group", "metadata")


class ChatMessage(BaseModel):
    """One chat message of a case's ``input``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant", "tool"]
    content: str


JSONValue = str | int | float | bool | None | list[Any] | dict[str, Any]


class GoldenCase(BaseModel):
    """One golden case. ``id`` is the join key with the baseline: keep it stable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: str = Field(min_length=1)
    input: str | list[ChatMessage] | dict[str, Any]
    expected: str | int | float | bool | list[Any] | dict[str, Any] | None = None
    contexts: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    group: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id_is_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("input")
    @classmethod
    def _input_not_empty(cls, value: Any) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError("a list of chat messages must not be empty")
        return value

    @property
    def critical(self) -> bool:
        """True when the case is tagged ``critical`` (it must pass)."""
        return is_critical(self.tags)

    def canonical_json(self) -> str:
        """Returns the case as canonical JSON (sorted keys, no spaces) for hashing."""
        return json.dumps(
            self.model_dump(mode="json", exclude_defaults=True),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )


@dataclass(frozen=True)
class GoldenSet:
    """A validated golden set: its cases in file order and a content fingerprint."""

    path: str
    cases: tuple[GoldenCase, ...]
    fingerprint: str
    lines: Mapping[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self) -> Iterator[GoldenCase]:
        return iter(self.cases)

    @property
    def ids(self) -> list[str]:
        """Returns the case ids in file order."""
        return [case.id for case in self.cases]

    def by_id(self) -> dict[str, GoldenCase]:
        """Returns a dict from case id to case."""
        return {case.id: case for case in self.cases}

    def select(self, ids: Iterable[str]) -> GoldenSet:
        """Returns a golden set restricted to ``ids`` (same fingerprint: same version)."""
        wanted = set(ids)
        kept = tuple(case for case in self.cases if case.id in wanted)
        return GoldenSet(self.path, kept, self.fingerprint, self.lines)


def fingerprint_cases(cases: Iterable[GoldenCase]) -> str:
    """Returns a content hash of the cases, independent of line order and whitespace."""
    return fingerprint_lines(case.canonical_json() for case in cases)


_EMPTY_DEFAULTS: tuple[Any, ...] = (None, [], {})


def _canonical_raw(raw: dict[str, Any]) -> str:
    """Returns the canonical JSON of a validated line's dict: GoldenCase.canonical_json's text.

    Defaults (null expected/group, empty contexts/tags/metadata) are dropped, as
    ``model_dump(exclude_defaults=True)`` drops them; this skips a model_dump per case,
    which was a third of the load time of a large set.
    """
    kept = {k: v for k, v in raw.items() if k in ("id", "input") or v not in _EMPTY_DEFAULTS}
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------- JSONL parsing


_EXPECTED_SHAPE = {
    "id": "a non-empty string",
    "input": "a string, an object of template variables, or a list of chat messages "
    '({"role": ..., "content": ...})',
    "expected": "a string, a number, a list of acceptable answers, or a JSON object",
    "contexts": "a list of strings",
    "tags": "a list of strings",
    "group": "a string (the cluster id, e.g. the source document)",
    "metadata": "an object",
}


def _case_problems(raw: dict[str, Any], error: ValidationError) -> list[str]:
    """Turns a pydantic error into one readable message per offending field."""
    messages: list[str] = []
    seen: set[str] = set()
    for item in error.errors():
        loc = item.get("loc", ())
        key = str(loc[0]) if loc else ""
        if item["type"] == "extra_forbidden":
            allowed = ", ".join(_FIELDS)
            messages.append(
                f'unknown key "{key}"; allowed keys are {allowed} '
                '(put anything else under "metadata")'
            )
            continue
        if item["type"] == "missing":
            messages.append(f'missing "{key}"; every case needs {_EXPECTED_SHAPE[key]}')
            continue
        if key in seen:
            continue
        seen.add(key)
        shape = _EXPECTED_SHAPE.get(key, "a valid value")
        got = describe_type(raw.get(key))
        detail = ""
        if key == "input" and isinstance(raw.get(key), list):
            detail = f" ({item['msg']} at {'.'.join(str(p) for p in loc[1:])})"
        elif key == "id" and isinstance(raw.get(key), str):
            detail = " (it is blank)"
        elif key in ("contexts", "tags") and isinstance(raw.get(key), list):
            detail = " (an item is not a string)"
        messages.append(f'"{key}" must be {shape}, got {got}{detail}')
    return messages


def parse_jsonl(data: bytes, path: str) -> GoldenSet:
    """Returns the golden set in ``data`` (a JSONL file's bytes); raises with every problem.

    Raises:
        GoldenSetError: listing every problem as ``path:line: message``.
    """
    problems: list[Problem] = []
    cases: list[GoldenCase] = []
    canonical: list[str] = []
    first_line: dict[str, int] = {}

    if not data.strip():
        raise GoldenSetError(
            [Problem(path, None, f"the file is empty; add one JSON case a line ({FORMAT_HINT})")]
        )
    each_line = f"one case object ({FORMAT_HINT})"
    for number, raw in json_objects(data, path, problems, each_line=each_line):
        try:
            case = GoldenCase.model_validate(raw)
        except ValidationError as err:
            for message in _case_problems(raw, err):
                problems.append(Problem(path, number, f"{message}; {FORMAT_HINT}"))
            continue
        if case.id in first_line:
            problems.append(
                Problem(
                    path,
                    number,
                    f'duplicate id "{case.id}" (first on line {first_line[case.id]}); '
                    "ids must be unique: rename one of them",
                )
            )
            continue
        first_line[case.id] = number
        cases.append(case)
        canonical.append(_canonical_raw(raw))

    if problems:
        raise GoldenSetError(problems)
    if not cases:
        raise GoldenSetError(
            [
                Problem(
                    path, None, f"the file has no cases; add one JSON case a line ({FORMAT_HINT})"
                )
            ]
        )
    return GoldenSet(path, tuple(cases), fingerprint_lines(canonical), first_line)


# ---------------------------------------------------------------- Hugging Face datasets


def _is_hf_dataset(path: Path) -> bool:
    if path.is_dir():
        return (
            (path / "dataset_info.json").exists()
            or (path / "dataset_dict.json").exists()
            or (any(path.glob("*.parquet")))
        )
    return path.suffix == ".parquet"


def load_hf_dataset(
    path: str | Path, *, columns: Mapping[str, str] | None = None, split: str | None = None
) -> GoldenSet:
    """Returns a golden set from a local HF dataset (``save_to_disk`` folder or Parquet).

    Args:
        path: a ``save_to_disk`` folder, a folder of Parquet files, or one Parquet file.
        columns: maps golden-set fields to dataset columns, e.g. ``{"input": "question",
            "expected": "answer"}``; fields not named map to a column of the same name.
        split: for a ``DatasetDict``, which split to read (default: the only one, or
            ``test``).
    """
    import datasets  # heavy: imported only when a dataset is read

    source = Path(path)
    label = str(source)
    if source.is_dir() and not any(source.glob("*.parquet")):
        loaded = datasets.load_from_disk(str(source))
    else:
        files = sorted(str(p) for p in source.glob("*.parquet")) if source.is_dir() else [label]
        loaded = datasets.load_dataset("parquet", data_files=files, split="train")
    if isinstance(loaded, datasets.DatasetDict):
        names = list(loaded.keys())
        chosen = split or ("test" if "test" in names else names[0] if len(names) == 1 else None)
        if chosen is None or chosen not in loaded:
            raise GoldenSetError(
                [Problem(label, None, f"choose a split with split=...; it has {names}")]
            )
        loaded = loaded[chosen]
    mapping = {name: name for name in _FIELDS}
    mapping.update(columns or {})
    json_columns = {
        name: f"{name}_json"
        for name in _FIELDS
        if mapping[name] not in loaded.column_names and f"{name}_json" in loaded.column_names
    }
    for name, column in json_columns.items():
        mapping[name] = column
    missing = [f for f in ("id", "input") if mapping[f] not in loaded.column_names]
    if missing:
        raise GoldenSetError(
            [
                Problem(
                    label,
                    None,
                    f"dataset has no column for {missing}; its columns are "
                    f"{loaded.column_names}; map them with columns={{'id': ..., 'input': ...}}",
                )
            ]
        )
    lines = []
    for row in loaded:
        record = {
            field_name: json.loads(row[column]) if field_name in json_columns else row[column]
            for field_name, column in mapping.items()
            if column in row and row[column] is not None
        }
        record = {k: v for k, v in record.items() if v is not None}
        if "id" in record and not isinstance(record["id"], str):
            record["id"] = str(record["id"])
        lines.append(json.dumps(record, ensure_ascii=False))
    # Validation goes through the JSONL path so rows get the same errors ("row N").
    return parse_jsonl(("\n".join(lines) + "\n").encode("utf-8"), label + " row")


def load_golden_set(path: str | Path, **hf_options: Any) -> GoldenSet:
    """Returns the validated golden set at ``path`` (JSONL, or a local HF dataset).

    Raises:
        GoldenSetError: every problem in the file, as ``file:line: message``.
        NotFoundError: the path does not exist.
    """
    from evalkit.errors import NotFoundError

    source = Path(path)
    if not source.exists():
        raise NotFoundError(f"{source}: no such golden set; check the path")
    if _is_hf_dataset(source):
        return load_hf_dataset(source, **hf_options)
    if source.is_dir():
        raise NotFoundError(f"{source}: is a folder; give a .jsonl file or a saved dataset")
    return parse_jsonl(source.read_bytes(), str(path))


def write_jsonl(cases: Sequence[GoldenCase], path: str | Path) -> None:
    """Writes cases as JSONL (one canonical object a line), atomically."""
    from evalkit.util._atomic import atomic_write_text

    text = "".join(case.canonical_json() + "\n" for case in cases)
    atomic_write_text(Path(path), text)
