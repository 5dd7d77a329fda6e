"""Embeddings: the bundled MiniLM offline, batching, the text-hash cache, LiteLLM models."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evalkit.models._embeddings import (
    EmbeddingCache,
    LiteLLMEmbedder,
    LocalEmbedder,
    bundled_model_path,
    cosine_similarity,
    text_key,
)
from evalkit.scorers import ScoreInput, ScorerContext, create_scorer


@pytest.fixture(scope="module")
def minilm() -> LocalEmbedder:
    return LocalEmbedder()


def test_bundled_minilm_loads_from_the_installed_package_offline(minilm: LocalEmbedder) -> None:
    hub_switches = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY")
    before = {name: os.environ.get(name) for name in hub_switches}
    assert (bundled_model_path() / "model.safetensors").exists()
    vectors = asyncio.run(minilm.embed(["a cat sat on the mat", "a kitten sat on a rug", "bonds"]))
    # Loaded from the package's folder (local files only), not by switching the host offline.
    assert {name: os.environ.get(name) for name in hub_switches} == before
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors[0]
    assert sims[1] > sims[2] + 0.2  # paraphrase much closer than an unrelated word


def test_embeddings_are_cached_by_text_hash_in_memory_and_on_disk(tmp_path: Path) -> None:
    first = LocalEmbedder(cache=EmbeddingCache(tmp_path))
    texts = ["alpha beta", "gamma delta", "alpha beta"]
    vectors = asyncio.run(first.embed(texts))
    assert first.embedded == 2  # the duplicate is embedded once
    asyncio.run(first.embed(texts))
    assert first.embedded == 2  # all from memory
    second = LocalEmbedder(cache=EmbeddingCache(tmp_path))  # a new process, same folder
    again = asyncio.run(second.embed(texts[:2]))
    assert second.embedded == 0
    assert np.allclose(again, vectors[:2])
    assert text_key("m", "x") != text_key("n", "x")  # the model is part of the key


def test_local_embedder_batches(minilm: LocalEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = LocalEmbedder(cache=EmbeddingCache(), batch_size=4)
    calls: list[int] = []
    original = embedder.encode

    def counting(texts: list[str]) -> Any:
        calls.append(len(texts))
        return original(texts)

    monkeypatch.setattr(embedder, "encode", counting)
    asyncio.run(embedder.embed([f"text number {i}" for i in range(10)]))
    assert calls == [4, 4, 2]


def test_a_texts_vector_does_not_depend_on_the_texts_embedded_with_it(
    minilm: LocalEmbedder,
) -> None:
    # Two runs of the same system batch their texts differently (other outputs, other
    # order); a batch padded to its longest text moved the vector in the 7th decimal.
    text = "The capital of France is Paris."
    alone = minilm.encode([text])[0]
    crowded = minilm.encode(
        ["cow", "a much longer answer that pads this batch well past the first text"] * 9
        + [text, "eight legs"]
    )[18]
    assert np.array_equal(alone, crowded)
    reordered = minilm.encode(["eight legs", text, *["bonds"] * 20])[1]
    assert np.array_equal(alone, reordered)
    reference = np.asarray(minilm.model().encode([text], normalize_embeddings=True))[0]
    assert float(alone @ reference) == pytest.approx(1.0, abs=1e-6)  # the same embedding


def test_cosine_similarity_is_row_wise() -> None:
    a = np.array([[1.0, 0.0], [0.0, 2.0]], dtype=np.float32)
    b = np.array([[1.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    assert np.allclose(cosine_similarity(a, b), [1.0, 0.0])


def test_embedding_similarity_scorer_takes_the_closest_reference(tmp_path: Path) -> None:
    from evalkit.config._suite import ProjectConfig

    project = ProjectConfig(source=str(tmp_path / "x.toml"), root=str(tmp_path))
    scorer = create_scorer("embedding_similarity", {}, ScorerContext(project=project))
    batch = [
        ScoreInput(
            "same", 0, "q", "The capital of France is Paris.", "The capital of France is Paris."
        ),
        ScoreInput("two", 0, "q", "Paris is in France", ["bananas are yellow", "Paris, France"]),
        ScoreInput("none", 0, "q", "anything", None),
    ]
    same, two, none = asyncio.run(scorer.score(batch))
    assert same.value == pytest.approx(1.0, abs=1e-4)
    assert two.value is not None and two.value > 0.6
    assert none.value is None and "needs an 'expected'" in (none.error or "")
    assert (tmp_path / ".evalkit/cache/embeddings/embeddings.sqlite3").exists()
    assert scorer.shape.kind == "continuous" and scorer.fingerprint() is None


def test_litellm_embedding_model_batches_through_the_server(
    openai_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
    openai_server.configure(embedding_dim=8)
    embedder = LiteLLMEmbedder(
        "openai/fake-embedding", api_base=openai_server.url, cache=EmbeddingCache(), batch_size=2
    )
    texts = ["red apple", "green apple", "blue sky", "red apple pie", "night"]
    vectors = asyncio.run(embedder.embed(texts))
    assert vectors.shape == (5, 8)
    assert openai_server.stats()["embeddings"] == 3
    asyncio.run(embedder.embed(texts))
    assert openai_server.stats()["embeddings"] == 3  # cached


def test_two_runs_of_the_same_system_compare_as_exactly_no_change_on_similarity() -> None:
    # The same outputs scored twice, their texts batched differently (another order,
    # other chunks, a cold cache each time): what two runs of one deterministic SUT do.
    from evalkit.comparison._compare import compare_runs
    from evalkit.data._records import MetricInfo
    from tests.support.runs import make_run

    outputs = [
        "Paris",
        "The capital of France is Paris.",
        "I think it is Lyon, but maybe Paris",
        "a cow",
        "Spiders have eight legs, which is more than insects have.",
        "William Shakespeare",
        "shakespeare",
        "100 degrees Celsius at sea level",
    ] * 5
    items = [
        ScoreInput(f"c{i:02d}", 0, "q", f"{text} ({i})", f"reference answer {i % 7}")
        for i, text in enumerate(outputs)
    ]

    def scores(order: list[int], chunk: int) -> dict[str, float | None]:
        scorer = create_scorer("embedding_similarity", {"cache": False, "batch_size": chunk})
        scorer.embedder = LocalEmbedder(cache=EmbeddingCache(), batch_size=chunk)  # cold
        values: dict[str, float | None] = {}
        for start in range(0, len(order), chunk):
            batch = [items[i] for i in order[start : start + chunk]]
            for item, score in zip(batch, asyncio.run(scorer.score(batch)), strict=True):
                values[item.case_id] = score.value
        return values

    first = scores(list(range(len(items))), 64)
    second = scores(list(reversed(range(len(items)))), 3)
    assert first == second  # to the last digit
    metric = MetricInfo(name="similarity", scorer="embedding_similarity", kind="continuous")
    runs = [
        make_run(name, [(case, "similarity", value) for case, value in values.items()],
                 metrics=[metric])
        for name, values in (("first", first), ("second", second))
    ]  # fmt: skip
    (row,) = compare_runs(*runs).overall()
    assert row.delta == 0.0 and row.verdict == "no-change"
    assert row.p_value == 1.0 and (row.ci_low, row.ci_high) == (0.0, 0.0)
