"""Benchmark: evalkit's harness cost per call of a Python-function SUT (issue 15).

A golden set of N cases runs through :func:`evalkit.execution._runner.generate_outputs` with a
callable SUT that returns at once (sync, then async), at concurrency 16, with a fresh
call cache and journal: everything a real run does per call (cache lookup and write,
retries wrapper, journal line, accounting), and nothing of the function's own. The
function costs nothing, so the CPU time per call *is* the harness cost. Target: under
1 ms a call.

Printed per kind: wall time, CPU time per call (process time: all threads of this
process) and the latency p95 the run recorded; medians of ``--repeats`` runs, with the
load average (the machine is shared: CPU time is the steadier number).

Run: ``python -m bench.bench_callable [--calls 300] [--repeats 5]``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CONCURRENCY = 16
SUT_MODULE = """
def answer(case_input):
    return "ok:" + case_input

async def answer_async(case_input):
    return {"output": "ok:" + case_input, "contexts": ["passage"]}
"""


def _golden(folder: Path, calls: int) -> Path:
    path = folder / "bench.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": f"c{i:05d}", "input": f"question {i}"}) + "\n" for i in range(calls)
        )
    )
    return path


async def _run(folder: Path, golden_path: Path, function: str) -> tuple[float, float, float]:
    from evalkit.config._suite import ProjectConfig, SuiteConfig, SUTConfig
    from evalkit.data._golden import load_golden_set
    from evalkit.execution._runner import compute_totals, generate_outputs
    from evalkit.models._cache import Cache
    from evalkit.models._llm import ModelClient

    golden = load_golden_set(golden_path)
    suite = SuiteConfig(
        name="bench", golden=str(golden_path), sut=SUTConfig(callable=f"bench_sut:{function}")
    )
    cache = Cache(folder / "cache")
    client = ModelClient(cache=cache, concurrency=CONCURRENCY)
    started, started_cpu = time.perf_counter(), time.process_time()
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
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    await client.aclose()
    cache.close()
    assert all(o.ok and o.text and o.text.startswith("ok:") for o in outputs), outputs[:3]
    assert not any(o.cached for o in outputs)
    p95 = compute_totals(outputs).latency_p95_s or 0.0
    return wall, cpu, p95


def main() -> None:
    """Prints wall time, CPU per call and p95 latency for a sync and an async callable."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "bench_sut.py").write_text(SUT_MODULE)
        sys.path.insert(0, str(folder))
        golden = _golden(folder, args.calls)
        asyncio.run(_run(folder / "warm", golden, "answer"))  # imports, first-call set-up
        print(
            f"callable SUT, {args.calls} calls at concurrency {CONCURRENCY}, fresh cache and "
            f"journal each run; median of {args.repeats}"
        )
        for function in ("answer", "answer_async"):
            walls, cpus, p95s = [], [], []
            for repeat in range(args.repeats):
                wall, cpu, p95 = asyncio.run(_run(folder / f"{function}{repeat}", golden, function))
                walls.append(wall)
                cpus.append(cpu)
                p95s.append(p95)
            kind = "sync " if function == "answer" else "async"
            print(
                f"  {kind} function: wall {statistics.median(walls):6.3f} s, "
                f"CPU {statistics.median(cpus) / args.calls * 1e3:6.3f} ms/call, "
                f"wall {statistics.median(walls) / args.calls * 1e3:6.3f} ms/call, "
                f"latency p95 {statistics.median(p95s) * 1e3:7.2f} ms "
                f"(load average {os.getloadavg()[0]:.1f})"
            )


if __name__ == "__main__":
    main()
