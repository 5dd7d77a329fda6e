"""Word-level diff of two texts, as compact segments for the report's payload."""

from __future__ import annotations

import difflib
import re

# Every character is whitespace, a word character or neither, so the tokens of a text
# always join back to the text itself.
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
MAX_DIFF_TOKENS = 4000

EQUAL, DELETED, INSERTED = 0, -1, 1
Segment = tuple[int, str]


def _push(segments: list[Segment], op: int, text: str) -> None:
    if not text:
        return
    if segments and segments[-1][0] == op:
        segments[-1] = (op, segments[-1][1] + text)
    else:
        segments.append((op, text))


def word_diff(old: str, new: str) -> list[Segment]:
    """Returns ``old -> new`` as ``(op, text)`` segments: 0 in both, -1 old only, 1 new only.

    Tokens are words, runs of whitespace and single punctuation marks, so joining the
    segments with op 0/-1 gives ``old`` back and op 0/1 gives ``new``. Texts longer than
    ``MAX_DIFF_TOKENS`` tokens are not aligned (one deletion, one insertion): the matcher
    is quadratic in the worst case.
    """
    if old == new:
        return [(EQUAL, old)] if old else []
    a = _TOKEN.findall(old)
    b = _TOKEN.findall(new)
    segments: list[Segment] = []
    if len(a) > MAX_DIFF_TOKENS or len(b) > MAX_DIFF_TOKENS:
        _push(segments, DELETED, old)
        _push(segments, INSERTED, new)
        return segments
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            _push(segments, EQUAL, "".join(a[i1:i2]))
            continue
        _push(segments, DELETED, "".join(a[i1:i2]))
        _push(segments, INSERTED, "".join(b[j1:j2]))
    return segments


def diff_sides(segments: list[Segment] | list[list[int | str]]) -> tuple[str, str]:
    """Returns the (old, new) texts that ``segments`` were computed from."""
    old = "".join(str(text) for op, text in segments if op != INSERTED)
    new = "".join(str(text) for op, text in segments if op != DELETED)
    return old, new
