"""Benchmark of golden-set loading (issue 3): a 100,000-case JSONL file, validated.

Writes a synthetic golden set (string, dict and chat-message inputs; tags, groups,
contexts on some cases), then times :func:`evalkit.data._golden.load_golden_set` (read, JSON
parse, pydantic validation, duplicate-id check, fingerprint). Median of ``--repeats``.
Run: ``python -m bench.bench_golden [--cases 100000] [--repeats 5]``. Target: seconds.
Nothing is asserted; CPU time and load are printed beside wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from evalkit.data._golden import load_golden_set


def write_set(path: Path, n: int) -> None:
    """Writes ``n`` varied cases to ``path``."""
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            if i % 3 == 0:
                case = {"id": f"c{i}", "input": f"Question number {i}?", "expected": f"a{i}"}
            elif i % 3 == 1:
                case = {
                    "id": f"c{i}",
                    "input": {"question": f"q{i}", "context": "x" * 40},
                    "expected": [f"a{i}", f"b{i}"],
                    "tags": ["t1", "critical"] if i % 50 == 1 else ["t1"],
                    "group": f"g{i % 100}",
                }
            else:
                case = {
                    "id": f"c{i}",
                    "input": [{"role": "user", "content": f"message {i}"}],
                    "expected": {"name": "Ann", "n": i},
                    "contexts": [f"passage {i}", "another passage"],
                    "metadata": {"source": "bench"},
                }
            handle.write(json.dumps(case) + "\n")


def main() -> None:
    """Prints load time (median), CPU time and throughput."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "golden.jsonl"
        write_set(path, args.cases)
        size_mb = path.stat().st_size / 1e6
        walls, cpus = [], []
        for _ in range(args.repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            golden = load_golden_set(path)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            assert len(golden) == args.cases
    wall = statistics.median(walls)
    print(
        f"golden set: {args.cases:,} cases, {size_mb:.1f} MB, load average {os.getloadavg()[0]:.1f}"
    )
    runs = ", ".join(f"{w:.2f}" for w in walls)
    cpu = statistics.median(cpus)
    print(f"load + validate + fingerprint: median {wall:.2f} s wall, {cpu:.2f} s CPU")
    print(f"{args.cases / wall:,.0f} cases/s; runs: {runs}")


if __name__ == "__main__":
    main()
