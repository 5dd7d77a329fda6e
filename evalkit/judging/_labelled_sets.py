"""Labelled sets: what a judge saw and what people said, validated with file:line errors.

A labelled set ``judges/NAME.labels.jsonl`` holds one item a line. A *pointwise* item
shows the judge one output and carries people's labels on the judge's scale
(``"pass"``/``"fail"`` for a binary judge, integers for an ordinal one)::

    {"id": "q17", "input": "Capital of France?", "output": "Paris", "expected": "Paris",
     "labels": [{"rater": "ref-a", "value": "pass"}, {"rater": "ref-b", "value": "pass"}]}

A *pairwise* item shows two outputs ``a`` and ``b``; labels say which is better::

    {"id": "p3", "input": "...", "a": "...", "b": "...", "labels": [{"rater": "ref-a",
     "value": "tie"}]}

Every problem is reported as ``file:line: what is wrong, and what to do``, all problems
in one pass (see :class:`evalkit.errors.LabelledSetError`). When several people label an
item, :meth:`LabelledItem.consensus` is the majority label; a tie goes to the first rater
listed on the item (the primary reference), so a two-rater disagreement keeps the primary
rater's label.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evalkit.data._golden import ChatMessage
from evalkit.data._jsonl import describe_type, json_objects
from evalkit.errors import LabelledSetError, NotFoundError, Problem
from evalkit.util._fingerprint import fingerprint_lines

FORMAT_HINT = "see the labelled-set format in docs/calibration.md"
BINARY_VALUES = ("pass", "fail")
PAIRWISE_VALUES = ("a", "b", "tie")

LabelValue = str | int
"""One person's label: ``pass``/``fail``, ``a``/``b``/``tie``, or a score on the scale."""
Scale = Literal["binary", "ordinal", "pairwise"]
"""The scale people label on: pass/fail, a score from a range, or a pairwise choice."""


class Label(BaseModel):
    """One person's label of one item."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    rater: str = Field(min_length=1)
    value: str | int
    note: str | None = None

    @field_validator("rater")
    @classmethod
    def _rater_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class LabelledItem(BaseModel):
    """One labelled item: what the judge sees (one output, or two for pairwise) + labels."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: str = Field(min_length=1)
    input: str | list[ChatMessage] | dict[str, Any]
    output: str | None = None
    a: str | None = None
    b: str | None = None
    expected: str | int | float | bool | list[Any] | dict[str, Any] | None = None
    contexts: list[str] = Field(default_factory=list)
    labels: list[Label] = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def pairwise(self) -> bool:
        """True when the item compares two outputs ``a`` and ``b``."""
        return self.a is not None or self.b is not None

    @property
    def raters(self) -> list[str]:
        """Returns the raters of this item, in the order listed."""
        return [label.rater for label in self.labels]

    def consensus(self) -> LabelValue:
        """Returns the majority label; a tie goes to the first rater listed."""
        counts = Counter(label.value for label in self.labels)
        top = max(counts.values())
        for label in self.labels:
            if counts[label.value] == top:
                return label.value
        raise AssertionError("unreachable: an item has at least one label")

    def label_of(self, rater: str) -> LabelValue | None:
        """Returns ``rater``'s label of this item, or None."""
        for label in self.labels:
            if label.rater == rater:
                return label.value
        return None


@dataclass(frozen=True)
class LabelledSet:
    """A validated labelled set: items in file order, its kind and a content fingerprint."""

    path: str
    items: tuple[LabelledItem, ...]
    kind: Scale
    fingerprint: str
    lines: Mapping[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[LabelledItem]:
        return iter(self.items)

    @property
    def raters(self) -> list[str]:
        """Returns every rater id, in order of first appearance."""
        seen: dict[str, None] = {}
        for item in self.items:
            for rater in item.raters:
                seen.setdefault(rater, None)
        return list(seen)

    @property
    def values(self) -> list[LabelValue]:
        """Returns the distinct label values used, sorted."""
        found = {label.value for item in self.items for label in item.labels}
        return sorted(found, key=lambda v: (isinstance(v, str), v))

    def check_scale(self, allowed: list[LabelValue], judge: str) -> None:
        """Raises LabelledSetError naming each label not on ``judge``'s scale ``allowed``."""
        problems = []
        shown = ", ".join(json.dumps(v) for v in allowed)
        for item in self.items:
            for label in item.labels:
                if label.value not in allowed:
                    problems.append(
                        Problem(
                            self.path,
                            self.lines.get(item.id),
                            f'item "{item.id}": rater "{label.rater}" gave '
                            f"{json.dumps(label.value)}, which is not on the scale of judge "
                            f'"{judge}" ({shown}); relabel it or fix the judge\'s scale',
                        )
                    )
        if problems:
            raise LabelledSetError(problems)


# ---------------------------------------------------------------- parsing

_SHAPES = {
    "id": "a non-empty string",
    "input": "a string, an object of template variables, or a list of chat messages",
    "output": "a string (the answer the judge grades)",
    "a": "a string (the first answer of a pair)",
    "b": "a string (the second answer of a pair)",
    "expected": "a string, a number, a list of acceptable answers, or a JSON object",
    "contexts": "a list of strings",
    "labels": 'a non-empty list of {"rater": "...", "value": ...} objects',
    "tags": "a list of strings",
    "metadata": "an object",
}


def _validation_messages(raw: dict[str, Any], error: ValidationError) -> list[str]:
    messages: list[str] = []
    seen: set[str] = set()
    for item in error.errors():
        loc = [str(part) for part in item.get("loc", ())]
        key = loc[0] if loc else ""
        if key in seen:
            continue
        if item["type"] == "extra_forbidden":
            if len(loc) > 1 and key == "labels":
                messages.append(
                    f'labels[{loc[1]}] has unknown key "{loc[-1]}"; a label has "rater", '
                    '"value" and optionally "note"'
                )
            else:
                allowed = ", ".join(_SHAPES)
                messages.append(
                    f'unknown key "{key}"; allowed keys are {allowed} '
                    '(put anything else under "metadata")'
                )
            continue
        seen.add(key)
        if item["type"] == "missing" and len(loc) == 1:
            messages.append(f'missing "{key}"; every item needs {_SHAPES[key]}')
            continue
        if key == "labels" and len(loc) > 1:
            where = f"labels[{loc[1]}]" + (f".{loc[2]}" if len(loc) > 2 else "")
            messages.append(
                f"{where} is wrong ({item['msg']}); each label is "
                '{"rater": "a non-empty id", "value": "pass" | "fail" | an integer | '
                '"a" | "b" | "tie"}'
            )
            continue
        got = describe_type(raw.get(key))
        messages.append(f'"{key}" must be {_SHAPES.get(key, "a valid value")}, got {got}')
    return messages


def _item_problems(item: LabelledItem) -> list[str]:
    """Returns problems that span fields: outputs present, raters unique, values typed."""
    problems = []
    if item.pairwise:
        if item.a is None or item.b is None:
            problems.append('a pairwise item needs both "a" and "b" (the two answers)')
        if item.output is not None:
            problems.append('give either "output" (pointwise) or "a" and "b" (pairwise), not both')
    elif item.output is None:
        problems.append('missing "output"; give the answer the judge grades (or "a" and "b")')
    raters = Counter(item.raters)
    for rater, count in raters.items():
        if count > 1:
            problems.append(f'rater "{rater}" labels this item {count} times; keep one label')
    for index, label in enumerate(item.labels):
        value = label.value
        if item.pairwise:
            if value not in PAIRWISE_VALUES:
                problems.append(
                    f'labels[{index}].value must be "a", "b" or "tie" for a pair, '
                    f"got {json.dumps(value)}"
                )
        elif isinstance(value, str) and value not in BINARY_VALUES:
            problems.append(
                f'labels[{index}].value must be "pass" or "fail" (binary) or an integer '
                f"(ordinal), got {json.dumps(value)}"
            )
    return problems


def _kind_of(item: LabelledItem) -> Scale:
    if item.pairwise:
        return "pairwise"
    return "ordinal" if isinstance(item.labels[0].value, int) else "binary"


def _canonical(item: LabelledItem) -> str:
    return json.dumps(
        item.model_dump(mode="json", exclude_defaults=True),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def parse_labels(data: bytes, path: str) -> LabelledSet:
    """Returns the labelled set in ``data`` (a JSONL file's bytes); raises with every problem.

    Raises:
        LabelledSetError: every problem as ``path:line: message``.
    """
    if not data.strip():
        raise LabelledSetError(
            [
                Problem(
                    path, None, f"the file is empty; add one labelled item a line ({FORMAT_HINT})"
                )
            ]
        )
    problems: list[Problem] = []
    items: list[LabelledItem] = []
    first_line: dict[str, int] = {}
    kind: Scale | None = None
    kind_line = 0
    each_line = f"one labelled item ({FORMAT_HINT})"
    for number, raw in json_objects(data, path, problems, each_line=each_line):
        try:
            item = LabelledItem.model_validate(raw)
        except ValidationError as err:
            problems.extend(
                Problem(path, number, f"{message}; {FORMAT_HINT}")
                for message in _validation_messages(raw, err)
            )
            continue
        item_problems = _item_problems(item)
        if item_problems:
            problems.extend(Problem(path, number, message) for message in item_problems)
            continue
        if item.id in first_line:
            problems.append(
                Problem(
                    path,
                    number,
                    f'duplicate id "{item.id}" (first on line {first_line[item.id]}); '
                    "ids must be unique: rename one of them",
                )
            )
            continue
        item_kind = _kind_of(item)
        mixed = {_kind_of_value(label.value, item.pairwise) for label in item.labels}
        if len(mixed) > 1:
            problems.append(
                Problem(path, number, 'labels mix "pass"/"fail" with integers; use one scale')
            )
            continue
        if kind is None:
            kind, kind_line = item_kind, number
        elif item_kind != kind:
            problems.append(
                Problem(
                    path,
                    number,
                    f"this item is {item_kind} but the set is {kind} (from line {kind_line}); "
                    "keep one kind of item per file",
                )
            )
            continue
        first_line[item.id] = number
        items.append(item)
    if problems:
        raise LabelledSetError(problems)
    if not items or kind is None:
        raise LabelledSetError(
            [
                Problem(
                    path,
                    None,
                    f"the file has no items; add one labelled item a line ({FORMAT_HINT})",
                )
            ]
        )
    fingerprint = fingerprint_lines(_canonical(item) for item in items)
    return LabelledSet(path, tuple(items), kind, fingerprint, first_line)


def _kind_of_value(value: LabelValue, pairwise: bool) -> str:
    if pairwise:
        return "pairwise"
    return "ordinal" if isinstance(value, int) else "binary"


def load_labels(path: str | Path) -> LabelledSet:
    """Returns the validated labelled set at ``path`` (``judges/NAME.labels.jsonl``).

    Raises:
        LabelledSetError: every problem in the file, as ``file:line: message``.
        NotFoundError: the file does not exist.
    """
    source = Path(path)
    if not source.is_file():
        raise NotFoundError(f"{source}: no such labelled set; check the path")
    return parse_labels(source.read_bytes(), str(path))
