"""Known answers for evalkit.comparison._stats: scipy/statsmodels on the same data, and
published examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower

from evalkit.comparison import _stats as stats
from tests.support import stats_oracle as oracle

# Fisher 1935, "The Design of Experiments", section 17: height differences (eighths of an
# inch) of 15 pairs of cross- and self-fertilised Zea mays plants (Darwin's data). Also the
# example of scipy.stats.wilcoxon's documentation.
DARWIN = np.array([6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75], dtype=float)

# Hollander & Wolfe 1973, "Nonparametric Statistical Methods", p. 29, Example 3.1
# (Hamilton depression scale before/after tranquilliser); R's wilcox.test example.
HAMILTON_BEFORE = np.array([1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30])
HAMILTON_AFTER = np.array([0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29])

# Benjamini & Hochberg 1995, JRSS B 57:289-300, section 4.2: the 15 p-values of the
# Neuhaus et al. (1992) thrombolysis trial.
BH_1995 = np.array(
    [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240,
     0.4262, 0.5719, 0.6528, 0.7590, 1.000]
)  # fmt: skip


def _pairs(table: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Returns baseline/candidate 0/1 arrays for a 2x2 table [[11, 10], [01, 00]]."""
    (pp, pf), (fp, ff) = table
    base = np.array([1] * pp + [1] * pf + [0] * fp + [0] * ff, dtype=float)
    cand = np.array([1] * pp + [0] * pf + [1] * fp + [0] * ff, dtype=float)
    return base, cand


# ---------------------------------------------------------------- McNemar


def test_mcnemar_matches_fagerland_2013_airway_example() -> None:
    # Fagerland, Lydersen & Laake 2013, BMC Med Res Methodol 13:91, Table 1 (Bentur et al.
    # 2009, airway hyper-responsiveness before/after stem cell transplantation): discordant
    # pairs 1 and 7; the McNemar exact conditional test gives P = 0.070.
    base, cand = _pairs([[1, 1], [7, 12]])
    result = oracle.mcnemar_exact(base, cand)
    assert (result.to_fail, result.to_pass, result.n_discordant) == (1, 7, 8)
    assert result.p_value == pytest.approx(0.0703125)
    assert round(result.p_value, 3) == 0.070


def test_mcnemar_agrees_with_statsmodels_and_binomtest_on_agresti_approval_table() -> None:
    # Agresti 2007, "An Introduction to Categorical Data Analysis", 2nd ed., Table 8.1:
    # presidential approval of 1600 people in two surveys, 150 approve->disapprove and
    # 86 disapprove->approve; the text reports z = 4.17, P < 0.0001.
    base, cand = _pairs([[794, 150], [86, 570]])
    result = oracle.mcnemar_exact(base, cand)
    reference = sm_mcnemar(np.array([[794, 150], [86, 570]]), exact=True)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-12)
    assert result.p_value < 1e-4
    assert (150 - 86) / math.sqrt(150 + 86) == pytest.approx(4.17, abs=0.005)
    one_sided = oracle.mcnemar_exact(base, cand, alternative="less")
    assert one_sided.p_value == pytest.approx(
        sps.binomtest(150, 236, 0.5, alternative="greater").pvalue, rel=1e-12
    )


@pytest.mark.parametrize("to_fail,to_pass", [(0, 0), (3, 3), (0, 9), (9, 0), (4, 11), (40, 21)])
def test_vectorised_mcnemar_pvalues_equal_binomtest(to_fail: int, to_pass: int) -> None:
    less, greater, two = stats._mcnemar_pvalues(np.array([to_fail]), np.array([to_pass]))
    n = to_fail + to_pass
    if n == 0:
        assert (less[0], greater[0], two[0]) == (1.0, 1.0, 1.0)
        return
    assert less[0] == pytest.approx(sps.binomtest(to_fail, n, alternative="greater").pvalue)
    assert greater[0] == pytest.approx(sps.binomtest(to_pass, n, alternative="greater").pvalue)
    assert two[0] == pytest.approx(sps.binomtest(to_fail, n).pvalue)


def test_mcnemar_rejects_values_that_are_not_zero_or_one() -> None:
    with pytest.raises(ValueError, match="0/1"):
        oracle.mcnemar_exact([0.5, 1.0], [1.0, 1.0])


# ---------------------------------------------------------------- Wilcoxon


def test_wilcoxon_reproduces_scipy_docs_darwin_example() -> None:
    # scipy.stats.wilcoxon docs: statistic 24.0, p = 0.041259765625 (two-sided, exact);
    # one-sided "greater" p = 0.020629882812.
    two = stats.wilcoxon_signed_rank(DARWIN)
    assert two.statistic == 24.0
    assert two.p_value == pytest.approx(0.041259765625)
    assert stats.wilcoxon_signed_rank(DARWIN, alternative="greater").p_value == pytest.approx(
        0.020629882812
    )


def test_wilcoxon_reproduces_hollander_wolfe_example_3_1() -> None:
    # Hollander & Wolfe 1973, Example 3.1: T+ = 40 for before - after, one-sided P = 0.0195
    # (R: V = 40, p-value = 0.01953). Here candidate = after, so the test is "less".
    differences = HAMILTON_AFTER - HAMILTON_BEFORE
    result = stats.wilcoxon_signed_rank(differences, alternative="less")
    assert result.statistic == 5.0  # the positive-rank sum of after - before: 45 - 40
    assert result.p_value == pytest.approx(10 / 512)


def test_wilcoxon_of_all_zero_differences_is_not_significant() -> None:
    result = stats.wilcoxon_signed_rank(np.zeros(30))
    assert result.p_value == 1.0 and result.n_nonzero == 0


def test_wilcoxon_two_sided_is_twice_the_smaller_one_sided_tail() -> None:
    rng = np.random.default_rng(3)
    # Rounded normals have ties: n=8 is enumerated exactly (scipy's default there), larger
    # n use the normal approximation with tie correction (scipy's default for 14..50 would
    # be a randomised permutation test).
    for n, method in ((8, "auto"), (30, "asymptotic"), (400, "asymptotic")):
        d = np.round(rng.normal(0.1, 1, n), 1)
        less, greater, two = stats._wilcoxon_pvalues(d)
        expected = sps.wilcoxon(d, method=method)
        assert two == pytest.approx(expected.pvalue, rel=1e-9)
        assert less == pytest.approx(
            sps.wilcoxon(d, alternative="less", method=method).pvalue, rel=1e-9
        )
        assert greater == pytest.approx(
            sps.wilcoxon(d, alternative="greater", method=method).pvalue
        )


# ---------------------------------------------------------------- permutation


def test_permutation_test_reproduces_fisher_1935_exact_enumeration() -> None:
    # Fisher 1935, section 21: of the 2**15 = 32768 sign patterns of Darwin's differences,
    # 863 give a sum at least as large as observed: one-sided P = 863/32768 = 0.0263,
    # two-sided 0.0527.
    greater = oracle.paired_permutation_test(DARWIN, alternative="greater")
    assert greater.exact and greater.n_resamples == 32768
    assert greater.p_value * 32768 == pytest.approx(863)
    two = oracle.paired_permutation_test(DARWIN)
    assert two.p_value == pytest.approx(2 * 863 / 32768)


def test_permutation_test_agrees_with_scipy_permutation_test() -> None:
    rng = np.random.default_rng(11)
    d = rng.normal(0.3, 1, 13)
    ours = oracle.paired_permutation_test(d, alternative="greater")
    theirs = sps.permutation_test(
        (d,), np.mean, permutation_type="samples", alternative="greater", n_resamples=np.inf
    )
    assert ours.exact
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)


def test_monte_carlo_permutation_is_close_to_the_exact_answer_and_seeded() -> None:
    rng = np.random.default_rng(5)
    d = rng.normal(0.25, 1, 60)
    exact_normal = sps.permutation_test(
        (d,), np.mean, permutation_type="samples", n_resamples=20000, random_state=1
    ).pvalue
    first = oracle.paired_permutation_test(d, n_resamples=20000, rng=7)
    second = oracle.paired_permutation_test(d, n_resamples=20000, rng=7)
    assert not first.exact
    assert first.p_value == second.p_value
    assert first.p_value == pytest.approx(exact_normal, abs=0.01)


def test_cluster_permutation_flips_whole_clusters() -> None:
    # Four clusters: the test must enumerate the 2**4 sign patterns of the cluster sums,
    # not the 2**7 patterns of the single cases.
    d = np.array([1.0, 2.0, 3.0, -1.0, 2.0, 1.0, 0.5])
    groups = np.array(["a", "a", "b", "c", "c", "d", "d"])  # sums: 3, 3, 1, 1.5
    result = oracle.paired_permutation_test(d, groups=groups, alternative="greater")
    sums = np.array([3.0, 3.0, 1.0, 1.5])
    signs = np.array(np.meshgrid(*[[1, -1]] * 4)).reshape(4, -1).T
    expected = np.mean(signs @ sums >= sums.sum() - 1e-12)
    assert result.n_units == 4 and result.n_resamples == 16
    assert result.p_value == pytest.approx(expected)


# ---------------------------------------------------------------- SEs and bootstrap


def test_clt_and_cluster_se_match_statsmodels_ols() -> None:
    rng = np.random.default_rng(2)
    groups = np.repeat(np.arange(25), rng.integers(1, 8, 25))
    n = len(groups)
    base = rng.normal(0.6, 0.2, n)
    cand = base + rng.normal(-0.02, 0.1, n) + rng.normal(0, 0.1, 25)[groups]
    result = stats.paired_mean_difference(base, cand, groups=groups)
    ones = np.ones((n, 1))
    naive = sm.OLS(cand - base, ones).fit()
    clustered = sm.OLS(cand - base, ones).fit(cov_type="cluster", cov_kwds={"groups": groups})
    assert result.delta == pytest.approx(naive.params[0])
    assert result.se == pytest.approx(naive.bse[0], rel=1e-10)
    # statsmodels' default correction G/(G-1) * (N-1)/(N-K) equals CR1 for K = 1.
    assert result.se_cluster == pytest.approx(clustered.bse[0], rel=1e-10)
    assert result.n_clusters == 25 and result.df == 24
    assert result.design_effect > 1


def test_cluster_se_equals_clt_se_without_clusters() -> None:
    rng = np.random.default_rng(4)
    base, cand = rng.random(50), rng.random(50)
    result = stats.paired_mean_difference(base, cand)
    assert result.se_cluster == pytest.approx(result.se)
    assert result.se == pytest.approx(np.std(cand - base, ddof=1) / math.sqrt(50))


def test_nan_pairs_are_left_out_of_the_mean_difference() -> None:
    result = stats.paired_mean_difference([1.0, 0.0, np.nan, 1.0], [1.0, 1.0, 1.0, np.nan])
    assert result.n == 2 and result.delta == pytest.approx(0.5)


def test_bootstrap_ci_agrees_with_scipy_bootstrap_percentile() -> None:
    rng = np.random.default_rng(8)
    d = rng.exponential(1.0, 400) - 0.8
    ours = oracle.paired_bootstrap_ci(d, n_resamples=20000, rng=1)
    theirs = sps.bootstrap(
        (d,), np.mean, method="percentile", n_resamples=20000, random_state=2
    ).confidence_interval
    assert ours.estimate == pytest.approx(d.mean())
    assert ours.low == pytest.approx(theirs.low, abs=0.01)
    assert ours.high == pytest.approx(theirs.high, abs=0.01)
    assert ours.se == pytest.approx(np.std(d, ddof=1) / 20, rel=0.05)


def test_cluster_bootstrap_se_tracks_the_cluster_robust_se() -> None:
    rng = np.random.default_rng(9)
    groups = np.repeat(np.arange(80), 6)
    d = rng.normal(0, 0.3, 80)[groups] + rng.normal(0, 0.3, 480)
    boot = oracle.paired_bootstrap_ci(d, groups=groups, n_resamples=4000, rng=3)
    naive = oracle.paired_bootstrap_ci(d, n_resamples=4000, rng=3)
    analytic = stats.paired_mean_difference(np.zeros(480), d, groups=groups)
    assert boot.clustered and boot.n_units == 80 and not naive.clustered
    # The bootstrap has no G/(G-1) factor: its SE is about sqrt((G-1)/G) of CR1's.
    assert boot.se == pytest.approx(analytic.se_cluster * math.sqrt(79 / 80), rel=0.06)
    assert naive.se < 0.7 * boot.se


def test_bootstrap_is_reproducible_for_a_seed_and_varies_across_seeds() -> None:
    d = np.random.default_rng(0).normal(size=100)
    assert oracle.paired_bootstrap_ci(d, rng=5) == oracle.paired_bootstrap_ci(d, rng=5)
    assert oracle.paired_bootstrap_ci(d, rng=5).low != oracle.paired_bootstrap_ci(d, rng=6).low
    generator = np.random.default_rng(5)
    assert (
        oracle.paired_bootstrap_ci(d, rng=generator).low == oracle.paired_bootstrap_ci(d, rng=5).low
    )


# ---------------------------------------------------------------- non-inferiority


def test_non_inferiority_is_the_gates_ci_bound_and_close_to_the_t_interval() -> None:
    rng = np.random.default_rng(12)
    d = rng.normal(-0.01, 0.1, 400)
    result = stats.non_inferiority_test(d, margin=0.05)
    gate = stats.paired_columns(np.zeros(400), d, kinds="continuous", margin=0.05)
    assert result.lower_bound == gate.ci_low[0]
    assert result.non_inferior == bool(gate.non_inferior[0]) == (result.lower_bound >= -0.05)
    # The percentile bootstrap bound is close to the (1 - alpha) t interval's (scipy).
    reference = sps.ttest_1samp(d, 0.0).confidence_interval(0.95).low
    se = d.std(ddof=1) / math.sqrt(len(d))
    assert result.lower_bound == pytest.approx(reference, abs=0.25 * se)
    assert result.estimate == pytest.approx(d.mean())


def test_non_inferiority_respects_direction() -> None:
    latency_increase = np.random.default_rng(1).normal(0.5, 0.1, 40)  # lower is better
    worse = stats.non_inferiority_test(latency_increase, margin=0.1, higher_is_better=False)
    assert not worse.non_inferior and worse.estimate == pytest.approx(-latency_increase.mean())
    fine = stats.non_inferiority_test(latency_increase, margin=1.0, higher_is_better=False)
    assert fine.non_inferior


# ---------------------------------------------------------------- multiplicity


def test_bh_on_benjamini_hochberg_1995_example_rejects_four_where_holm_rejects_three() -> None:
    q_bh = stats.adjust_pvalues(BH_1995, "bh")
    q_holm = stats.adjust_pvalues(BH_1995, "holm")
    assert int(np.sum(q_bh <= 0.05)) == 4
    assert int(np.sum(q_holm <= 0.05)) == 3
    assert np.allclose(q_bh, multipletests(BH_1995, method="fdr_bh")[1])
    assert np.allclose(q_holm, multipletests(BH_1995, method="holm")[1])


def test_adjustments_match_statsmodels_on_random_pvalues_with_ties_and_nans() -> None:
    rng = np.random.default_rng(13)
    p = np.round(rng.beta(0.5, 2, 200), 3)
    p[[5, 50, 77]] = np.nan
    finite = ~np.isnan(p)
    for ours, theirs in (("bh", "fdr_bh"), ("holm", "holm")):
        adjusted = stats.adjust_pvalues(p, ours)
        assert np.isnan(adjusted[~finite]).all()
        assert np.allclose(adjusted[finite], multipletests(p[finite], method=theirs)[1])
    assert np.array_equal(stats.adjust_pvalues(p, "none"), p, equal_nan=True)


# ---------------------------------------------------------------- power


@pytest.mark.parametrize("sides,alternative", [(1, "larger"), (2, "two-sided")])
def test_mde_and_power_match_statsmodels_normal_power(sides: int, alternative: str) -> None:
    n, sd = 250, 0.4
    se = sd / math.sqrt(n)
    mde = float(stats.mde_from_se(se, alpha=0.05, power=0.8, sides=sides))
    # statsmodels: a one-sample z test is NormalIndPower with ratio=0; effect in SD units.
    es = NormalIndPower().solve_power(
        nobs1=n, alpha=0.05, power=0.8, ratio=0, alternative=alternative
    )
    if sides == 1:
        assert mde == pytest.approx(es * sd, rel=1e-6)
    power = float(oracle.power_from_se(0.07, se, sides=sides))
    reference = NormalIndPower().power(
        0.07 / sd, nobs1=n, alpha=0.05, ratio=0, alternative=alternative
    )
    assert power == pytest.approx(reference, rel=1e-6)
    assert float(oracle.power_from_se(mde, se, sides=sides)) == pytest.approx(0.8, abs=0.001)


def test_power_analysis_inflates_mde_by_the_design_effect() -> None:
    rng = np.random.default_rng(21)
    groups = np.repeat(np.arange(30), 10)
    d = rng.normal(0, 0.2, 30)[groups] + rng.normal(0, 0.2, 300)
    flat = oracle.power_analysis(d)
    clustered = oracle.power_analysis(d, groups=groups)
    assert flat.mde == pytest.approx(2.486 * np.std(d, ddof=1) / math.sqrt(300), rel=1e-3)
    assert clustered.design_effect > 2
    assert clustered.mde == pytest.approx(flat.mde * math.sqrt(clustered.design_effect))


@pytest.mark.parametrize("n,alpha", [(221, 0.05), (40, 0.05), (1000, 0.01)])
def test_exact_flip_mde_is_detected_with_80_percent_power(n: int, alpha: float) -> None:
    delta = stats.mde_exact_flips(n, alpha=alpha, power=0.8)
    # The smallest flip count McNemar's exact one-sided test rejects with (none flip back).
    k = next(b for b in range(1, 60) if sps.binomtest(b, b, 0.5, "greater").pvalue <= alpha)
    assert sps.binom.sf(k - 1, n, delta) == pytest.approx(0.8, abs=1e-9)
    # By simulation: run the test itself on Binomial(n, delta) flips.
    flips = np.random.default_rng(5).binomial(n, delta, 20_000)
    p_values = sps.binom.sf(flips - 1, flips, 0.5)
    assert np.mean((p_values <= alpha) & (flips > 0)) == pytest.approx(0.8, abs=0.01)


def test_exact_flip_mde_is_infinite_when_too_few_cases_could_ever_reject() -> None:
    assert stats.mde_exact_flips(4, alpha=0.05) == math.inf  # 0.5**4 > 0.05
    assert math.isfinite(stats.mde_exact_flips(5, alpha=0.05))  # 0.5**5 < 0.05


def test_mde_of_columns_where_neither_side_varies() -> None:
    n = 221
    ones, zeros = np.ones((n, 1)), np.zeros((n, 1))
    best = stats.paired_columns(ones, ones, kinds="binary", n_boot=200)
    assert best.mde[0] == pytest.approx(stats.mde_exact_flips(n, alpha=0.05))
    assert 0.02 < best.mde[0] < 0.04  # about 7 cases of 221 (k = 5 flips needed)
    worst = stats.paired_columns(zeros, zeros, kinds="binary", n_boot=200)
    assert math.isnan(worst.mde[0])  # already failing everywhere: no drop can show
    lower_better = stats.paired_columns(
        zeros, zeros, kinds="binary", higher_is_better=False, n_boot=200
    )
    assert lower_better.mde[0] == best.mde[0]
    constant = stats.paired_columns(ones * 0.7, ones * 0.7, kinds="continuous", n_boot=200)
    assert math.isnan(constant.mde[0])
    varying = stats.paired_columns(ones, np.r_[ones[:-3], zeros[:3]], kinds="binary", n_boot=200)
    assert varying.mde[0] > 0 and math.isfinite(varying.mde[0])


# ---------------------------------------------------------------- samples and flips


def test_average_samples_averages_scored_samples_and_reports_spread() -> None:
    means = oracle.average_samples(
        ["a", "a", "a", "b", "c", "c"],
        [1.0, 0.0, np.nan, 0.5, np.nan, np.nan],
        samples=[0, 1, 2, 0, 0, 1],
    )
    assert list(means.case_ids) == ["a", "b", "c"]
    assert means.mean[0] == 0.5 and means.mean[1] == 0.5 and np.isnan(means.mean[2])
    assert means.sd[0] == pytest.approx(math.sqrt(0.5)) and means.sd[1] == 0.0
    assert list(means.n_scored) == [2, 1, 0] and list(means.n_samples) == [3, 1, 2]


def test_moments_by_code_equal_the_pandas_reference() -> None:
    rng = np.random.default_rng(8)
    codes = rng.integers(0, 40, 600)
    values = np.where(rng.random(600) < 0.1, np.nan, rng.normal(0.5, 0.2, 600))
    ours = stats.moments_by_code(codes.astype(np.int64), values, 40)
    reference = oracle.average_samples(codes, values)
    order = np.asarray(reference.case_ids, dtype=np.int64)
    np.testing.assert_allclose(ours.mean[order], reference.mean, rtol=1e-12)
    np.testing.assert_allclose(ours.sd[order], reference.sd, rtol=1e-10, atol=1e-15)
    np.testing.assert_array_equal(ours.n_scored[order], reference.n_scored)
    np.testing.assert_array_equal(ours.n_rows[order], reference.n_samples)


def test_gate_tests_equal_the_reference_tests_column_by_column() -> None:
    rng = np.random.default_rng(21)
    base = (rng.random(80) < 0.8).astype(float)
    cand = np.where(rng.random(80) < 0.15, 1 - base, base)
    columns = stats.paired_columns(base, cand, kinds="binary")
    assert columns.tests[0] == "mcnemar-exact"
    reference = oracle.mcnemar_exact(base, cand, alternative="less")
    assert columns.p_worse[0] == pytest.approx(reference.p_value, rel=1e-12)
    groups = np.repeat(np.arange(20), 4)
    d = rng.normal(-0.02, 0.1, 80)
    clustered = stats.paired_columns(np.zeros(80), d, kinds="continuous", groups=groups, rng=4)
    flips = oracle.paired_permutation_test(
        d, groups=groups, alternative="less", n_resamples=2000, rng=4
    )
    assert clustered.tests[0] == "cluster-permutation"
    assert clustered.p_worse[0] == flips.p_value  # the same seed draws the same sign flips


def test_average_samples_rejects_a_repeated_case_and_sample() -> None:
    with pytest.raises(ValueError, match="more than once"):
        oracle.average_samples(["a", "a"], [1.0, 0.0], samples=[0, 0])


def test_flip_counts_and_passes() -> None:
    base = stats.passes([1.0, 1.0, 0.0, 0.0, 0.7, np.nan], 0.5)
    cand = stats.passes([0.0, 1.0, 1.0, 0.0, 0.2, 1.0], 0.5)
    assert list(base) == [True, True, False, False, True, False]
    flips = oracle.flip_counts(base, cand)
    assert (flips.to_fail, flips.to_pass, flips.both_pass, flips.both_fail) == (2, 2, 1, 1)
    assert list(stats.passes([0.1, 0.9], 0.5, higher_is_better=False)) == [True, False]


# ---------------------------------------------------------------- paired_compare verdicts


def test_paired_compare_flags_a_clear_binary_regression_with_mcnemar() -> None:
    base, cand = _pairs([[150, 30], [5, 15]])
    result = oracle.paired_compare(base, cand, kind="binary")
    assert result.test == "mcnemar-exact"
    assert result.verdict == "regression"
    assert result.delta == pytest.approx(-25 / 200)
    assert result.ci_low < result.delta < result.ci_high < 0
    assert result.p_value == pytest.approx(sps.binomtest(30, 35, alternative="greater").pvalue)
    assert (result.flips_to_fail, result.flips_to_pass) == (30, 5)
    assert result.mde > 0


def test_paired_compare_calls_a_clear_continuous_gain_an_improvement() -> None:
    rng = np.random.default_rng(1)
    base = rng.random(300)
    result = oracle.paired_compare(base, base + 0.05 + rng.normal(0, 0.05, 300), kind="continuous")
    assert result.test == "wilcoxon" and result.verdict == "improvement"
    assert result.p_value > 0.5 and result.p_value_better < 1e-6


def test_identical_runs_are_no_change_and_non_inferior() -> None:
    base = np.random.default_rng(2).integers(0, 2, 100).astype(float)
    result = oracle.paired_compare(base, base, kind="binary", margin=0.02)
    assert result.verdict == "no-change"
    assert result.non_inferior and result.ci_low == result.ci_high == 0.0
    assert result.p_value == 1.0
    assert result.mde > 0  # from the metric's own spread, not the zero spread of diffs


def test_small_noisy_suite_with_a_margin_is_inconclusive() -> None:
    rng = np.random.default_rng(3)
    base = rng.random(15)
    noise = rng.normal(0, 0.2, 15)
    cand = base + noise - noise.mean()  # no true change, but a wide CI
    result = oracle.paired_compare(base, cand, kind="continuous", margin=0.01)
    assert result.verdict == "inconclusive" and not result.non_inferior
    assert result.ci_low < -0.01 and "margin" in result.reason and result.mde > 0.01
    no_margin = oracle.paired_compare(base, cand, kind="continuous")
    assert no_margin.verdict == "no-change"


def test_too_few_pairs_are_inconclusive_and_unscored_are_counted() -> None:
    result = oracle.paired_compare([1.0, np.nan, np.nan], [0.0, 1.0, np.nan], kind="binary")
    assert result.verdict == "inconclusive"
    assert result.n_paired == 1 and result.n_unscored == 2
    assert math.isnan(result.p_value)


def test_lower_is_better_turns_an_increase_into_a_regression() -> None:
    rng = np.random.default_rng(4)
    latency = rng.gamma(2.0, 1.0, 200)
    slower = latency * 1.3
    result = oracle.paired_compare(latency, slower, kind="continuous", higher_is_better=False)
    assert result.delta > 0 and result.verdict == "regression"
    assert not result.non_inferior


def test_clustered_comparison_uses_the_cluster_permutation_test_and_wider_ci() -> None:
    rng = np.random.default_rng(6)
    groups = np.repeat(np.arange(20), 10)
    base = rng.random(200)
    cand = base + rng.normal(0, 0.15, 20)[groups] + rng.normal(0, 0.02, 200)
    clustered = oracle.paired_compare(base, cand, kind="continuous", groups=groups)
    naive = oracle.paired_compare(base, cand, kind="continuous")
    assert clustered.test == "cluster-permutation" and clustered.n_units == 20
    assert naive.test == "wilcoxon" and naive.n_units == 200
    assert (clustered.ci_high - clustered.ci_low) > 2 * (naive.ci_high - naive.ci_low)
    # Clustered here are the differences (the baseline has no cluster structure): the
    # MDE at this comparison's observed noise sees it; the design-time MDE, from the
    # baseline's own intra-cluster correlation, does not (docs/sizing.md).
    assert clustered.mde_observed > 2 * naive.mde_observed


def test_repeated_binary_samples_averaged_to_fractions_use_wilcoxon() -> None:
    base = np.array([1.0, 0.5, 1.0, 0.0, 1.0] * 6)
    cand = np.array([0.5, 0.5, 1.0, 0.0, 0.0] * 6)
    result = oracle.paired_compare(base, cand, kind="binary")
    assert result.test == "wilcoxon" and result.verdict == "regression"


def test_paired_columns_share_resamples_and_accept_per_column_settings() -> None:
    rng = np.random.default_rng(7)
    base = rng.random((120, 3))
    cand = base + np.array([-0.1, 0.0, 0.1]) + rng.normal(0, 0.05, (120, 3))
    cand[:40, 1] = np.nan
    columns = stats.paired_columns(
        base, cand, kinds="continuous", higher_is_better=[True, True, False], margin=0.02
    )
    verdicts, _ = stats.decide_verdicts(columns)
    assert verdicts[0] == "regression" and verdicts[2] == "regression"
    assert list(columns.n_paired) == [120, 80, 120]
    single = oracle.paired_compare(base[:, 1], cand[:, 1], kind="continuous", margin=0.02)
    assert single.p_value == pytest.approx(columns.p_worse[1])
    assert single.delta == pytest.approx(columns.delta[1])


def test_vectorised_wilcoxon_equals_one_column_at_a_time() -> None:
    rng = np.random.default_rng(14)
    d = np.round(rng.normal(0.05, 0.3, (120, 6)), 1)  # ties and zeros
    d[:, 3] = 0.0  # no change at all
    less, greater, two = stats._wilcoxon_columns(d)
    for j in range(6):
        assert (less[j], greater[j], two[j]) == pytest.approx(stats._wilcoxon_pvalues(d[:, j]))
    assert two[3] == 1.0


def test_bootstrap_is_reproducible_for_a_seed_whatever_the_thread_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Chunks run in parallel threads, each with its own child generator, so one or two
    # threads give the same resamples.
    rng = np.random.default_rng(5)
    base = rng.random(30_000)
    cand = base - 0.01 + rng.normal(0, 0.1, 30_000)
    two = oracle.paired_compare(base, cand, kind="continuous", rng=3)
    monkeypatch.setattr(stats, "_BOOT_THREADS", 1)
    one = oracle.paired_compare(base, cand, kind="continuous", rng=3)
    assert (two.ci_low, two.ci_high) == (one.ci_low, one.ci_high)
    other_seed = oracle.paired_compare(base, cand, kind="continuous", rng=4)
    assert (other_seed.ci_low, other_seed.ci_high) != (one.ci_low, one.ci_high)
