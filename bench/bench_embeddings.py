"""Benchmark: bundled MiniLM embeddings, batched vs one text at a time (and cache hits).

Embeds N short texts (default 10,000) through :class:`evalkit.models._embeddings.LocalEmbedder`
with an empty cache, in batches; then one text per call. One-at-a-time is slow, so it is
measured on a subset (default 500 texts) and extrapolated to N — the output says so.
Finally the batched run is repeated against the warm cache.

    .venv/bin/python -m bench.bench_embeddings [--n 10000] [--single 500] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

from evalkit.models._embeddings import EmbeddingCache, LocalEmbedder

WORDS = [
    "the",
    "a",
    "model",
    "answer",
    "question",
    "paris",
    "france",
    "capital",
    "river",
    "city",
    "data",
    "test",
    "score",
    "judge",
    "fast",
    "slow",
    "red",
    "green",
    "blue",
    "small",
    "large",
    "report",
    "metric",
    "sample",
    "case",
    "golden",
    "set",
    "run",
]


def short_texts(n: int, seed: int = 0) -> list[str]:
    """Returns n distinct short texts (5-12 words each)."""
    rng = random.Random(seed)
    return [
        f"{i} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 12))) for i in range(n)
    ]


async def timed_batched(embedder: LocalEmbedder, texts: list[str]) -> float:
    start = time.perf_counter()
    await embedder.embed(texts)
    return time.perf_counter() - start


async def timed_single(embedder: LocalEmbedder, texts: list[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        await embedder.embed([text])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--single", type=int, default=500, help="subset for one-at-a-time")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    texts = short_texts(args.n)
    load_start = time.perf_counter()
    LocalEmbedder().model()
    load_s = time.perf_counter() - load_start

    batched = LocalEmbedder(cache=EmbeddingCache(), batch_size=args.batch_size)
    batched_s = asyncio.run(timed_batched(batched, texts))
    cached_s = asyncio.run(timed_batched(batched, texts))

    single_texts = short_texts(args.single, seed=1)
    single = LocalEmbedder(cache=EmbeddingCache(), batch_size=1)
    single_s = asyncio.run(timed_single(single, single_texts))
    single_extrapolated = single_s / args.single * args.n

    result = {
        "texts": args.n,
        "batch_size": args.batch_size,
        "model_load_s": round(load_s, 2),
        "batched_s": round(batched_s, 2),
        "batched_texts_per_s": round(args.n / batched_s, 1),
        "one_at_a_time_measured_on": args.single,
        "one_at_a_time_texts_per_s": round(args.single / single_s, 1),
        "one_at_a_time_extrapolated_s": round(single_extrapolated, 1),
        "speedup_batched": round(single_extrapolated / batched_s, 1),
        "warm_cache_s": round(cached_s, 3),
        "warm_cache_texts_per_s": round(args.n / cached_s, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
