"""Benchmark: ``evalkit compare`` of score files, 100,000 cases x 10 metrics (issue 15).

Writes a baseline and a candidate score file in long format (``case_id, metric, value``;
1,000,000 rows each, values to 6 significant digits; half the metrics binary, a small
planted drop on two), as CSV and as JSONL, then times, median of ``--repeats``:

* ``evalkit compare base cand`` as a subprocess, end to end (start-up, reading and
  validating both files, the comparison, the printed table): the number the target is
  about (under 8 s on a 2-core machine);
* ``load_score_file`` of one file, in process;
* ``compare_runs`` on the two loaded runs, in process (the statistics alone), so the
  ratio end-to-end / statistics can be read on a shared machine.

Wall and CPU time are printed (CPU: this process's threads and its finished children);
on a busy machine the CPU time is the steadier number.

Run: ``python -m bench.bench_score_files [--cases 100000] [--metrics 10] [--repeats 3]
[--format csv jsonl]``. Nothing is asserted. Load average is printed with each line.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _values(cases: int, metrics: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = np.empty((cases, metrics))
    cand = np.empty((cases, metrics))
    for j in range(metrics):
        drop = 0.01 if j < 2 else 0.0
        if j % 2 == 0:
            rate = rng.beta(4, 2, cases)
            base[:, j] = rng.random(cases) < rate
            cand[:, j] = rng.random(cases) < rate - drop
        else:
            level = rng.beta(3, 2, cases)
            base[:, j] = np.clip(level + rng.normal(0, 0.05, cases), 0, 1)
            cand[:, j] = np.clip(level - drop + rng.normal(0, 0.05, cases), 0, 1)
    return base, cand


def _write(path: Path, values: np.ndarray) -> None:
    cases, metrics = values.shape
    ids = [f"case-{i:06d}" for i in range(cases)]
    names = [f"metric_{j}" for j in range(metrics)]
    cells = [[f"{v:.6g}" for v in row] for row in values.tolist()]
    with path.open("w", encoding="utf-8", newline="") as handle:
        if path.suffix == ".csv":
            handle.write("case_id,metric,value\n")
            for case, row in zip(ids, cells, strict=True):
                handle.writelines(f"{case},{m},{v}\n" for m, v in zip(names, row, strict=True))
        else:
            for case, row in zip(ids, cells, strict=True):
                handle.writelines(
                    f'{{"case_id": "{case}", "metric": "{m}", "value": {v}}}\n'
                    for m, v in zip(names, row, strict=True)
                )


def _cpu() -> float:
    """Returns CPU seconds used so far by this process (all threads) and its children."""
    own = time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own + children.ru_utime + children.ru_stime


def _median(label: str, repeats: int, call: Callable[[], object]) -> float:
    times, cpus = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), _cpu()
        call()
        times.append(time.perf_counter() - started)
        cpus.append(_cpu() - started_cpu)
    median = statistics.median(times)
    shown = ", ".join(f"{t:.2f}" for t in times)
    print(
        f"  {label:<30} median {median:6.2f} s wall, {statistics.median(cpus):6.2f} s CPU "
        f"(wall runs: {shown}; load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    return median


def main() -> None:
    """Writes the files, then prints the three medians per format."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--format", nargs="+", default=["csv", "jsonl"], choices=["csv", "jsonl"])
    args = parser.parse_args()

    from evalkit.comparison._compare import compare_runs
    from evalkit.data._scorefile import load_score_file

    base_values, cand_values = _values(args.cases, args.metrics, seed=1)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for suffix in args.format:
            base, cand = folder / f"base.{suffix}", folder / f"cand.{suffix}"
            _write(base, base_values)
            _write(cand, cand_values)
            size = base.stat().st_size / 1e6
            print(
                f"{suffix.upper()}: {args.cases:,} cases x {args.metrics} metrics "
                f"({args.cases * args.metrics:,} rows, {size:.1f} MB a file); "
                f"median of {args.repeats}"
            )
            command = [sys.executable, "-m", "evalkit", "compare", str(base), str(cand)]

            def cli(command: list[str] = command) -> None:
                done = subprocess.run(command, capture_output=True, text=True, cwd=folder)
                if done.returncode not in (0, 1):
                    raise SystemExit(f"evalkit compare failed: {done.stderr[-2000:]}")

            _median("evalkit compare (subprocess)", args.repeats, cli)
            _median("load_score_file (one file)", args.repeats, partial(load_score_file, base))
            runs = (load_score_file(base), load_score_file(cand))
            _median("compare_runs (in memory)", args.repeats, partial(compare_runs, *runs))


if __name__ == "__main__":
    main()
