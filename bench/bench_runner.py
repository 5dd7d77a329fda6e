"""Benchmark of the runner (issue 4): evalkit's generate step vs a bare LiteLLM loop.

Setup: the fake OpenAI server (tests/support/fakeserver.py) in its own process with 200 ms latency,
concurrency 32, 1,000 cases. Ideal wall time: 1000 x 0.2 s / 32 = 6.25 s.

Measured side by side in one process, alternating, median of 3 repeats each:

* bare: ``litellm.acompletion`` in an asyncio loop with a semaphore of 32;
* evalkit: :func:`evalkit.execution._runner.generate_outputs` (prompt building, cache lookups and
  writes to a fresh cache, journal, accounting) through the same LiteLLM calls.

Then a fully cached re-run of ``evalkit run`` as a new process, against the start-up time
of ``python -m evalkit --help``.

Run: ``python -m bench.bench_runner [--cases 1000] [--repeats 3]``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

from tests.support.fakeserver import FakeOpenAIServer  # noqa: E402

LATENCY = 0.2
CONCURRENCY = 32


def _golden_file(folder: Path, cases: int) -> Path:
    path = folder / "bench.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": f"c{i:05d}", "input": f"benchmark question number {i}"}) + "\n"
            for i in range(cases)
        )
    )
    return path


async def _bare(url: str, cases: int) -> float:
    from evalkit.models._llm import _import_litellm

    litellm = _import_litellm()  # with evalkit's offline default, as a run does

    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> Any:
        async with semaphore:
            return await litellm.acompletion(
                model="openai/x",
                messages=[{"role": "user", "content": f"benchmark question number {i}"}],
                api_base=url,
                api_key="no-key",
                num_retries=0,
                max_retries=0,
                timeout=60,
            )

    started = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(cases)))
    elapsed = time.perf_counter() - started
    assert all(r.choices[0].message.content for r in results)
    return elapsed


async def _evalkit(url: str, golden_path: Path, folder: Path) -> float:
    from evalkit.config._suite import ProjectConfig, SuiteConfig, SUTConfig
    from evalkit.data._golden import load_golden_set
    from evalkit.execution._runner import generate_outputs
    from evalkit.models._cache import Cache
    from evalkit.models._llm import ModelClient

    golden = load_golden_set(golden_path)
    suite = SuiteConfig(
        name="bench", golden=str(golden_path), sut=SUTConfig(model="openai/x", api_base=url)
    )
    cache = Cache(folder / "cache")
    client = ModelClient(cache=cache, concurrency=CONCURRENCY)
    started = time.perf_counter()
    outputs = await generate_outputs(
        suite,
        golden,
        project=ProjectConfig(root=str(folder)),
        client=client,
        journal_path=folder / "journal.jsonl",
        samples=1,
        concurrency=CONCURRENCY,
        progress=False,
    )
    elapsed = time.perf_counter() - started
    await client.aclose()
    cache.close()
    assert all(o.ok for o in outputs), [o.error for o in outputs if not o.ok][:3]
    return elapsed


def _timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ideal = args.cases * LATENCY / CONCURRENCY
    with FakeOpenAIServer(latency=LATENCY) as server, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        golden = _golden_file(folder, args.cases)
        asyncio.run(_bare(server.url, 40))  # warm-up: imports, connection pool
        bare_times: list[float] = []
        evalkit_times: list[float] = []
        for repeat in range(args.repeats):
            bare_times.append(asyncio.run(_bare(server.url, args.cases)))
            run_folder = folder / f"run{repeat}"
            run_folder.mkdir()
            evalkit_times.append(asyncio.run(_evalkit(server.url, golden, run_folder)))
            print(
                f"repeat {repeat + 1}: bare {bare_times[-1]:.2f}s, "
                f"evalkit {evalkit_times[-1]:.2f}s",
                flush=True,
            )
        bare = statistics.median(bare_times)
        ours = statistics.median(evalkit_times)

        # Fully cached re-run as a fresh process vs bare process start-up.
        command = [
            sys.executable, "-m", "evalkit", "run", "--golden", str(golden),
            "--model", "openai/x", "--api-base", server.url, "--store", str(folder / "runs"),
            "--concurrency", str(CONCURRENCY), "--no-progress",
        ]  # fmt: skip
        cwd = folder
        _timed(command, cwd)  # fills the cache (.evalkit/cache under cwd)
        requests_before = server.stats()["requests"]
        cached = statistics.median(_timed(command, cwd) for _ in range(3))
        requests_cached = server.stats()["requests"] - requests_before
        startup = statistics.median(
            _timed([sys.executable, "-m", "evalkit", "--help"], cwd) for _ in range(3)
        )

    print()
    print(
        f"runner benchmark: {args.cases} cases, latency {LATENCY * 1000:.0f} ms, "
        f"concurrency {CONCURRENCY}, median of {args.repeats}"
    )
    print(f"{'':32}{'wall s':>9}{'x ideal':>9}{'calls/s':>9}")
    print(f"{'ideal (n x latency / conc.)':32}{ideal:9.2f}{1.0:9.2f}{args.cases / ideal:9.0f}")
    rows = [("bare litellm.acompletion loop", bare), ("evalkit generate_outputs", ours)]
    for label, wall in rows:
        print(f"{label:32}{wall:9.2f}{wall / ideal:9.2f}{args.cases / wall:9.0f}")
    print(
        f"evalkit / bare: {ours / bare:.3f}x   harness overhead per case: "
        f"{(ours - bare) / args.cases * 1e6:.0f} us"
    )
    print(
        f"cached re-run (new process): {cached:.2f}s, start-up (evalkit --help): "
        f"{startup:.2f}s, added: {cached - startup:.2f}s, calls made: {requests_cached}"
    )


if __name__ == "__main__":
    main()
