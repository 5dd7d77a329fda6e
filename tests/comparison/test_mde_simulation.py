"""The design-time MDE, checked by simulation (seeded; thousands of vectorised comparisons).

A drop equal to the *reported* MDE is planted in data that follow the MDE's stated
assumptions (docs/sizing.md): a baseline drawn from a population, the MDE computed from
that baseline as compare computes it, then a candidate whose per-case scores correlate
with the baseline's with the assumed ``rho`` (at case and cluster level), lower by the MDE.
Each simulated comparison is one column of :func:`evalkit.comparison._stats.paired_columns`, the
engine compare uses, so the gate's own tests decide (McNemar's exact test, Wilcoxon's
signed-rank test, the cluster sign-flip test). The gate's verdict is ``p <= alpha`` after
the correction; ``alpha`` here is the per-row level (0.005: ten rows under BH).

With 4,000 replicates the Monte Carlo SE of an 80% rate is 0.63 points, so 80% +- 3
points is about +- 5 SE.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalkit.comparison import _stats as stats
from evalkit.comparison._compare import compare_runs
from evalkit.data._records import MetricInfo
from tests.support.runs import make_run

REPLICATES = 4000
RHO = 0.5
TOLERANCE = 0.03


def _binary(
    rng: np.random.Generator,
    n: int,
    rate: float,
    groups: np.ndarray | None,
    icc: float,
    alpha: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (baseline, candidate, reported MDE): 0/1 scores, one column a replicate."""
    if groups is None:
        base = (rng.random((n, REPLICATES)) < rate).astype(float)
    else:
        # Beta-binomial clusters: intra-cluster correlation icc = 1 / (a + b + 1).
        total = 1 / icc - 1
        n_groups = int(groups.max()) + 1
        rates = rng.beta(rate * total, (1 - rate) * total, (n_groups, REPLICATES))
        base = (rng.random((n, REPLICATES)) < rates[groups]).astype(float)
    mde = stats.design_mde_columns(
        base, kinds="binary", groups=groups, alpha=alpha, correlation=RHO
    ).mde
    new_rate = rate - mde
    sd_base, sd_new = math.sqrt(rate * (1 - rate)), np.sqrt(new_rate * (1 - new_rate))
    if groups is None:
        # The 2x2 table with margins (rate, new_rate) and correlation RHO.
        both = rate * new_rate + RHO * sd_base * sd_new
        chance = np.where(base == 1, both / rate, (new_rate - both) / (1 - rate))
        cand = (rng.random((n, REPLICATES)) < chance).astype(float)
        return base, cand, mde
    # Whole clusters are kept (probability keep) or redrawn from a clustered process with
    # the rate that brings the mean down by the MDE: correlation RHO, the baseline's ICC.
    keep = RHO * sd_new / sd_base
    fresh_rate = np.clip(rate - mde / (1 - keep), 1e-6, 1 - 1e-6)
    n_groups = int(groups.max()) + 1
    rates = rng.beta(fresh_rate * total, (1 - fresh_rate) * total, (n_groups, REPLICATES))
    fresh = (rng.random((n, REPLICATES)) < rates[groups]).astype(float)
    kept = rng.random((n_groups, REPLICATES)) < keep
    return base, np.where(kept[groups], base, fresh), mde


def _continuous(
    rng: np.random.Generator, n: int, groups: np.ndarray | None, icc: float, alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (baseline, candidate, reported MDE): normal scores with SD 0.2."""
    codes = np.arange(n) if groups is None else groups
    n_groups = int(codes.max()) + 1
    share = icc if groups is not None else 0.0
    mix = np.linalg.cholesky(np.array([[1.0, RHO], [RHO, 1.0]]))
    cluster = np.einsum("ij,jgr->igr", mix, rng.standard_normal((2, n_groups, REPLICATES)))
    case = np.einsum("ij,jnr->inr", mix, rng.standard_normal((2, n, REPLICATES)))
    noise = 0.2 * (math.sqrt(share) * cluster[:, codes] + math.sqrt(1 - share) * case)
    base = 0.6 + noise[0]
    mde = stats.design_mde_columns(
        base, kinds="continuous", groups=groups, alpha=alpha, correlation=RHO
    ).mde
    return base, 0.6 - mde + noise[1], mde


CASES = {
    # name: (kind, cases, clusters of 4 or None, icc, expected test)
    "binary": ("binary", 1000, None, 0.0, "mcnemar-exact"),
    "binary-clustered": ("binary", 600, 150, 0.2, "cluster-permutation"),
    "continuous": ("continuous", 300, None, 0.0, "wilcoxon"),
    "continuous-clustered": ("continuous", 400, 100, 0.3, "cluster-permutation"),
}


@pytest.mark.parametrize(
    "name,alpha",
    [(name, 0.05) for name in CASES] + [("binary", 0.005), ("continuous-clustered", 0.005)],
)
def test_a_drop_equal_to_the_reported_mde_is_detected_in_80_percent_of_comparisons(
    name: str, alpha: float
) -> None:
    kind, n, n_groups, icc, expected_test = CASES[name]
    rng = np.random.default_rng(2024 + len(name) + int(alpha * 1000))
    groups = None if n_groups is None else np.repeat(np.arange(n_groups), n // n_groups)
    if kind == "binary":
        base, cand, mde = _binary(rng, n, 0.7, groups, icc, alpha)
    else:
        base, cand, mde = _continuous(rng, n, groups, icc, alpha)
    columns = stats.paired_columns(
        base, cand, kinds=kind, groups=groups, alpha=alpha, n_boot=2000, rng=7,
        mde_correlation=RHO,
    )  # fmt: skip
    assert set(columns.tests) == {expected_test}
    np.testing.assert_allclose(columns.mde, mde)  # the figure the comparison reports
    assert np.isfinite(mde).all() and (mde > 0).all()
    verdicts, _ = stats.decide_verdicts(columns)
    detected = float(np.mean([v == "regression" for v in verdicts]))
    assert abs(detected - 0.8) <= TOLERANCE, f"{name} at alpha {alpha}: detected {detected:.4f}"


# ---------------------------------------------------------------- near-deterministic runs

EXACT = MetricInfo(name="exact", scorer="exact", kind="binary")
F1 = MetricInfo(name="f1", scorer="token_f1", kind="continuous")


def _suite_runs() -> tuple:
    """Returns (baseline, near-deterministic re-run, genuinely changed candidate)."""
    rng = np.random.default_rng(193)
    n = 300
    ids = [f"q{i:03d}" for i in range(n)]
    groups = {case: f"doc{i // 10}" for i, case in enumerate(ids)}
    tags = {case: ["short" if i % 3 else "long"] for i, case in enumerate(ids)}
    ability = rng.normal(0, 1, n)
    f1 = np.clip(0.55 + 0.25 * ability + rng.normal(0, 0.1, n), 0, 1)
    exact = (ability + rng.normal(0, 0.5, n) > 0).astype(float)
    # 193 of 200 identical in the issue: here 290 of 300 cases answer exactly as before.
    rerun_f1, rerun_exact = f1.copy(), exact.copy()
    moved = rng.choice(n, 10, replace=False)
    rerun_f1[moved] = np.clip(f1[moved] + rng.normal(0, 0.1, 10), 0, 1)
    rerun_exact[moved[:3]] = 1 - exact[moved[:3]]
    # A real prompt change: many answers change, correlated with the old ones, a bit worse.
    changed_f1 = np.clip(0.52 + 0.18 * ability + rng.normal(0, 0.2, n), 0, 1)
    changed_exact = (ability + rng.normal(-0.1, 0.9, n) > 0).astype(float)

    def run(run_id: str, f1_values: np.ndarray, exact_values: np.ndarray) -> object:
        rows = [(c, "f1", float(v)) for c, v in zip(ids, f1_values, strict=True)]
        rows += [(c, "exact", float(v)) for c, v in zip(ids, exact_values, strict=True)]
        return make_run(run_id, rows, metrics=[EXACT, F1], tags=tags, groups=groups)

    return (
        run("base", f1, exact),
        run("rerun", rerun_f1, rerun_exact),
        run("changed", changed_f1, changed_exact),
    )


def test_near_deterministic_rerun_reports_the_mde_of_a_genuinely_changed_candidate() -> None:
    base, rerun, changed = _suite_runs()
    quiet = compare_runs(base, rerun)
    real = compare_runs(base, changed)
    pairs = list(zip(quiet.metrics, real.metrics, strict=True))
    assert [(a.metric, a.slice) for a, _ in pairs] == [(b.metric, b.slice) for _, b in pairs]
    deltas = np.array([row.delta for row in quiet.metrics if row.metric == "f1"])
    assert np.mean(np.abs(deltas) < 0.01) == 1  # the re-run barely moved
    for a, b in pairs:
        assert math.isfinite(a.mde) and math.isfinite(b.mde), (a.metric, a.slice)
        assert 1 / 1.5 <= a.mde / b.mde <= 1.5, (a.metric, a.slice, a.mde, b.mde)
        # What the issue saw: the observed-noise figure of the quiet re-run claims the suite
        # sees drops several times smaller than the same figure on a real change.
        assert a.mde_observed < b.mde_observed / 3, (a.metric, a.slice)
