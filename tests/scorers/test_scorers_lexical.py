"""Lexical overlap scorers: ROUGE from rouge-score, BLEU/chrF from sacrebleu."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from evalkit.scorers import Score, ScoreInput, create_scorer


def score(name: str, output: str, expected: Any, **params: Any) -> Score:
    scorer = create_scorer(name, params)
    (result,) = asyncio.run(scorer.score([ScoreInput("c", 0, "q", output, expected=expected)]))
    return result


def test_rouge1_and_rouge2_match_hand_counts() -> None:
    # unigrams: 2 of 3 shared -> P = R = F = 2/3; bigrams: 1 of 2 shared -> F = 1/2
    assert score("rouge1", "the cat sat", "the cat ran").value == pytest.approx(2 / 3)
    assert score("rouge2", "the cat sat", "the cat ran").value == pytest.approx(1 / 2)
    assert score("rouge1", "the cat sat", "the cat ran", measure="recall").value == (
        pytest.approx(2 / 3)
    )


def test_rouge_l_uses_longest_common_subsequence() -> None:
    # LCS of "a b c d" and "a c d" is "a c d" (3): P = 3/4, R = 3/3 -> F = 6/7
    result = score("rougeL", "a b c d", "a c d", use_stemmer=False)
    assert result.value == pytest.approx(6 / 7)


def test_rouge_takes_the_best_of_several_references() -> None:
    assert score("rouge1", "the cat sat", ["dogs bark", "the cat sat"]).value == 1.0


def test_rouge_stemming_is_on_by_default() -> None:
    assert score("rouge1", "cats running", "cat run").value == 1.0
    assert score("rouge1", "cats running", "cat run", use_stemmer=False).value == 0.0


def test_bleu_and_chrf_use_sacrebleu_scale() -> None:
    same = "the quick brown fox jumps over the lazy dog"
    assert score("bleu", same, same).value == pytest.approx(100.0)
    assert score("chrf", same, same).value == pytest.approx(100.0)
    partial = score("bleu", "the quick brown fox", same)
    assert partial.value is not None and 0.0 < partial.value < 100.0
    assert "BLEU" in (partial.rationale or "")
    unrelated = score("chrf", "zzzz", same)
    assert unrelated.value is not None and unrelated.value < 10.0


def test_bleu_uses_all_references() -> None:
    one = score("bleu", "a small red car drove by", "a tiny crimson vehicle went past").value
    both = score(
        "bleu", "a small red car drove by", ["a tiny crimson vehicle went past", "a small red car"]
    ).value
    assert one is not None and both is not None and both > one


def test_lexical_scorers_need_a_reference() -> None:
    for name in ("rouge1", "rouge2", "rougeL", "bleu", "chrf"):
        result = score(name, "text", None)
        assert result.value is None and "needs an 'expected'" in (result.error or ""), name


def test_bad_rouge_measure_is_rejected() -> None:
    from evalkit.errors import ConfigError

    with pytest.raises(ConfigError, match="measure must be"):
        create_scorer("rouge1", {"measure": "f2"})
