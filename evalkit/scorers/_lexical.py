"""Lexical-overlap scorers for summaries: ROUGE (``rouge-score``), BLEU and chrF (``sacrebleu``).

The numbers come from the libraries, not from a re-implementation. With several
reference answers, ROUGE takes the best reference; BLEU and chrF use sacrebleu's own
multi-reference computation. BLEU and chrF keep sacrebleu's 0..100 scale.
"""

from __future__ import annotations

from typing import Any

from evalkit.scorers._base import CaseResult, ScoreInput, case_scorer, register_scorer

_ROUGE_TYPES = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L"}


def _rouge(rouge_type: str, *, measure: str, use_stemmer: bool) -> Any:
    from rouge_score import rouge_scorer

    if measure not in ("fmeasure", "precision", "recall"):
        raise ValueError("measure must be 'fmeasure', 'precision' or 'recall'")
    scorer = rouge_scorer.RougeScorer([rouge_type], use_stemmer=use_stemmer)

    def check(item: ScoreInput) -> CaseResult:
        values = [
            getattr(scorer.score(answer, item.output)[rouge_type], measure)
            for answer in item.answers
        ]
        best = max(values)
        return best, f"{_ROUGE_TYPES[rouge_type]} {measure} {best:.3f}"

    return case_scorer(rouge_type, check, kind="continuous")


@register_scorer("rouge1")
def rouge1(*, measure: str = "fmeasure", use_stemmer: bool = True) -> Any:
    """Scores ROUGE-1 (unigram overlap, 0..1) against the best reference.

    Args:
        measure: "fmeasure" (default), "precision" or "recall".
        use_stemmer: Porter-stem words first (rouge-score's option), so "runs" = "run".
    """
    return _rouge("rouge1", measure=measure, use_stemmer=use_stemmer)


@register_scorer("rouge2")
def rouge2(*, measure: str = "fmeasure", use_stemmer: bool = True) -> Any:
    """Scores ROUGE-2 (bigram overlap, 0..1) against the best reference; options as rouge1."""
    return _rouge("rouge2", measure=measure, use_stemmer=use_stemmer)


@register_scorer("rougeL")
def rouge_l(*, measure: str = "fmeasure", use_stemmer: bool = True) -> Any:
    """Scores ROUGE-L (longest common subsequence, 0..1); options as rouge1."""
    return _rouge("rougeL", measure=measure, use_stemmer=use_stemmer)


@register_scorer("bleu")
def bleu(*, tokenize: str = "13a", smooth_method: str = "exp", lowercase: bool = False) -> Any:
    """Scores sentence-level BLEU (sacrebleu, 0..100) against all references.

    Args:
        tokenize: sacrebleu tokenizer ("13a" default, "intl", "zh", "char", "none").
        smooth_method: sentence smoothing ("exp" default, "floor", "add-k", "none");
            without smoothing short sentences score 0 on a missing 4-gram.
        lowercase: compare case-insensitively.
    """
    from sacrebleu.metrics import BLEU

    metric = BLEU(
        tokenize=tokenize,
        smooth_method=smooth_method,
        lowercase=lowercase,
        effective_order=True,
    )

    def check(item: ScoreInput) -> CaseResult:
        result = metric.sentence_score(item.output, item.answers)
        return float(result.score), str(result)

    return case_scorer("bleu", check, kind="continuous", high=100.0)


@register_scorer("chrf")
def chrf(*, word_order: int = 0, lowercase: bool = False) -> Any:
    """Scores sentence-level chrF (sacrebleu, 0..100) against all references.

    Args:
        word_order: 0 for chrF (default), 2 for chrF++ (adds word bigrams).
        lowercase: compare case-insensitively.
    """
    from sacrebleu.metrics import CHRF

    metric = CHRF(word_order=word_order, lowercase=lowercase)

    def check(item: ScoreInput) -> CaseResult:
        result = metric.sentence_score(item.output, item.answers)
        return float(result.score), str(result)

    return case_scorer("chrf", check, kind="continuous", high=100.0)
