"""JSON Lines input: one JSON object a line, every bad line named by file and line number.

The golden-set and labelled-set parsers share this reader: it yields the objects and
records a :class:`~evalkit.errors.Problem` for each line that is not one (invalid UTF-8,
invalid JSON, a truncated last line, a value that is not an object), so a user sees
every problem of a file in one pass.

A byte-order mark at the start of a file (as Windows editors write) is accepted: a UTF-8
one is dropped, and a file with a UTF-16 or UTF-32 one is read in that encoding
(:func:`utf8_without_bom`, shared with the score-file reader).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import Any

from evalkit.errors import InvalidInputError, Problem


def describe_type(value: Any) -> str:
    """Returns the JSON type of ``value`` in words ("a string", "null", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


#: Byte-order marks and their codecs; UTF-32 first (its little-endian mark starts like UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def utf8_without_bom(data: bytes, path: str, problems: list[Problem]) -> bytes:
    """Returns ``data`` as UTF-8 bytes without a leading byte-order mark.

    A UTF-8 mark is dropped; a file that starts with a UTF-16 or UTF-32 mark is decoded
    in that encoding and re-encoded as UTF-8. Bytes invalid in that encoding append a
    Problem naming the line and return the lines before it. Data without a mark is
    returned as it is (invalid UTF-8 there is the line reader's to report).
    """
    for bom, encoding in _BOMS:
        if not data.startswith(bom):
            continue
        body = data[len(bom) :]
        if encoding == "utf-8":
            return body
        try:
            return body.decode(encoding).encode("utf-8")
        except UnicodeDecodeError as err:
            before = body[: err.start].decode(encoding, errors="replace")
            line_start = before.rfind("\n") + 1
            name = encoding.upper()[:6]  # "UTF-16" or "UTF-32"
            message = (
                f"invalid {name} at character {len(before) - line_start + 1} of the line "
                f"(the file starts with a {name} byte-order mark); save the file as UTF-8"
            )
            problems.append(Problem(path, before.count("\n") + 1, message))
            return before[:line_start].encode("utf-8")
    return data


def checked_utf8(data: bytes, path: str) -> bytes:
    """Returns a whole file's bytes as UTF-8 without a byte-order mark.

    For readers that parse the file in one piece (CSV, score files). Raises
    InvalidInputError naming every line that is not valid in the file's encoding.
    """
    problems: list[Problem] = []
    data = utf8_without_bom(data, path, problems)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        for number, line in enumerate(data.split(b"\n"), start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as err:
                message = f"invalid UTF-8 at byte {err.start} of the line; save the file as UTF-8"
                problems.append(Problem(path, number, message))
    if problems:
        raise InvalidInputError(problems)
    return data


def json_objects(
    data: bytes, path: str, problems: list[Problem], *, each_line: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yields ``(line number, object)`` for each non-blank line of ``data`` that is one.

    Args:
        data: the file's bytes.
        path: the file's name, for the problems.
        problems: each bad line's Problem is appended here (1-based line numbers).
        each_line: what a line must hold, e.g. ``"one case object (see ...)"``.
    """
    data = utf8_without_bom(data, path, problems)
    raw_lines = data.split(b"\n")
    ends_with_newline = data.endswith(b"\n")
    if ends_with_newline:
        raw_lines.pop()
    last_index = len(raw_lines) - 1
    for index, raw_line in enumerate(raw_lines):
        number = index + 1
        if not raw_line.strip():
            continue
        try:
            text = raw_line.decode("utf-8")
        except UnicodeDecodeError as err:
            message = f"invalid UTF-8 at byte {err.start} of the line; save the file as UTF-8"
            problems.append(Problem(path, number, message))
            continue
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as err:
            if index == last_index and not ends_with_newline:
                message = (
                    "the last line is truncated (the file ends in the middle of a JSON "
                    "object); complete the line or remove it"
                )
            else:
                message = (
                    f"not valid JSON ({err.msg} at column {err.colno}); "
                    "each line must be one complete JSON object"
                )
            problems.append(Problem(path, number, message))
            continue
        if not isinstance(raw, dict):
            got = describe_type(raw)
            message = f"expected a JSON object, got {got}; each line must be {each_line}"
            problems.append(Problem(path, number, message))
            continue
        yield number, raw
