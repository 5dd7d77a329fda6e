"""Scorers: turn outputs into scores. See docs/scorers.md for every scorer.

Use :func:`create_scorer` to build one by name, :func:`scorer_names` to list them, and
:func:`register_scorer` (or the ``evalkit.scorers`` entry-point group) to add one.
"""

from __future__ import annotations

from evalkit.scorers._base import (
    BaseScorer,
    MetricShape,
    Needs,
    Score,
    ScoreInput,
    Scorer,
    ScorerContext,
    case_scorer,
    create_scorer,
    register_scorer,
    scorer_names,
)

__all__ = [
    "BaseScorer",
    "MetricShape",
    "Needs",
    "Score",
    "ScoreInput",
    "Scorer",
    "ScorerContext",
    "case_scorer",
    "create_scorer",
    "register_scorer",
    "scorer_names",
]
