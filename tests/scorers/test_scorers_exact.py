"""Exact-match family: pure per-case scorers, tested without a model."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from evalkit.errors import ConfigError, NotFoundError
from evalkit.scorers import Score, ScoreInput, create_scorer, scorer_names
from evalkit.scorers._exact import extract_json, first_number, normalize_answer, token_f1


def score(name: str, output: str, expected: Any = None, **params: Any) -> Score:
    scorer = create_scorer(name, params)
    item = ScoreInput("c1", 0, input="q", output=output, expected=expected)
    (result,) = asyncio.run(scorer.score([item]))
    return result


def value(name: str, output: str, expected: Any = None, **params: Any) -> float | None:
    return score(name, output, expected, **params).value


def test_exact_requires_identical_text_except_surrounding_whitespace() -> None:
    assert value("exact", "  Paris\n", "Paris") == 1.0
    assert value("exact", "paris", "Paris") == 0.0
    assert value("exact", "paris", "Paris", ignore_case=True) == 1.0
    assert value("exact", " Paris", "Paris", strip=False) == 0.0


def test_squad_normalisation_drops_case_punctuation_articles_and_spaces() -> None:
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert normalize_answer("an apple, a pear") == "apple pear"
    assert value("exact_normalized", "The Eiffel Tower.", "eiffel tower") == 1.0
    assert value("exact_normalized", "Eiffel Towers", "eiffel tower") == 0.0


def test_several_acceptable_answers_score_the_best_match() -> None:
    result = score("exact_normalized", "NYC", ["New York City", "nyc"])
    assert result.value == 1.0
    assert "best of 2" in (result.rationale or "")
    assert value("exact", "LA", ["New York City", "NYC"]) == 0.0


def test_missing_expected_is_unscored_not_zero() -> None:
    for name in ("exact", "exact_normalized", "contains", "numeric", "token_f1", "json_match"):
        result = score(name, "anything", None)
        assert result.value is None, name
        assert "needs an 'expected'" in (result.error or ""), name


def test_contains_finds_the_answer_inside_the_output() -> None:
    assert value("contains", "I think it is PARIS, France", "paris") == 1.0
    assert value("contains", "I think it is PARIS", "paris", ignore_case=False) == 0.0
    assert value("contains", "It's the Eiffel tower", "eiffel tower!", normalize=True) == 1.0
    assert value("contains", "Lyon", "Paris") == 0.0


def test_regex_uses_the_param_pattern_or_the_expected_pattern() -> None:
    assert value("regex", "order #12345 shipped", pattern=r"#\d{5}\b") == 1.0
    assert value("regex", "order #123 shipped", pattern=r"#\d{5}\b") == 0.0
    assert value("regex", "YES", pattern="yes", flags="i", full=True) == 1.0
    assert value("regex", "yes, sure", pattern="yes", full=True) == 0.0
    assert value("regex", "answer: 42", expected=[r"\b41\b", r"\b42\b"]) == 1.0
    # Without a fixed pattern the expected answers are the patterns, so expected is needed.
    assert score("regex", "x", None).value is None
    # A fixed pattern needs no expected.
    assert value("regex", "x", None, pattern="x") == 1.0


def test_regex_with_invalid_expected_pattern_is_unscored() -> None:
    result = score("regex", "abc", "(unclosed")
    assert result.value is None
    assert "not a valid regular expression" in (result.error or "")


def test_regex_rejects_unknown_flags_as_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown regex flag"):
        create_scorer("regex", {"pattern": "x", "flags": "q"})


def test_first_number_parses_signs_separators_exponents_and_percent() -> None:
    assert first_number("about 1,234.5 units") == 1234.5
    assert first_number("it is -3 degrees") == -3.0
    assert first_number("rate 2e-3") == 0.002
    assert first_number("60%") == 60.0
    assert first_number("no digits here") is None


def test_numeric_applies_absolute_and_relative_tolerance() -> None:
    assert value("numeric", "The answer is 3.14159", "3.14", abs_tol=0.01) == 1.0
    assert value("numeric", "The answer is 3.2", "3.14", abs_tol=0.01) == 0.0
    assert value("numeric", "about 104", 100, rel_tol=0.05) == 1.0
    assert value("numeric", "about 106", 100, rel_tol=0.05) == 0.0
    assert value("numeric", "42", 42) == 1.0


def test_numeric_output_without_number_is_wrong_but_expected_without_number_is_unscored() -> None:
    wrong = score("numeric", "I do not know", "42")
    assert wrong.value == 0.0
    assert wrong.rationale == "the output has no number"
    bad_golden = score("numeric", "42", "forty-two")
    assert bad_golden.value is None
    assert "has no number" in (bad_golden.error or "")


def test_token_f1_matches_squad_definition() -> None:
    # prediction tokens: [eiffel, tower, in, paris]; truth: [eiffel, tower]
    # precision 2/4, recall 2/2 -> F1 = 2 * 0.5 * 1 / 1.5 = 2/3
    assert token_f1("the Eiffel Tower in Paris", "Eiffel Tower") == pytest.approx(2 / 3)
    assert token_f1("", "") == 1.0
    assert token_f1("", "x") == 0.0
    assert value("token_f1", "Lyon", ["Paris", "Lyon France"]) == pytest.approx(2 / 3)


def test_extract_json_tolerates_fences_and_surrounding_text() -> None:
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('Here you go:\n```json\n{"a": [1, 2]}\n```\nthanks') == {"a": [1, 2]}
    assert extract_json('Result: {"b": true} (done)') == {"b": True}
    with pytest.raises(ValueError):
        extract_json("no json at all")


def test_json_match_ignores_key_order_but_not_types() -> None:
    expected = {"name": "Ada", "tags": ["x", "y"], "age": 36}
    assert value("json_match", '{"age": 36, "tags": ["x","y"], "name": "Ada"}', expected) == 1.0
    assert value("json_match", '{"age": 36.0, "tags": ["x","y"], "name": "Ada"}', expected) == 1.0
    assert value("json_match", '{"age": "36", "tags": ["x","y"], "name": "Ada"}', expected) == 0.0
    assert value("json_match", '{"flag": 1}', {"flag": True}) == 0.0
    # expected given as a JSON string
    assert value("json_match", '```json\n{"a": 1}\n```', '{"a": 1}') == 1.0


def test_json_match_non_json_output_scores_zero_and_non_json_expected_is_unscored() -> None:
    wrong = score("json_match", "sorry, I cannot", {"a": 1})
    assert wrong.value == 0.0
    assert wrong.rationale == "the output contains no JSON"
    bad = score("json_match", '{"a": 1}', "not json")
    assert bad.value is None
    assert "not JSON" in (bad.error or "")


def test_json_match_checks_the_schema_and_works_without_expected(tmp_path: Any) -> None:
    schema = {
        "type": "object",
        "properties": {"age": {"type": "integer"}},
        "required": ["age"],
    }
    assert value("json_match", '{"age": 3}', None, schema=schema) == 1.0
    failed = score("json_match", '{"age": "three"}', None, schema=schema)
    assert failed.value == 0.0
    assert "schema violation at age" in (failed.rationale or "")
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    assert value("json_match", '{"age": 3}', {"age": 3}, schema=str(path)) == 1.0
    with pytest.raises(ConfigError, match="invalid JSON Schema"):
        create_scorer("json_match", {"schema": {"type": "no-such-type"}})


def test_unknown_scorer_lists_known_ones() -> None:
    with pytest.raises(NotFoundError) as info:
        create_scorer("exakt")
    message = str(info.value)
    assert "no scorer named 'exakt'" in message
    assert "exact_normalized" in message


def test_bad_params_name_the_accepted_options() -> None:
    with pytest.raises(ConfigError) as info:
        create_scorer("numeric", {"tolerance": 0.1}, metric="num")
    message = str(info.value)
    assert "metric 'num' (scorer 'numeric')" in message
    assert "abs_tol" in message and "rel_tol" in message


def test_registry_lists_every_builtin_scorer() -> None:
    names = set(scorer_names())
    expected = {
        "exact",
        "exact_normalized",
        "contains",
        "regex",
        "numeric",
        "json_match",
        "token_f1",
        "rouge1",
        "rouge2",
        "rougeL",
        "bleu",
        "chrf",
        "embedding_similarity",
        "judge",
        "faithfulness",
        "answer_relevancy",
        "context_precision",
        "context_recall",
        "geval",
        "deepeval_answer_relevancy",
    }
    assert expected <= names, expected - names


def test_scorer_exception_becomes_unscored_with_reason() -> None:
    from evalkit.scorers import case_scorer

    def broken(item: ScoreInput) -> float:
        raise RuntimeError("boom")

    scorer = case_scorer("broken", broken)
    (result,) = asyncio.run(scorer.score([ScoreInput("c", 0, "q", "out", expected="x")]))
    assert result.value is None
    assert result.error == "broken failed: RuntimeError: boom"


def test_nan_from_a_scorer_is_unscored() -> None:
    from evalkit.scorers import case_scorer

    scorer = case_scorer("nan", lambda item: float("nan"), kind="continuous")
    (result,) = asyncio.run(scorer.score([ScoreInput("c", 0, "q", "out", expected="x")]))
    assert result.value is None
    assert "nan" in (result.error or "").lower()
