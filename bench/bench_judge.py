"""Benchmark: items per second of the shipped ``correctness`` judge on the embedded Gemma.

Scores the first N cases of the qa suite's committed baseline (question, reference and
the baseline's output) with the judge, no call cache, one item at a time (the embedded
server answers one request at a time anyway); repeats R times and prints the median
items/s. The embedded llama.cpp server is started once and warmed with one item first.

    .venv/bin/python bench/bench_judge.py [--n 8] [--reps 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8, help="items per repeat")
    parser.add_argument("--reps", type=int, default=3, help="repeats (median reported)")
    args = parser.parse_args()

    from evalkit.data._golden import load_golden_set
    from evalkit.judging._definitions import load_judge
    from evalkit.models._llm import ModelClient
    from evalkit.scorers._base import ScoreInput
    from evalkit.scorers._judge import JudgeScorer

    golden = {case.id: case for case in load_golden_set(ROOT / "golden_sets/qa.jsonl").cases}
    lines = (ROOT / "golden_sets/qa.baseline.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines[1:]]
    items = []
    for row in rows[: args.n + 1]:
        case = golden[row["case_id"]]
        question = case.input.get("question") if isinstance(case.input, dict) else case.input
        items.append(
            ScoreInput(
                case_id=case.id,
                sample=0,
                input=str(question),
                output=row["outputs"][0],
                expected=case.expected,
            )
        )
    judge = load_judge("correctness", ROOT / "judges")
    scorer = JudgeScorer(judge, client=ModelClient(cache=None), concurrency=1)

    async def timed(batch: list[ScoreInput]) -> tuple[float, list[float | None]]:
        start = time.perf_counter()
        scores = await scorer.score(batch)
        return time.perf_counter() - start, [s.soft_score for s in scores]

    asyncio.run(timed(items[:1]))  # starts and warms the server
    rates, soft = [], []
    for _ in range(args.reps):
        seconds, soft = asyncio.run(timed(items[1:]))
        rates.append(args.n / seconds)
    print(
        json.dumps(
            {
                "items": args.n,
                "reps": args.reps,
                "items_per_s": [round(r, 3) for r in rates],
                "median_items_per_s": round(statistics.median(rates), 3),
                "soft_scores": [None if s is None else round(s, 4) for s in soft],
                "loadavg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
