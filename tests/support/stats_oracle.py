"""Statistics the tests use beside evalkit's own: reference implementations and one-column views.

These were in :mod:`evalkit.comparison._stats` but nothing in the package called them; the
tests keep checking the package against them:

* reference implementations, independent of the package's vectorised engine:
  :func:`average_samples` (pandas group-by; checks ``moments_by_code``),
  :func:`mcnemar_exact` (scipy's ``binomtest``; checks ``_mcnemar_pvalues`` and the
  McNemar column of ``paired_columns``), :func:`power_from_se` (the normal power
  formula; checks ``mde_from_se``), :func:`flip_counts`;
* one-column views of the engine, so a test can hold one column of ``paired_columns`` (or
  its bootstrap, or its sign-flip test) against a published answer or scipy:
  :func:`paired_bootstrap_ci`, :func:`paired_permutation_test`, :func:`power_analysis`,
  :func:`paired_compare`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as sps

from evalkit.comparison import _stats as stats
from evalkit.comparison._stats import (
    Alternative,
    FloatArray,
    IntArray,
    RNGLike,
    Verdict,
    as_generator,
    cluster_codes,
    decide_verdicts,
    mde_from_se,
    paired_columns,
    paired_mean_difference,
)
from evalkit.data._records import MetricKind as Kind


@dataclass(frozen=True)
class CaseMeans:
    """Per-case means of repeated samples, in first-seen case order."""

    case_ids: npt.NDArray[Any]
    mean: FloatArray  # NaN when no sample of the case is scored
    sd: FloatArray  # within-case sample SD (ddof=1); 0 with fewer than 2 scored samples
    n_scored: IntArray
    n_samples: IntArray


def average_samples(
    case_ids: npt.ArrayLike, values: npt.ArrayLike, samples: npt.ArrayLike | None = None
) -> CaseMeans:
    """Returns per-case means and SDs of long-form (case_id, sample, value) scores.

    Unscored samples are NaN and left out; a case with no scored sample has a NaN mean.
    ``samples`` (optional) is only checked: a (case, sample) pair may appear once.
    A pandas group-by, independent of ``stats.moments_by_code``.
    """
    ids = np.asarray(case_ids, dtype=object)
    vals = np.asarray(values, dtype=np.float64)
    if ids.shape != vals.shape:
        raise ValueError("case_ids and values must have the same length")
    frame = pd.DataFrame({"case": ids, "value": vals})
    if samples is not None:
        frame["sample"] = np.asarray(samples)
        if frame.duplicated(["case", "sample"]).any():
            raise ValueError("a (case_id, sample) pair appears more than once")
    grouped = frame.groupby("case", sort=False)["value"]
    n_scored = grouped.count()
    sd = grouped.std(ddof=1).where(n_scored >= 2, 0.0)
    return CaseMeans(
        case_ids=np.asarray(n_scored.index, dtype=object),
        mean=grouped.mean().to_numpy(dtype=np.float64),
        sd=sd.to_numpy(dtype=np.float64),
        n_scored=n_scored.to_numpy(dtype=np.int64),
        n_samples=grouped.size().to_numpy(dtype=np.int64),
    )


@dataclass(frozen=True)
class BootstrapCI:
    """A percentile bootstrap confidence interval of the mean difference."""

    estimate: float
    low: float
    high: float
    se: float  # SD of the bootstrap means
    confidence: float
    n_resamples: int
    n_units: int
    clustered: bool


def paired_bootstrap_ci(
    differences: npt.ArrayLike,
    *,
    groups: Sequence[Any] | npt.ArrayLike | None = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    rng: RNGLike = 0,
) -> BootstrapCI:
    """Returns the percentile bootstrap CI of the mean paired difference.

    Method: Efron & Tibshirani 1993, "An Introduction to the Bootstrap", ch. 13 (percentile
    interval) over the paired differences, resampled by Poisson(1) weights as
    ``paired_columns`` does (``stats._bootstrap_means``); with clusters, whole clusters
    are resampled (cluster bootstrap; Field & Welsh 2007; Miller 2024 section 2.3) and
    the mean is the ratio of resampled sums to resampled counts. NaN differences are left out.
    """
    diff = np.asarray(differences, dtype=np.float64)
    keep = ~np.isnan(diff)
    labels = None if groups is None else np.asarray(groups, dtype=object)[keep]
    diff = diff[keep]
    clusters = cluster_codes(labels, len(diff))
    if len(diff) == 0:
        nan = math.nan
        return BootstrapCI(nan, nan, nan, nan, confidence, n_resamples, 0, clusters.clustered)
    sums, counts = stats._cluster_sums(diff[:, None], clusters)
    boot = stats._bootstrap_means(sums, counts, n_resamples, as_generator(rng))[:, 0]
    tail = (1 - confidence) / 2
    low, high = np.nanquantile(boot, [tail, 1 - tail])
    return BootstrapCI(
        estimate=float(diff.mean()),
        low=float(low),
        high=float(high),
        se=float(np.nanstd(boot, ddof=1)),
        confidence=confidence,
        n_resamples=n_resamples,
        n_units=clusters.n_clusters,
        clustered=clusters.clustered,
    )


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's exact test on the discordant pairs of two paired binary outcomes."""

    to_fail: int  # passed in the baseline, fails in the candidate
    to_pass: int  # failed in the baseline, passes in the candidate
    n_discordant: int
    p_value: float
    alternative: Alternative


def mcnemar_exact(
    baseline: npt.ArrayLike, candidate: npt.ArrayLike, *, alternative: Alternative = "two-sided"
) -> McNemarResult:
    """Returns McNemar's exact (binomial) test for paired 0/1 outcomes.

    Method: McNemar 1947, Psychometrika 12:153-157, exact form as in Agresti 2013,
    "Categorical Data Analysis", 3rd ed., section 11.1: condition on the n discordant
    pairs; the to-fail count is Binomial(n, 1/2) under H0 (scipy.stats.binomtest).
    Pairs with a NaN on either side are left out.
    """
    base = np.asarray(baseline, dtype=np.float64)
    cand = np.asarray(candidate, dtype=np.float64)
    keep = ~(np.isnan(base) | np.isnan(cand))
    base, cand = base[keep], cand[keep]
    if not np.all(np.isin(base, (0.0, 1.0)) & np.isin(cand, (0.0, 1.0))):
        raise ValueError("McNemar's test needs 0/1 outcomes on both sides")
    to_fail = int(np.sum((base == 1) & (cand == 0)))
    to_pass = int(np.sum((base == 0) & (cand == 1)))
    n = to_fail + to_pass
    if n == 0:
        return McNemarResult(to_fail, to_pass, 0, 1.0, alternative)
    # "less" (candidate passes less often) = more to-fail than chance.
    scipy_alternative = {"less": "greater", "greater": "less", "two-sided": "two-sided"}
    result = sps.binomtest(to_fail, n, 0.5, alternative=scipy_alternative[alternative])
    return McNemarResult(to_fail, to_pass, n, float(result.pvalue), alternative)


@dataclass(frozen=True)
class PermutationResult:
    """A paired (sign-flip) permutation test of the mean difference."""

    statistic: float  # the observed mean difference
    p_value: float
    n_resamples: int  # sign patterns used (2**units when exact)
    exact: bool
    n_units: int
    alternative: Alternative


def paired_permutation_test(
    differences: npt.ArrayLike,
    *,
    groups: Sequence[Any] | npt.ArrayLike | None = None,
    alternative: Alternative = "two-sided",
    n_resamples: int = 10_000,
    rng: RNGLike = 0,
) -> PermutationResult:
    """Returns the sign-flip permutation test of the mean paired difference.

    Method: Fisher 1935 / Pitman 1937 paired permutation test (Good 2005, "Permutation,
    Parametric and Bootstrap Tests of Hypotheses", section 3.7.2): under H0 each pair's
    difference is as likely to have either sign. With clusters the whole cluster's summed
    difference flips together (cluster permutation). Exact for up to
    EXACT_PERMUTATION_MAX_UNITS units, Monte Carlo with the +1 correction beyond.
    """
    diff = np.asarray(differences, dtype=np.float64)
    keep = ~np.isnan(diff)
    labels = None if groups is None else np.asarray(groups, dtype=object)[keep]
    diff = diff[keep]
    clusters = cluster_codes(labels, len(diff))
    if len(diff) == 0:
        return PermutationResult(math.nan, 1.0, 0, True, 0, alternative)
    sums, _ = stats._cluster_sums(diff[:, None], clusters)
    less, greater, two, exact, patterns = stats._signflip_pvalues(
        sums, n_resamples, as_generator(rng)
    )
    chosen = {"less": less, "greater": greater, "two-sided": two}[alternative]
    return PermutationResult(
        statistic=float(diff.mean()),
        p_value=float(chosen[0]),
        n_resamples=patterns,
        exact=exact,
        n_units=clusters.n_clusters,
        alternative=alternative,
    )


def power_from_se(
    effect: npt.ArrayLike, se: npt.ArrayLike, *, alpha: float = 0.05, sides: int = 1
) -> FloatArray:
    """Returns the power to detect ``|effect|`` given the SE of the mean difference.

    One-sided: Phi(|effect|/se - z_{1-alpha}); two-sided adds the (tiny) opposite tail.
    """
    ratio = np.abs(np.asarray(effect, dtype=np.float64)) / np.asarray(se, dtype=np.float64)
    z = float(sps.norm.ppf(1 - alpha / sides))
    power = sps.norm.cdf(ratio - z)
    if sides == 2:
        power = power + sps.norm.cdf(-ratio - z)
    return np.asarray(power)


@dataclass(frozen=True)
class PowerAnalysis:
    """Power of a paired comparison, from the observed SD of the differences."""

    n: int
    n_clusters: int
    sd_diff: float
    se: float  # cluster-robust when clustered
    design_effect: float
    alpha: float
    power: float
    sides: int
    mde: float  # smallest true effect detected with probability ``power``


def power_analysis(
    differences: npt.ArrayLike,
    *,
    groups: Sequence[Any] | npt.ArrayLike | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    sides: int = 1,
) -> PowerAnalysis:
    """Returns the minimum detectable effect of a paired design at the given power.

    Method: MDE = (z_{1-alpha/sides} + z_power) * SE, where SE = sd(d)/sqrt(n) inflated by
    the design effect of clustering (SE taken as the cluster-robust SE; Miller 2024,
    section 5, "power analysis"). Uses the observed SD of the differences.
    """
    diff = np.asarray(differences, dtype=np.float64)
    result = paired_mean_difference(np.zeros_like(diff), diff, groups=groups)
    sd = result.se * math.sqrt(result.n) if result.n > 0 else math.nan
    return PowerAnalysis(
        n=result.n,
        n_clusters=result.n_clusters,
        sd_diff=sd,
        se=result.se_cluster,
        design_effect=result.design_effect,
        alpha=alpha,
        power=power,
        sides=sides,
        mde=float(mde_from_se(result.se_cluster, alpha=alpha, power=power, sides=sides)),
    )


@dataclass(frozen=True)
class FlipCounts:
    """How paired pass/fail outcomes moved from the baseline to the candidate."""

    to_fail: int
    to_pass: int
    both_pass: int
    both_fail: int

    @property
    def n(self) -> int:
        """Returns the number of pairs counted."""
        return self.to_fail + self.to_pass + self.both_pass + self.both_fail


def flip_counts(baseline_pass: npt.ArrayLike, candidate_pass: npt.ArrayLike) -> FlipCounts:
    """Returns counts of pass->fail, fail->pass, pass->pass and fail->fail pairs."""
    base = np.asarray(baseline_pass, dtype=bool)
    cand = np.asarray(candidate_pass, dtype=bool)
    return FlipCounts(
        to_fail=int(np.sum(base & ~cand)),
        to_pass=int(np.sum(~base & cand)),
        both_pass=int(np.sum(base & cand)),
        both_fail=int(np.sum(~base & ~cand)),
    )


@dataclass(frozen=True)
class PairedResult:
    """The paired comparison of one metric: estimate, CI, tests, MDE and verdict."""

    delta: float  # candidate - baseline, in the metric's units
    ci_low: float
    ci_high: float
    p_value: float  # one-sided, H1: candidate worse (direction-aware)
    p_value_better: float  # one-sided, H1: candidate better
    p_value_two_sided: float
    test: str
    mde: float  # design-time, one-sided at alpha, 80% power (see paired_columns)
    mde_observed: float  # at this comparison's observed noise
    se: float
    n_paired: int
    n_units: int
    clustered: bool
    baseline_mean: float
    candidate_mean: float
    non_inferior: bool
    margin: float
    alpha: float
    higher_is_better: bool
    n_unscored: int
    flips_to_fail: int
    flips_to_pass: int
    verdict: Verdict
    reason: str


def paired_compare(
    baseline: npt.ArrayLike,
    candidate: npt.ArrayLike,
    *,
    kind: Kind,
    groups: Sequence[Any] | npt.ArrayLike | None = None,
    alpha: float = 0.05,
    margin: float = 0.0,
    higher_is_better: bool = True,
    n_boot: int = 2000,
    rng: RNGLike = 0,
) -> PairedResult:
    """Returns the paired comparison of two aligned score arrays (one value per case).

    NaN marks an unscored case; it is left out and counted in ``n_unscored``. Tests, CI
    and verdict as in :func:`paired_columns` and :func:`decide_verdicts`; the verdict uses
    the raw one-sided p-values (no multiplicity adjustment for a single comparison).
    """
    base = np.asarray(baseline, dtype=np.float64)
    cand = np.asarray(candidate, dtype=np.float64)
    if base.ndim != 1 or base.shape != cand.shape:
        raise ValueError("baseline and candidate must be 1-D arrays of the same length")
    columns = paired_columns(
        base,
        cand,
        kinds=kind,
        groups=groups,
        alpha=alpha,
        margin=margin,
        higher_is_better=higher_is_better,
        n_boot=n_boot,
        rng=rng,
    )
    verdicts, reasons = decide_verdicts(columns)
    return PairedResult(
        delta=float(columns.delta[0]),
        ci_low=float(columns.ci_low[0]),
        ci_high=float(columns.ci_high[0]),
        p_value=float(columns.p_worse[0]),
        p_value_better=float(columns.p_better[0]),
        p_value_two_sided=float(columns.p_two_sided[0]),
        test=columns.tests[0],
        mde=float(columns.mde[0]),
        mde_observed=float(columns.mde_observed[0]),
        se=float(columns.se[0]),
        n_paired=int(columns.n_paired[0]),
        n_units=int(columns.n_units[0]),
        clustered=columns.clustered,
        baseline_mean=float(columns.baseline_mean[0]),
        candidate_mean=float(columns.candidate_mean[0]),
        non_inferior=bool(columns.non_inferior[0]),
        margin=margin,
        alpha=alpha,
        higher_is_better=higher_is_better,
        n_unscored=int(len(base) - columns.n_paired[0]),
        flips_to_fail=int(columns.to_fail[0]),
        flips_to_pass=int(columns.to_pass[0]),
        verdict=verdicts[0],
        reason=reasons[0],
    )
