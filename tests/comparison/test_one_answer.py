"""The same paired data gives the same interval and decision through every path.

Paths: the comparison (``compare_runs``, what ``evalkit compare`` and the gate show), a
nightly run against the pinned baseline (``NightlyJob``), and the library's
non-inferiority test (``stats.non_inferiority_test``). The nightly per-metric interval
is the comparison's cluster-robust t interval (with the G/(G-1) factor).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from evalkit.comparison import _stats as stats
from evalkit.comparison._compare import compare_runs
from evalkit.config._suite import GateConfig, ProjectConfig, SuiteConfig
from evalkit.data._records import (
    MetricInfo,
    Output,
    Run,
    RunManifest,
    ScoreRow,
    outputs_frame,
    scores_frame,
)
from evalkit.nightly._night import NightlyJob, NightlyOptions
from evalkit.store._baselines import write_baseline

N_CASES, GROUP_SIZE = 48, 4


def _run(run_id: str, values: np.ndarray, groups: dict[str, str]) -> Run:
    case_ids = [f"c{i:02d}" for i in range(len(values))]
    manifest = RunManifest(
        run_id=run_id,
        suite="qa",
        status="complete",
        golden_path="qa.jsonl",
        golden_fingerprint="sha256:0000000000000000",
        n_cases=len(values),
        sut_fingerprint="sha256:1111111111111111",
        metrics=[MetricInfo(name="f1", scorer="token_f1", kind="continuous")],
        started_at="2026-03-01T02:00:00+00:00",
        finished_at="2026-03-01T02:01:00+00:00",
        evalkit_version="0.1.0",
    )
    outputs = [Output(case_id=case, sample=0, text="answer") for case in case_ids]
    scores = [
        ScoreRow(case_id=case, sample=0, metric="f1", value=float(v), kind="continuous")
        for case, v in zip(case_ids, values, strict=True)
    ]
    return Run(
        manifest=manifest,
        outputs=outputs_frame(outputs),
        scores=scores_frame(scores),
        location=f"memory/{run_id}",
        groups=groups,
        tags={case: [] for case in case_ids},
    )


@pytest.fixture(scope="module")
def paired() -> tuple[Run, Run, np.ndarray, list[str]]:
    """Returns (baseline, candidate, their differences, groups): clustered, a small drop."""
    rng = np.random.default_rng(2024)
    labels = [f"g{i // GROUP_SIZE}" for i in range(N_CASES)]
    base = np.round(rng.uniform(0.3, 0.9, N_CASES), 2)
    shift = np.repeat(rng.normal(-0.02, 0.03, N_CASES // GROUP_SIZE), GROUP_SIZE)
    cand = np.round(np.clip(base + shift + rng.normal(0, 0.02, N_CASES), 0, 1), 2)
    groups = {f"c{i:02d}": label for i, label in enumerate(labels)}
    return _run("base", base, groups), _run("cand", cand, groups), cand - base, labels


def _nightly(tmp_path: Path, baseline: Run, candidate: Run, gate: GateConfig) -> object:
    write_baseline(baseline, tmp_path / "qa.baseline.jsonl")
    suite = SuiteConfig(name="qa", golden="qa.jsonl", gate=gate)
    project = ProjectConfig(source="(test)", root=str(tmp_path), suites={"qa": suite})
    job = NightlyJob(
        project,
        store=str(tmp_path / "runs"),
        report_dir=tmp_path / "reports",
        now=lambda: datetime(2026, 3, 1, 2, 0, tzinfo=UTC),
        options=NightlyOptions(render_reports=False),
        runner=lambda *args, **kwargs: candidate,
    )
    return job.night("qa").record


# At margin 0.025 the former library test (a one-sided t bound, -0.0246) said
# non-inferior while the gate's bootstrap bound (-0.0256) says not.
@pytest.mark.parametrize(("margin", "shown"), [(0.02, False), (0.025, False), (0.1, True)])
def test_comparison_nightly_and_library_give_one_interval_and_decision(
    tmp_path: Path, paired: tuple[Run, Run, np.ndarray, list[str]], margin: float, shown: bool
) -> None:
    baseline, candidate, differences, groups = paired
    gate = GateConfig(policy="non-inferiority", margin=margin)

    row = compare_runs(baseline, candidate, gate=gate).overall()[0]
    assert row.n_clusters == N_CASES // GROUP_SIZE
    assert row.non_inferior is shown

    library = stats.non_inferiority_test(
        differences,
        margin=margin,
        alpha=gate.alpha,
        groups=groups,
        n_resamples=gate.bootstrap,
        rng=gate.seed,
    )
    assert library.lower_bound == row.ci_low
    assert library.non_inferior is row.non_inferior
    assert library.estimate == pytest.approx(row.delta, abs=1e-12)

    record = _nightly(tmp_path, baseline, candidate, gate)
    night_row = record.vs_baseline.rows[0]  # type: ignore[attr-defined]
    assert (night_row.ci_low, night_row.ci_high) == (row.ci_low, row.ci_high)
    alerted = any("not shown non-inferior" in a for a in record.alerts)  # type: ignore[attr-defined]
    assert alerted is not shown


def test_library_non_inferiority_follows_the_metric_direction(
    paired: tuple[Run, Run, np.ndarray, list[str]],
) -> None:
    _, _, differences, groups = paired
    higher = stats.non_inferiority_test(differences, margin=0.05, groups=groups)
    # The same numbers as an increase of a lower-is-better metric: a drop becomes a gain.
    lower = stats.non_inferiority_test(
        -differences, margin=0.05, groups=groups, higher_is_better=False
    )
    assert lower.lower_bound == pytest.approx(higher.lower_bound)
    assert lower.non_inferior is higher.non_inferior


def test_nightly_interval_is_the_comparisons_cluster_robust_t_interval(
    tmp_path: Path, paired: tuple[Run, Run, np.ndarray, list[str]]
) -> None:
    baseline, candidate, _, groups = paired
    record = _nightly(tmp_path, baseline, candidate, GateConfig())
    metric = record.metrics[0]  # type: ignore[attr-defined]
    values = candidate.scores["value"].to_numpy(dtype=np.float64)
    columns = stats.paired_columns(np.zeros_like(values), values, kinds="continuous", groups=groups)
    g = N_CASES // GROUP_SIZE
    half = float(sps.t.ppf(0.975, g - 1)) * float(columns.se[0])
    assert metric.ci_low == pytest.approx(values.mean() - half, rel=1e-12)
    assert metric.ci_high == pytest.approx(values.mean() + half, rel=1e-12)
    # CR1: the cluster sums' spread times G/(G-1) (Cameron & Miller 2015), not without it.
    sums = (values - values.mean()).reshape(g, GROUP_SIZE).sum(axis=1)
    se_cr1 = np.sqrt(g / (g - 1) * np.sum(sums**2)) / N_CASES
    assert float(columns.se[0]) == pytest.approx(se_cr1, rel=1e-12)
