"""Exact-match scorers: pure functions of the output and the expected answer(s).

Every scorer here accepts several acceptable answers: when ``expected`` is a list, the
case scores the best match over the list. An output that is wrong (no number, not JSON,
no match) scores 0 — that is a legitimate score for the task. A case with no ``expected``
is unscored, because there is nothing to compare against.
"""

from __future__ import annotations

import collections
import json
import math
import re
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evalkit.scorers._base import (
    CaseResult,
    Needs,
    Score,
    ScoreInput,
    ScorerContext,
    case_scorer,
    register_scorer,
)

# ---------------------------------------------------------------- SQuAD normalisation

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Returns ``text`` normalised as SQuAD's evaluation does.

    Lower case, punctuation removed, the articles a/an/the removed, whitespace collapsed
    (Rajpurkar et al. 2016, the official ``evaluate-v1.1.py``).
    """
    lowered = text.lower()
    no_punctuation = "".join(ch for ch in lowered if ch not in _PUNCTUATION)
    no_articles = _ARTICLES.sub(" ", no_punctuation)
    return " ".join(no_articles.split())


def token_f1(prediction: str, reference: str) -> float:
    """Returns SQuAD's token F1 between two answers (after :func:`normalize_answer`)."""
    predicted = normalize_answer(prediction).split()
    truth = normalize_answer(reference).split()
    if not predicted or not truth:
        # SQuAD 2.0: two empty answers agree; one empty answer gets 0.
        return float(predicted == truth)
    common = collections.Counter(predicted) & collections.Counter(truth)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(predicted)
    recall = overlap / len(truth)
    return 2 * precision * recall / (precision + recall)


def _best(item: ScoreInput, compare: Callable[[str, str], float], label: str) -> tuple[float, str]:
    """Returns the best score of the output over the acceptable answers, with a rationale."""
    scores = [(compare(item.output, answer), answer) for answer in item.answers]
    value, answer = max(scores, key=lambda pair: pair[0])
    if len(scores) == 1:
        return value, f"{label} {value:g} against the expected answer"
    return value, f"{label} {value:g}, best of {len(scores)} acceptable answers ({answer!r})"


# ---------------------------------------------------------------- string matches


@register_scorer("exact")
def exact(*, ignore_case: bool = False, strip: bool = True) -> Any:
    """Scores 1 when the output equals an expected answer, else 0.

    Args:
        ignore_case: compare case-insensitively.
        strip: ignore leading and trailing whitespace (default). Nothing else is
            forgiven: use ``exact_normalized`` for punctuation and articles.
    """

    def prepare(text: str) -> str:
        text = text.strip() if strip else text
        return text.casefold() if ignore_case else text

    def check(item: ScoreInput) -> CaseResult:
        return _best(item, lambda out, ref: float(prepare(out) == prepare(ref)), "exact")

    return case_scorer("exact", check)


@register_scorer("exact_normalized")
def exact_normalized() -> Any:
    """Scores 1 when the output equals an expected answer after SQuAD normalisation.

    Normalisation lower-cases, removes punctuation and the articles a/an/the, and collapses
    whitespace, so "The Eiffel Tower." matches "eiffel tower".
    """

    def check(item: ScoreInput) -> CaseResult:
        return _best(
            item,
            lambda out, ref: float(normalize_answer(out) == normalize_answer(ref)),
            "normalized exact",
        )

    return case_scorer("exact_normalized", check)


@register_scorer("contains")
def contains(*, ignore_case: bool = True, normalize: bool = False) -> Any:
    """Scores 1 when an expected answer occurs inside the output.

    Args:
        ignore_case: compare case-insensitively (default).
        normalize: apply SQuAD normalisation to both sides first, so punctuation and
            articles do not matter. Note that "60" is found inside "1600": use ``regex``
            with word boundaries or ``numeric`` for numbers.
    """

    def prepare(text: str) -> str:
        if normalize:
            return normalize_answer(text)
        return text.casefold() if ignore_case else text

    def check(item: ScoreInput) -> CaseResult:
        return _best(item, lambda out, ref: float(prepare(ref) in prepare(out)), "contains")

    return case_scorer("contains", check)


_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


@register_scorer("regex")
def regex(*, pattern: str | None = None, flags: str = "", full: bool = False) -> Any:
    """Scores 1 when the output matches a regular expression.

    Args:
        pattern: the regular expression. Without it, each expected answer is the pattern
            (so the case needs ``expected``).
        flags: letters of Python's re flags: ``i`` ignore case, ``m`` multiline, ``s``
            dot matches newline, ``x`` verbose.
        full: the whole output must match (``re.fullmatch``); default: search anywhere.
    """
    unknown = set(flags) - set(_FLAGS)
    if unknown:
        raise ValueError(f"unknown regex flag(s) {sorted(unknown)}; use any of 'imsx'")
    flag_bits = 0
    for letter in flags:
        flag_bits |= _FLAGS[letter]
    fixed = re.compile(pattern, flag_bits) if pattern is not None else None

    def matches(output: str, compiled: re.Pattern[str]) -> bool:
        return bool(compiled.fullmatch(output) if full else compiled.search(output))

    def check(item: ScoreInput) -> CaseResult:
        if fixed is not None:
            ok = matches(item.output, fixed)
            return float(ok), f"{'matches' if ok else 'does not match'} /{fixed.pattern}/"
        try:
            compiled = [re.compile(answer, flag_bits) for answer in item.answers]
        except re.error as err:
            return Score.unscored(f"expected is not a valid regular expression: {err}")
        hit = next((c.pattern for c in compiled if matches(item.output, c)), None)
        return (1.0, f"matches /{hit}/") if hit is not None else (0.0, "matches no pattern")

    return case_scorer("regex", check, needs=Needs(expected=fixed is None))


# ---------------------------------------------------------------- numbers

_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?")


def first_number(text: str) -> float | None:
    """Returns the first number in ``text`` ("1,234.5", "-3", "2e-3", "60%" -> 60), or None.

    Thousands separators are commas; a percent sign is ignored (60% reads as 60).
    """
    for match in _NUMBER.finditer(text):
        token = match.group(0)
        if not any(ch.isdigit() for ch in token):
            continue
        try:
            return float(token.replace(",", ""))
        except ValueError:
            continue
    return None


@register_scorer("numeric")
def numeric(*, abs_tol: float = 0.0, rel_tol: float = 1e-9) -> Any:
    """Scores 1 when the first number in the output is within tolerance of the expected.

    Args:
        abs_tol: absolute tolerance (e.g. 0.01).
        rel_tol: relative tolerance (e.g. 0.05 for 5%). The number is accepted when either
            tolerance is met (``math.isclose``).

    An output with no number scores 0 (a wrong answer); an ``expected`` that has no number
    makes the case unscored (fix the golden set).
    """
    if abs_tol < 0 or rel_tol < 0:
        raise ValueError("tolerances must be >= 0")

    def check(item: ScoreInput) -> CaseResult:
        targets = []
        for answer in item.answers:
            target = first_number(answer)
            if target is None:
                return Score.unscored(f"expected answer {answer!r} has no number")
            targets.append(target)
        got = first_number(item.output)
        if got is None:
            return 0.0, "the output has no number"
        for target in targets:
            if math.isclose(got, target, rel_tol=rel_tol, abs_tol=abs_tol):
                return 1.0, f"{got:g} is within tolerance of {target:g}"
        shown = ", ".join(f"{t:g}" for t in targets)
        return 0.0, f"{got:g} is not within tolerance of {shown}"

    return case_scorer("numeric", check)


@register_scorer("token_f1")
def token_f1_scorer() -> Any:
    """Scores SQuAD's token F1 (0..1) between the output and the best expected answer."""

    def check(item: ScoreInput) -> CaseResult:
        return _best(item, token_f1, "token F1")

    return case_scorer("token_f1", check, kind="continuous")


# ---------------------------------------------------------------- JSON

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_json(text: str) -> Any:
    """Returns the first JSON value in ``text``: the whole text, a fenced block, or the
    first ``{...}``/``[...]`` that parses. Raises ValueError when there is none."""
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError:
        pass
    for block in _FENCE.findall(text):
        try:
            return json.loads(block.strip())
        except json.JSONDecodeError:
            continue
    decoder = json.JSONDecoder()
    for index, char in enumerate(text):
        if char in "{[":
            try:
                value, _ = decoder.raw_decode(text, index)
            except json.JSONDecodeError:
                continue
            return value
    raise ValueError("no JSON value found")


def _load_schema(schema: dict[str, Any] | str, context: ScorerContext) -> dict[str, Any]:
    if isinstance(schema, dict):
        return schema
    path = context.project.path(schema) if context.project else Path(schema)
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(f"cannot read JSON Schema {path}: {err}") from err
    except json.JSONDecodeError as err:
        raise ValueError(f"JSON Schema {path} is not valid JSON: {err}") from err
    if not isinstance(loaded, dict):
        raise ValueError(f"JSON Schema {path} must be a JSON object")
    return loaded


def _json_equal(left: Any, right: Any) -> bool:
    # 1 == 1.0 but True != 1: JSON booleans and numbers are different types.
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            _json_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    return bool(left == right)


@register_scorer("json_match")
def json_match(
    *, schema: dict[str, Any] | str | None = None, context: ScorerContext | None = None
) -> Any:
    """Scores 1 when the output's JSON equals the expected JSON (key order ignored).

    Args:
        schema: an optional JSON Schema (inline table, or a path to a .json file relative
            to the config) the output must also satisfy. With a schema and no
            ``expected``, the case scores schema validity alone.

    The output's JSON is taken from the whole output, a fenced code block, or the first
    ``{...}``/``[...]`` in it. An output with no JSON scores 0: for a JSON task that is a
    wrong answer, not a failure to score. ``expected`` may be a JSON object/array, or a
    string holding JSON; a string that is not JSON makes the case unscored.
    """
    validator = None
    if schema is not None:
        import jsonschema

        loaded = _load_schema(schema, context or ScorerContext())
        try:
            jsonschema.Draft202012Validator.check_schema(loaded)
        except jsonschema.SchemaError as err:
            raise ValueError(f"invalid JSON Schema: {err.message}") from err
        validator = jsonschema.Draft202012Validator(loaded)

    def expected_value(item: ScoreInput) -> Any:
        if isinstance(item.expected, str):
            return json.loads(item.expected)
        return item.expected

    def check(item: ScoreInput) -> CaseResult:
        try:
            want = expected_value(item)
        except json.JSONDecodeError as err:
            return Score.unscored(f"expected is a string but not JSON ({err.msg})")
        try:
            got = extract_json(item.output)
        except ValueError:
            return 0.0, "the output contains no JSON"
        if validator is not None:
            errors = sorted(validator.iter_errors(got), key=lambda e: list(e.path))
            if errors:
                where = "/".join(str(p) for p in errors[0].path) or "(root)"
                return 0.0, f"schema violation at {where}: {errors[0].message}"
        if item.expected is None:
            return 1.0, "valid against the schema"
        ok = _json_equal(got, want)
        return float(ok), "JSON equal" if ok else "JSON differs from expected"

    return case_scorer("json_match", check, needs=Needs(expected=validator is None))
