"""Embedding similarity: cosine between the output and the reference answer(s)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from evalkit.models._embeddings import BUNDLED_MODEL, Embedder, get_embedder
from evalkit.scorers._base import (
    BaseScorer,
    MetricShape,
    Needs,
    Score,
    ScoreInput,
    ScorerContext,
    register_scorer,
)


async def best_cosines(embedder: Embedder, items: Sequence[ScoreInput]) -> list[float]:
    """Returns each output's cosine with its closest reference (one batched embed)."""
    texts: list[str] = []
    spans: list[tuple[int, int, int]] = []
    for item in items:
        out_index = len(texts)
        texts.append(item.output)
        texts.extend(item.answers)
        spans.append((out_index, out_index + 1, len(texts)))
    vectors = await embedder.embed(texts)
    return [
        float(np.max(vectors[start:stop] @ vectors[out_index])) for out_index, start, stop in spans
    ]


class EmbeddingSimilarity(BaseScorer):
    """Cosine similarity of output and reference embeddings; the best reference counts."""

    def __init__(self, embedder: Embedder) -> None:
        shape = MetricShape(kind="continuous", low=-1.0, high=1.0)
        super().__init__("embedding_similarity", shape, needs=Needs(expected=True))
        self.embedder = embedder

    async def score_ready(self, items: Sequence[ScoreInput]) -> list[Score]:
        """Returns the cosine of each output with its closest reference (one batched embed)."""
        return [
            Score(round(best, 6), rationale=f"cosine {best:.3f} ({self.embedder.model_id})")
            for best in await best_cosines(self.embedder, items)
        ]


@register_scorer("embedding_similarity")
def embedding_similarity(
    *,
    model: str = BUNDLED_MODEL,
    api_base: str | None = None,
    batch_size: int = 64,
    cache: bool = True,
    context: ScorerContext | None = None,
) -> Any:
    """Scores the cosine similarity (-1..1, in practice 0..1) of output and reference.

    Args:
        model: "minilm" (the bundled all-MiniLM-L6-v2, offline), a folder holding a
            sentence-transformers model, or a LiteLLM embedding model name.
        api_base: the server of a LiteLLM embedding model (OpenAI-compatible).
        batch_size: texts per encoder batch.
        cache: keep embeddings on disk under the project's cache folder (by text hash);
            they are always cached in memory.

    With several references the closest one counts. An empty output is embedded like any
    text (it scores low), not unscored.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    folder = None
    if cache and context is not None and context.cache_dir is not None:
        folder = context.cache_dir / "embeddings"
    return EmbeddingSimilarity(
        get_embedder(model, cache_dir=folder, api_base=api_base, batch_size=batch_size)
    )
