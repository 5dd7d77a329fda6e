"""Combine shard runs (``--shard I/N`` in parallel CI jobs) into one run.

The shards must be runs of the same suite, golden set (fingerprint), SUT (fingerprint),
sample count and metrics, on disjoint cases. Outputs, scores, groups and tags are
concatenated; call counts, tokens and cost are summed and the latency percentiles are
recomputed from the merged outputs (a median of medians is not a median). Comparing the
merged run with a baseline gives the same gate and report as one unsharded run.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from evalkit.data._records import Output, Run, RunManifest
from evalkit.errors import UserInputError

_SAME = ("suite", "golden_fingerprint", "sut_fingerprint", "samples")


def _outputs(frame: pd.DataFrame) -> list[Output]:
    """Returns the rows of an outputs table as Output records (NaN cells as None)."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [Output(**{str(k): v for k, v in record.items()}) for record in records]


def _check(runs: Sequence[Run]) -> list[str]:
    """Returns warnings; raises UserInputError when the runs cannot be merged."""
    if len(runs) < 2:
        raise UserInputError("evalkit merge needs at least two runs (the shard runs)")
    first = runs[0].manifest
    problems = []
    for run in runs[1:]:
        manifest = run.manifest
        for key in _SAME:
            if getattr(manifest, key) != getattr(first, key):
                problems.append(
                    f"run {manifest.run_id} has {key} {getattr(manifest, key)!r}, but run "
                    f"{first.run_id} has {getattr(first, key)!r}"
                )
        if [m.name for m in manifest.metrics] != [m.name for m in first.metrics]:
            problems.append(f"run {manifest.run_id} has other metrics than run {first.run_id}")
    seen: dict[str, str] = {}
    for run in runs:
        for case in sorted(set(run.outputs["case_id"].astype(str))):
            if case in seen:
                problems.append(
                    f"case {case} is in both run {seen[case]} and run {run.manifest.run_id}; "
                    "shard runs must have disjoint cases"
                )
            seen.setdefault(case, run.manifest.run_id)
    if problems:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise UserInputError(f"cannot merge: {shown}{more}")
    warnings = []
    shards = [run.manifest.shard for run in runs]
    counts = {shard.split("/")[1] for shard in shards if shard}
    if None in shards or len(counts) != 1:
        warnings.append(f"runs are not shards of one split: {shards}")
    else:
        count = int(counts.pop())
        present = {int(shard.split("/")[0]) for shard in shards if shard}
        missing = sorted(set(range(1, count + 1)) - present)
        if missing:
            warnings.append(f"shards {missing} of {count} are missing: the merged run is partial")
    return warnings


def merge_runs(runs: Sequence[Run], *, run_id: str) -> Run:
    """Returns one run made of the shard ``runs`` (module docstring); raises UserInputError."""
    from evalkit.execution._runner import compute_totals

    warnings = _check(runs)
    manifests = [run.manifest for run in runs]
    outputs = pd.concat([run.outputs for run in runs], ignore_index=True)
    outputs = outputs.sort_values(["case_id", "sample"], kind="mergesort", ignore_index=True)
    scores = pd.concat([run.scores for run in runs], ignore_index=True)
    scores = scores.sort_values(
        ["case_id", "metric", "sample"], kind="mergesort", ignore_index=True
    )
    scores["value"] = scores["value"].astype("float64")
    walls = [m.totals.wall_s for m in manifests if m.totals.wall_s is not None]
    totals = compute_totals(_outputs(outputs), wall_s=max(walls) if walls else None)
    first = manifests[0]
    shas = {m.git_sha for m in manifests}
    if len(shas) > 1:
        warnings.append(f"shards ran at different git commits: {sorted(map(str, shas))}")
    complete = all(m.status == "complete" for m in manifests) and not any(
        "missing" in w for w in warnings
    )
    manifest = RunManifest(
        run_id=run_id,
        suite=first.suite,
        status="complete" if complete else "partial",
        golden_path=first.golden_path,
        golden_fingerprint=first.golden_fingerprint,
        n_cases=sum(m.n_cases for m in manifests),
        samples=first.samples,
        sut=first.sut,
        sut_fingerprint=first.sut_fingerprint,
        judges={k: v for m in manifests for k, v in m.judges.items()},
        metrics=first.metrics,
        git_sha=first.git_sha if len(shas) == 1 else None,
        started_at=min(m.started_at for m in manifests),
        finished_at=max((m.finished_at or m.started_at) for m in manifests),
        evalkit_version=first.evalkit_version,
        totals=totals,
        shard=None,
        extra={
            "merged_from": [m.run_id for m in manifests],
            "shards": [m.shard for m in manifests],
            "warnings": warnings,
        },
    )
    groups = {k: v for run in runs for k, v in run.groups.items()}
    tags = {k: v for run in runs for k, v in run.tags.items()}
    return Run(manifest, outputs, scores, groups=groups, tags=tags)
