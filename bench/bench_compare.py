"""Benchmark of the comparison (issue 6): 100,000 cases x 10 metrics, 2,000 bootstrap resamples.

Two numbers, median of 3 repeats each:

* ``stats``: :func:`evalkit.comparison._stats.paired_columns` on two (100,000 x 10) arrays: the
  shared bootstrap, Wilcoxon or McNemar per metric, MDE (the statistical kernel);
* ``compare_runs``: the whole :func:`evalkit.comparison._compare.compare_runs` from two Runs with
  1,000,000 score rows each: sample averaging, pairing, the kernel, BH, verdicts, 100,000
  CaseDiffs and the gate;
* ``to_dict + json``: what ``evalkit compare --json`` adds: ``Comparison.to_dict()`` and
  ``json.dumps`` of the result on one line, as when piped (printed with its size).

Half the metrics are binary, half continuous; the candidate has a small planted drop on
two of them. Run: ``python -m bench.bench_compare [--cases 100000] [--metrics 10]
[--resamples 2000] [--repeats 3] [--tags 0]``. Target: under 5 s. Nothing is asserted.
CPU time is printed next to wall time: on a shared machine (load average shown) wall
time overstates what the code costs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent

from evalkit.comparison import _stats as stats  # noqa: E402
from evalkit.comparison._compare import compare_runs  # noqa: E402
from evalkit.config._suite import GateConfig  # noqa: E402
from evalkit.data._records import SCORE_COLUMNS, MetricInfo, Run, RunManifest, outputs_frame  # noqa: E402


def _arrays(cases: int, metrics: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    kinds = ["binary" if j % 2 == 0 else "continuous" for j in range(metrics)]
    base = np.empty((cases, metrics))
    cand = np.empty((cases, metrics))
    for j, kind in enumerate(kinds):
        drop = 0.01 if j < 2 else 0.0
        if kind == "binary":
            rate = rng.beta(4, 2, cases)
            base[:, j] = rng.random(cases) < rate
            cand[:, j] = rng.random(cases) < rate - drop
        else:
            level = rng.beta(3, 2, cases)
            base[:, j] = np.clip(level + rng.normal(0, 0.05, cases), 0, 1)
            cand[:, j] = np.clip(level - drop + rng.normal(0, 0.05, cases), 0, 1)
    return base, cand, kinds


def _run(run_id: str, values: np.ndarray, kinds: list[str], tags: int) -> Run:
    cases, metrics = values.shape
    case_ids = np.array([f"case-{i:06d}" for i in range(cases)], dtype=object)
    names = [f"metric_{j}" for j in range(metrics)]
    scores = pd.DataFrame(
        {
            "case_id": np.repeat(case_ids, metrics),
            "sample": 0,
            "metric": np.tile(np.array(names, dtype=object), cases),
            "value": values.reshape(-1),
            "kind": np.tile(np.array(kinds, dtype=object), cases),
            "error": None,
            "rationale": None,
            "raw": None,
        },
        columns=SCORE_COLUMNS,
    )
    manifest = RunManifest(
        run_id=run_id,
        suite="bench",
        status="complete",
        golden_path="bench.jsonl",
        golden_fingerprint="sha256:bench",
        n_cases=cases,
        sut_fingerprint="sha256:sut",
        metrics=[
            MetricInfo(name=n, scorer="bench", kind=k)  # type: ignore[arg-type]
            for n, k in zip(names, kinds, strict=True)
        ],
        started_at="2025-01-01T00:00:00Z",
        evalkit_version="0.1.0",
    )
    tag_map = {str(c): [f"tag{i % tags}"] for i, c in enumerate(case_ids)} if tags else {}
    return Run(manifest, outputs_frame([]), scores, tags=tag_map)


def _median_time(label: str, repeats: int, call: object) -> float:
    times = []
    cpu = []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    median = statistics.median(times)
    shown = ", ".join(f"{t:.2f}" for t in times)
    print(
        f"{label:<14} median {median:6.2f} s wall, {statistics.median(cpu):6.2f} s CPU "
        f"(wall runs: {shown}; load average {os.getloadavg()[0]:.1f})"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tags", type=int, default=0, help="tag slices (adds columns)")
    args = parser.parse_args()

    base, cand, kinds = _arrays(args.cases, args.metrics, seed=1)
    print(
        f"{args.cases:,} cases x {args.metrics} metrics, {args.resamples:,} bootstrap "
        f"resamples, {args.tags} tag slice(s); median of {args.repeats}"
    )
    _median_time(
        "stats",
        args.repeats,
        lambda: stats.paired_columns(
            base,
            cand,
            kinds=kinds,
            n_boot=args.resamples,
            rng=0,  # type: ignore[arg-type]
        ),
    )
    baseline = _run("base", base, kinds, args.tags)
    candidate = _run("cand", cand, kinds, args.tags)
    gate = GateConfig(bootstrap=args.resamples)
    result = None

    def compare() -> None:
        nonlocal result
        result = compare_runs(baseline, candidate, gate=gate)

    _median_time("compare_runs", args.repeats, compare)
    assert result is not None
    comparison = result
    size = 0

    def as_json() -> None:
        nonlocal size
        size = len(json.dumps(comparison.to_dict(), allow_nan=False))

    _median_time("to_dict + json", args.repeats, as_json)
    print(f"  --json output: {size / 1e6:.1f} MB")
    for row in result.overall():
        print(
            f"  {row.metric:<10} {row.kind:<10} delta {row.delta:+.4f} "
            f"[{row.ci_low:+.4f}, {row.ci_high:+.4f}] p={row.p_value:.2g} "
            f"MDE {row.mde:.4f} {row.verdict}"
        )


if __name__ == "__main__":
    main()
