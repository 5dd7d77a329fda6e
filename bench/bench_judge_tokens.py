"""Cost of one generated judge token on the embedded Gemma: threads, grammar, speed-ups.

Starts the embedded llama.cpp server with 1 and then 2 threads, each with evalkit's
speed-ups (:mod:`evalkit.models._llama_speedups`) and without them
(``EVALKIT_LLAMA_SPEEDUPS=0``: llama-cpp-python's own sampling), and on each times the
same ragas statement-split prompt (a real support_rag answer) with the JSON-schema grammar
evalkit sends and without any grammar, 40 tokens each after a warm-up call that leaves
the prompt in the server's cache (so the time is generation, not prompt reading).

Printed: seconds, tokens and milliseconds per generated token for each (threads,
speed-ups, grammar) triple, and the load average. Run:
``python -m bench.bench_judge_tokens [--reps N]``. Nothing is asserted; quote medians and
the load.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
import types

import httpx

from evalkit.models._embedded import EmbeddedServer
from evalkit.models._llm import grammar_for_text_completion
from evalkit.scorers import _completion_prompts as completion_prompts

QUESTION = "How much does the Plus plan cost?"
ANSWER = (
    "The Plus plan costs $6 per month or $60 per year. It includes unlimited notebooks and "
    "notes, 20 GB of attachment storage and sync across up to 5 devices."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=40)
    args = parser.parse_args()
    prompt = completion_prompts.ragas_statements(
        types.SimpleNamespace(question=QUESTION, answer=ANSWER)
    )
    extra = {"response_format": {"type": "json_object", "schema": prompt.schema}}
    grammar = grammar_for_text_completion({"extra_body": extra})["extra_body"]["grammar"]
    per_token: dict[str, list[float]] = {}

    def call(url: str, with_grammar: bool, max_tokens: int) -> tuple[float, int]:
        body: dict[str, object] = {
            "prompt": str(prompt),
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "stop": ["\n"],
        }
        if with_grammar:
            body["grammar"] = grammar
        started = time.perf_counter()
        reply = httpx.post(f"{url}/completions", json=body, timeout=900).json()
        return time.perf_counter() - started, int(reply["usage"]["completion_tokens"])

    for _ in range(args.reps):
        for threads, speedups in itertools.product((1, 2), ("1", "0")):
            os.environ["EVALKIT_LLAMA_SPEEDUPS"] = speedups
            server = EmbeddedServer(threads=threads)
            url = server.start()
            try:
                call(url, False, 1)
                for with_grammar in (True, False):
                    seconds, n = call(url, with_grammar, args.tokens)
                    key = (
                        f"threads={threads} speed-ups {'on' if speedups == '1' else 'off'} "
                        f"{'grammar' if with_grammar else 'plain'}"
                    )
                    per_token.setdefault(key, []).append(1000 * seconds / max(n, 1))
                    print(
                        f"{key}: {seconds:.2f} s, {n} tokens, {1000 * seconds / max(n, 1):.0f} "
                        f"ms/token, load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
            finally:
                server.stop()
    for key, values in per_token.items():
        print(f"median {key}: {statistics.median(values):.0f} ms/token over {len(values)}")


if __name__ == "__main__":
    main()
