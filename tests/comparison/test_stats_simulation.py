"""Validation of evalkit.comparison._stats by simulation (seeded; each test simulates >= 1,000
comparisons).

Each simulated comparison is one column of
:func:`evalkit.comparison._stats.paired_columns`, the same engine that decides verdicts in
:func:`evalkit.comparison._compare.compare_runs`, so these tests check
the gate's actual false-positive rate, coverage and power. The Monte Carlo standard error
of a rate r over R replicates is sqrt(r (1 - r) / R); bounds are the target +- 3 MC SE.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from evalkit.comparison import _stats as stats
from tests.support import stats_oracle as oracle

ALPHA = 0.05
REPLICATES = 1000


def _mc_se(rate: float, replicates: int) -> float:
    return math.sqrt(rate * (1 - rate) / replicates)


def _clusters(n_clusters: int, size: int) -> np.ndarray:
    return np.repeat(np.arange(n_clusters), size)


def _binary_aa(rng: np.random.Generator, groups: np.ndarray | None, n: int) -> tuple:
    """Returns baseline/candidate 0/1 matrices drawn from the same per-case pass rates."""
    if groups is None:
        logits = rng.normal(0.5, 1.5, (n, REPLICATES))
    else:
        n_groups = int(groups.max()) + 1
        logits = rng.normal(0.5, 1.0, (n_groups, REPLICATES))[groups]
        logits = logits + rng.normal(0, 0.7, (n, REPLICATES))
    rate = 1 / (1 + np.exp(-logits))
    base = (rng.random((n, REPLICATES)) < rate).astype(float)
    cand = (rng.random((n, REPLICATES)) < rate).astype(float)
    return base, cand


def _continuous_aa(rng: np.random.Generator, groups: np.ndarray | None, n: int) -> tuple:
    """Returns baseline/candidate scores in [0, 1] with a shared case effect (A/A)."""
    case = rng.beta(2, 2, (n, REPLICATES))
    if groups is not None:
        n_groups = int(groups.max()) + 1
        case = 0.5 * case + 0.5 * rng.beta(2, 2, (n_groups, REPLICATES))[groups]
        # A/A with clustering in the *differences*: a shared cluster shock on each side.
        shock = rng.normal(0, 0.08, (2, n_groups, REPLICATES))
        base = case + shock[0][groups] + rng.normal(0, 0.05, (n, REPLICATES))
        cand = case + shock[1][groups] + rng.normal(0, 0.05, (n, REPLICATES))
        return np.clip(base, 0, 1), np.clip(cand, 0, 1)
    noise = rng.normal(0, 0.1, (2, n, REPLICATES))
    return np.clip(case + noise[0], 0, 1), np.clip(case + noise[1], 0, 1)


@pytest.mark.parametrize("kind", ["binary", "continuous"])
@pytest.mark.parametrize("clustered", [False, True], ids=["independent", "clustered"])
def test_aa_comparisons_flag_regressions_at_most_alpha_plus_three_mc_se(
    kind: str, clustered: bool
) -> None:
    rng = np.random.default_rng(20240 + 2 * clustered + (kind == "binary"))
    groups = _clusters(40, 5) if clustered else None
    n = 200
    make = _binary_aa if kind == "binary" else _continuous_aa
    base, cand = make(rng, groups, n)
    columns = stats.paired_columns(
        base, cand, kinds=kind, groups=groups, alpha=ALPHA, n_boot=1000, rng=rng
    )
    verdicts, _ = stats.decide_verdicts(columns)
    flagged = np.mean([v == "regression" for v in verdicts])
    bound = ALPHA + 3 * _mc_se(ALPHA, REPLICATES)
    assert flagged <= bound, f"A/A false-positive rate {flagged:.3f} > {bound:.3f}"
    # Not vacuous: the test is not so conservative that it never fires (McNemar's exact
    # test is conservative by design, so its floor is lower).
    floor = 0.01 if kind == "binary" and not clustered else ALPHA - 3 * _mc_se(ALPHA, REPLICATES)
    assert flagged >= floor, f"A/A rate {flagged:.3f} suspiciously low (< {floor:.3f})"
    expected_test = (
        "cluster-permutation"
        if clustered
        else ("mcnemar-exact" if kind == "binary" else "wilcoxon")
    )
    assert set(columns.tests) == {expected_test}


def _clustered_differences(
    rng: np.random.Generator, n_clusters: int, size: int, shift: float = 0.0
) -> tuple[np.ndarray, np.ndarray, float]:
    """Returns (differences, groups, true SE of the mean) with intra-cluster correlation 0.5."""
    groups = _clusters(n_clusters, size)
    between, within = 0.1, 0.1
    d = (
        shift
        + rng.normal(0, between, (n_clusters, REPLICATES))[groups]
        + rng.normal(0, within, (n_clusters * size, REPLICATES))
    )
    true_se = math.sqrt((size * between**2 + within**2) / (n_clusters * size))
    return d, groups, true_se


def test_on_clustered_data_naive_ci_under_covers_and_clustered_ci_covers_nominally() -> None:
    rng = np.random.default_rng(777)
    d, groups, _ = _clustered_differences(rng, n_clusters=60, size=8)
    zeros = np.zeros_like(d)
    columns = stats.paired_columns(zeros, d, kinds="continuous", groups=groups, rng=5)
    n, n_clusters = d.shape[0], int(groups.max()) + 1
    naive_half = sps.t.ppf(0.975, n - 1) * columns.se_clt
    robust_half = sps.t.ppf(0.975, n_clusters - 1) * columns.se
    naive_hits = np.sum(np.abs(columns.delta) <= naive_half)
    robust_hits = np.sum(np.abs(columns.delta) <= robust_half)
    boot_hits = np.sum((columns.ci_low <= 0.0) & (columns.ci_high >= 0.0))
    # The same intervals as MeanDifference.confidence_interval gives one replicate.
    first = stats.paired_mean_difference(zeros[:, 0], d[:, 0], groups=groups)
    assert first.confidence_interval(clustered=True)[1] == pytest.approx(
        columns.delta[0] + robust_half[0]
    )
    assert first.confidence_interval(clustered=False)[1] == pytest.approx(
        columns.delta[0] + naive_half[0]
    )
    tolerance = 3 * _mc_se(0.95, REPLICATES)
    naive, robust, boot = naive_hits / REPLICATES, robust_hits / REPLICATES, boot_hits / REPLICATES
    # Design effect here is 1 + (8 - 1) * 0.5 = 4.5: the naive 95% CI covers ~65%.
    assert naive < 0.95 - 10 * tolerance, f"naive coverage {naive:.3f}"
    assert abs(robust - 0.95) <= tolerance, f"cluster-robust coverage {robust:.3f}"
    assert abs(boot - 0.95) <= tolerance, f"cluster bootstrap coverage {boot:.3f}"


def test_power_against_a_planted_regression_matches_the_power_formula() -> None:
    rng = np.random.default_rng(99)
    n, sd = 150, 0.2
    se = sd / math.sqrt(n)
    drop = float(stats.mde_from_se(se, alpha=ALPHA))  # the formula says 80% power
    replicates = 2 * REPLICATES
    base = rng.random((n, replicates))
    cand = base - drop + rng.normal(0, sd, (n, replicates))
    columns = stats.paired_columns(base, cand, kinds="continuous", alpha=ALPHA, n_boot=200)
    verdicts, _ = stats.decide_verdicts(columns)
    power = np.mean([v == "regression" for v in verdicts])
    # Wilcoxon's asymptotic efficiency relative to the t test under normality is 3/pi.
    expected = float(oracle.power_from_se(drop, se / math.sqrt(3 / math.pi), alpha=ALPHA))
    assert abs(power - expected) <= 3 * _mc_se(expected, replicates), (power, expected)
    assert float(oracle.power_from_se(drop, se, alpha=ALPHA)) == pytest.approx(0.8, abs=1e-3)


def test_clustered_power_matches_the_formula_with_the_design_effect() -> None:
    rng = np.random.default_rng(123)
    # Many clusters: the (unstudentised) permutation test loses a little power when the
    # shift inflates the permutation variance; that loss shrinks like 1/clusters.
    d_null, groups, true_se = _clustered_differences(rng, n_clusters=200, size=3)
    drop = float(stats.mde_from_se(true_se, alpha=ALPHA))
    d = d_null - drop
    columns = stats.paired_columns(
        np.zeros_like(d), d, kinds="continuous", groups=groups, alpha=ALPHA, n_boot=1000, rng=1
    )
    power = np.mean(columns.p_worse <= ALPHA)
    assert abs(power - 0.8) <= 3 * _mc_se(0.8, REPLICATES), power
    # The MDE at each replicate's observed noise (its observed SEs) centres on the true
    # one. (The design-time MDE is n/a here: the baseline is constant.)
    assert np.median(columns.mde_observed) == pytest.approx(drop, rel=0.05)
    assert np.isnan(columns.mde).all()
