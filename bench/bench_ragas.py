"""ragas and deepeval metrics on the embedded Gemma over the support_rag golden set (issue 20).

Each metric runs as its own ``evalkit run SUITE`` (a new process, the command a user types,
on ``golden_sets/support_rag.jsonl`` with the repository's prompt and SUT parameters), in
one work folder whose cache holds the SUT's outputs after the first run, so every metric's
run pays only its judge calls (plus start-up). A first run with ``token_f1`` alone fills
the SUT cache.

Printed per metric: cases, unscored cases (and the first reasons), wall seconds of the
run, seconds per case of its scoring stage (the stage's own time, from the run's
progress line: judge calls only, no start-up), and the judge's call count and tokens
(prompt and completion) from the run manifest. One JSON line per
metric goes to ``<work>/results.jsonl`` as it finishes, so a long measurement that is
stopped keeps what it finished.

Run: ``python -m bench.bench_ragas --work DIR [--every K --offset I] [--limit N]
[--metric NAME]...`` (``--every 5`` takes every fifth case: a sample spread over the set)
(default: all five metrics in the order below). Nothing is asserted. Run it at
``nice -n 5`` on a shared machine, and quote the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
METRICS: dict[str, str] = {
    "faithfulness": '{ name = "faithfulness", scorer = "faithfulness" }',
    "answer_relevancy": '{ name = "answer_relevancy", scorer = "answer_relevancy" }',
    "context_precision": '{ name = "context_precision", scorer = "context_precision" }',
    "context_recall": '{ name = "context_recall", scorer = "context_recall" }',
    "geval": (
        '{ name = "geval", scorer = "geval", params = { evaluation_steps = ["Find the facts '
        'in the expected output.", "Check that the actual output states the same facts."], '
        'evaluation_params = ["input", "actual_output", "expected_output"] } }'
    ),
    "deepeval_answer_relevancy": (
        '{ name = "deepeval_answer_relevancy", scorer = "deepeval_answer_relevancy" }'
    ),
}


def _golden(work: Path, limit: int | None, every: int, offset: int) -> Path:
    source = ROOT / "golden_sets" / "support_rag.jsonl"
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    lines = lines[offset::every][:limit]
    target = work / "support_rag.jsonl"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def _config(work: Path, golden: Path, together: Sequence[str]) -> None:
    prompt = ROOT / "golden_sets" / "prompts" / "support_rag.jinja"
    sut = (
        f'model = "embedded"\nmode = "text"\nprompt = "{prompt}"\n'
        'params = { temperature = 0.0, max_tokens = 48, stop = ["\\n"] }\n'
    )
    parts = ['store = "runs"\ncache_dir = "cache"\n']
    suites = {
        "overhead": '{ name = "f1", scorer = "token_f1" }',
        **METRICS,
        "together": ", ".join(METRICS[m] for m in together),
    }
    for name, metric in suites.items():
        parts.append(
            f'[suites.{name}]\ngolden = "{golden}"\nmetrics = [{metric}]\n'
            f"concurrency = 4\n[suites.{name}.gate]\nmax_unscored_share = 1.0\n"
            f"[suites.{name}.sut]\n{sut}"
        )
    (work / "evalkit.toml").write_text("\n".join(parts), encoding="utf-8")


def _run(work: Path, suite: str) -> tuple[float, dict[str, object]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    started = time.perf_counter()
    with open(work / f"{suite}.log", "w", encoding="utf-8") as log:
        done = subprocess.run(
            [sys.executable, "-m", "evalkit", "run", suite, "--json"],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            check=False,
        )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"evalkit run {suite} exited {done.returncode}; see {work}/{suite}.log")
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def _unscored(work: Path, run_dir: str, metric: str) -> tuple[int, int, list[str]]:
    from evalkit.store._runs import RunStore

    run = RunStore(work / "runs").load_run(run_dir)
    rows = run.scores[run.scores["metric"] == metric]
    missing = rows[rows["value"].isna()]
    reasons = [str(r)[:160] for r in missing["error"].head(5)]
    return len(rows), len(missing), reasons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="first N cases only")
    parser.add_argument("--every", type=int, default=1, help="every Nth case (a spread sample)")
    parser.add_argument("--offset", type=int, default=0, help="first case of the sample")
    parser.add_argument("--metric", action="append", choices=sorted(METRICS))
    parser.add_argument(
        "--together",
        action="store_true",
        help="all metrics in one run, in the order given; per-metric seconds and unscored "
        "counts from each stage's progress line (kept even if the run is stopped)",
    )
    args = parser.parse_args()
    work: Path = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    metrics = args.metric or list(METRICS)[:5]
    _config(work, _golden(work, args.limit, args.every, args.offset), metrics)
    results = work / "results.jsonl"
    overhead, manifest = _run(work, "overhead")
    print(f"overhead run (SUT + token_f1): {overhead:.1f} s, load {os.getloadavg()[0]:.1f}")
    if args.together:
        _together(work, metrics, overhead, args)
        return
    for metric in metrics:
        load_before = os.getloadavg()[0]
        wall, manifest = _run(work, metric)
        cases, unscored, reasons = _unscored(work, str(manifest["run_dir"]), metric)
        stage = _stage_seconds(work / f"{metric}.log", metric)
        totals = manifest.get("totals") or {}
        extra = manifest.get("extra") or {}
        row = {
            "metric": metric,
            "sample": f"every {args.every} from {args.offset}, limit {args.limit}",
            "cases": cases,
            "unscored": unscored,
            "wall_s": round(wall, 1),
            "stage_s": stage,
            "s_per_case": round(stage / max(cases, 1), 2),
            "load_before": round(load_before, 2),
            "load_after": round(os.getloadavg()[0], 2),
            "totals": totals,
            "extra": extra,
            "reasons": reasons,
            "time": time.strftime("%H:%M:%S", time.gmtime()),
        }
        with results.open("a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")
        print(
            f"{metric}: {cases - unscored}/{cases} scored ({unscored} unscored), "
            f"{wall:.0f} s wall, {row['s_per_case']} s/case, load {load_before:.1f}",
            flush=True,
        )
        for reason in reasons:
            print(f"    {reason}")


def _stage_seconds(log: Path, metric: str) -> float:
    """Returns the seconds the run's scoring stage for ``metric`` took (its "done" line)."""
    for line in log.read_text(encoding="utf-8").splitlines():
        match = _STAGE_DONE.match(line)
        if match and match["metric"] == metric:
            return float(match["seconds"])
    raise SystemExit(f"no finished {metric} stage in {log}")


_STAGE_DONE = re.compile(
    r"^\[[a-z_]+: (?P<metric>[a-z_]+)\] done (?P<n>\d+)/\d+ .*errors (?P<errors>\d+)"
    r".* in (?P<seconds>[0-9.]+)s"
)


def _together(work: Path, metrics: Sequence[str], overhead: float, args: Any) -> None:
    """Runs every metric in one ``evalkit run``; reads each stage's line as it finishes."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    log_path = work / "together.log"
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "evalkit", "run", "together", "--json"],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        seen: set[str] = set()
        while True:
            finished = process.poll() is not None
            for line in log_path.read_text(encoding="utf-8").splitlines():
                match = _STAGE_DONE.match(line)
                if not match or match["metric"] in seen:
                    continue
                seen.add(match["metric"])
                n, errors = int(match["n"]), int(match["errors"])
                row = {
                    "metric": match["metric"],
                    "sample": f"every {args.every} from {args.offset}, limit {args.limit}",
                    "cases": n,
                    "unscored": errors,
                    "stage_s": float(match["seconds"]),
                    "s_per_case": round(float(match["seconds"]) / max(n, 1), 1),
                    "load": round(os.getloadavg()[0], 2),
                    "time": time.strftime("%H:%M:%S", time.gmtime()),
                }
                with (work / "results.jsonl").open("a", encoding="utf-8") as out:
                    out.write(json.dumps(row) + "\n")
                print(
                    f"{row['metric']}: {n - errors}/{n} scored ({errors} unscored), "
                    f"{row['stage_s']:.0f} s, {row['s_per_case']} s/case, load {row['load']}",
                    flush=True,
                )
            if finished:
                break
            time.sleep(5)
    print(f"together: {time.perf_counter() - started:.0f} s wall (overhead {overhead:.0f} s)")
    if process.stdout is not None:
        manifest = json.loads(process.stdout.read().strip().splitlines()[-1])
        for metric in metrics:
            cases, unscored, reasons = _unscored(work, str(manifest["run_dir"]), metric)
            print(f"  {metric}: {unscored}/{cases} unscored", *reasons, sep="\n    ")


if __name__ == "__main__":
    main()
