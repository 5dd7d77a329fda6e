"""Paired statistics for comparing two runs on the same cases.

Pure functions over numpy arrays; every random procedure takes ``rng`` (a
:class:`numpy.random.Generator`, a seed, or None). Results are frozen dataclasses with
named fields. Conventions used throughout:

* ``differences`` are ``candidate - baseline`` per case, NaN where a case is unscored on
  either side (such cases are left out and counted, never scored as 0).
* ``alternative`` follows scipy: ``"less"`` means candidate < baseline, ``"greater"``
  candidate > baseline. Whether "less" is worse depends on the metric's direction.
* ``groups`` are cluster labels per case (the golden case's ``group``). When some cluster
  holds more than one case, standard errors, bootstrap and permutation work on whole
  clusters (Miller 2024, "Adding Error Bars to Evals", arXiv:2411.00640, section 2.3).

:func:`paired_columns` and :func:`decide_verdicts` are the engine
:mod:`evalkit.comparison._compare` uses to test many metrics and slices with one shared
set of resamples; :func:`non_inferiority_test` is the gate's non-inferiority rule for one
set of differences, and :func:`paired_mean_difference` the cluster-robust mean and t
interval (nightly runs use it). Apart from :func:`non_inferiority_test` (for users who
hold differences rather than runs), every function here has a caller in evalkit; the
tests' one-column views and reference implementations live in the tests
(``tests/support/stats_oracle.py``).

Verdicts (one-sided tests at ``alpha``, after multiplicity adjustment in compare):

* ``regression``  — the candidate is significantly worse (p for "worse" <= alpha).
* ``improvement`` — significantly better (p for "better" <= alpha).
* ``no-change``   — neither; and when a margin > 0 is set, the (1 - alpha) CI also rules
  out a drop larger than the margin (non-inferiority shown).
* ``inconclusive`` — fewer than :data:`MIN_UNITS` paired cases (or clusters), or a margin
  > 0 is set and the CI still allows a drop larger than it (the suite cannot tell).
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse
from scipy import stats as sps

from evalkit.comparison._model import Verdict, mde_text

if TYPE_CHECKING:
    from evalkit.config._suite import Correction
    from evalkit.data._records import MetricKind

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
RNGLike = np.random.Generator | int | None
Alternative = Literal["two-sided", "less", "greater"]

MIN_UNITS = 2
"""Fewer paired cases (clusters, when clustered) than this gives ``inconclusive``."""

EXACT_PERMUTATION_MAX_UNITS = 15
"""Up to this many units the sign-flip test enumerates all 2**n sign patterns."""

# resamples x units per chunk: bounds memory (~32 MB of weights per thread)
_BOOT_CHUNK_ELEMENTS = 4_000_000
_BOOT_THREADS = max(1, min(2, os.cpu_count() or 1))
_TIE_TOLERANCE = 1e-9


def as_generator(rng: RNGLike) -> np.random.Generator:
    """Returns ``rng`` as a Generator (a seed or None makes a new one)."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


# ---------------------------------------------------------------- clusters


@dataclass(frozen=True)
class Clusters:
    """Cluster membership of n cases: ``codes[i]`` in ``range(n_clusters)``."""

    codes: IntArray
    n_clusters: int

    @property
    def clustered(self) -> bool:
        """True when some cluster holds more than one case."""
        return self.n_clusters < len(self.codes)


def cluster_codes(groups: Sequence[Any] | npt.ArrayLike | None, n: int) -> Clusters:
    """Returns integer cluster codes; cases with no group (None/NaN) are their own cluster."""
    if groups is None:
        return Clusters(np.arange(n, dtype=np.int64), n)
    labels = np.asarray(groups, dtype=object)
    if labels.shape != (n,):
        raise ValueError(f"groups has shape {labels.shape}, expected ({n},)")
    codes, uniques = pd.factorize(labels, use_na_sentinel=True)
    codes = codes.astype(np.int64)
    missing = codes < 0
    n_clusters = len(uniques)
    codes[missing] = n_clusters + np.arange(int(missing.sum()))
    return Clusters(codes, n_clusters + int(missing.sum()))


def _as_columns(values: npt.ArrayLike) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        return array[:, None]
    if array.ndim != 2:
        raise ValueError(f"expected a 1-D or 2-D array, got {array.ndim}-D")
    return array


def _cluster_sums(values: FloatArray, clusters: Clusters) -> tuple[FloatArray, FloatArray]:
    """Returns per-cluster sums of the scored values and per-cluster counts of them."""
    mask = ~np.isnan(values)
    filled = np.where(mask, values, 0.0)
    counts = mask.astype(np.float64)
    if not clusters.clustered:  # every case is its own unit
        return filled, counts
    n = len(clusters.codes)
    member = sparse.csr_matrix(
        (np.ones(n), (clusters.codes, np.arange(n))), shape=(clusters.n_clusters, n)
    )
    return np.asarray(member @ filled), np.asarray(member @ counts)


# ---------------------------------------------------------------- averaging samples


@dataclass(frozen=True)
class CodeMoments:
    """Mean, SD and counts of values grouped by integer code (NaN values left out)."""

    mean: FloatArray  # NaN where no value of the code is scored
    sd: FloatArray  # ddof=1; 0 with fewer than 2 scored values
    n_scored: FloatArray
    n_rows: FloatArray


def moments_by_code(codes: IntArray, values: FloatArray, n_codes: int) -> CodeMoments:
    """Returns per-code means and SDs of ``values`` (codes in range(n_codes)), via bincount."""
    scored = ~np.isnan(values)
    filled = np.where(scored, values, 0.0)
    n_scored = np.bincount(codes, weights=scored, minlength=n_codes).astype(np.float64)
    total = np.bincount(codes, weights=filled, minlength=n_codes)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n_scored
        centred = np.where(scored, values - mean[codes], 0.0)
        sum_sq = np.bincount(codes, weights=centred**2, minlength=n_codes)
        sd = np.where(n_scored >= 2, np.sqrt(sum_sq / (n_scored - 1)), 0.0)
    n_rows = np.bincount(codes, minlength=n_codes).astype(np.float64)
    return CodeMoments(mean, sd, n_scored, n_rows)


# ---------------------------------------------------------------- mean difference and SEs


@dataclass(frozen=True)
class MeanDifference:
    """Paired mean difference with its CLT and cluster-robust standard errors.

    ``se`` is the CLT standard error sd(d)/sqrt(n); ``se_cluster`` is the cluster-robust
    (CR1) standard error of Miller 2024, eq. 4, with the small-sample factor G/(G-1);
    without clusters the two are equal. ``df`` is n - 1, or G - 1 when clustered.
    """

    delta: float
    se: float
    se_cluster: float
    n: int
    n_clusters: int
    df: int

    @property
    def design_effect(self) -> float:
        """Returns (se_cluster / se)**2: how much clustering inflates the variance."""
        return (self.se_cluster / self.se) ** 2 if self.se > 0 else 1.0

    def confidence_interval(
        self, confidence: float = 0.95, *, clustered: bool = True
    ) -> tuple[float, float]:
        """Returns the t interval delta ± t(df) * SE (cluster-robust SE unless told not)."""
        se = self.se_cluster if clustered else self.se
        df = self.df if clustered else max(self.n - 1, 1)
        half = float(sps.t.ppf(0.5 + confidence / 2, df)) * se
        return self.delta - half, self.delta + half


@dataclass(frozen=True)
class _Moments:
    """Column-wise paired moments shared by every test below."""

    n: FloatArray
    n_units: FloatArray
    mean: FloatArray
    se: FloatArray
    se_cluster: FloatArray
    unit_sums: FloatArray
    unit_counts: FloatArray


def _units_without_spread(moments: _Moments) -> npt.NDArray[np.bool_]:
    """Returns True for columns whose units' (cases' or clusters') mean differences are equal."""
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        unit_means = moments.unit_sums / np.where(
            moments.unit_counts > 0, moments.unit_counts, np.nan
        )
        spread = np.nanmax(unit_means, axis=0) - np.nanmin(unit_means, axis=0)
        scale = np.maximum(1.0, np.nanmax(np.abs(unit_means), axis=0))
    return np.asarray(spread <= 1e-12 * scale)


def _moments(differences: FloatArray, clusters: Clusters) -> _Moments:
    mask = ~np.isnan(differences)
    n = mask.sum(axis=0).astype(np.float64)
    sums, counts = _cluster_sums(differences, clusters)
    n_units = (counts > 0).sum(axis=0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums.sum(axis=0) / n
        centred = np.where(mask, differences - mean, 0.0)
        se = np.sqrt((centred**2).sum(axis=0) / (n - 1) / n)
        residual = sums - counts * mean
        factor = n_units / (n_units - 1)
        se_cluster = np.sqrt(factor * (residual**2).sum(axis=0)) / n
    return _Moments(n, n_units, mean, se, se_cluster, sums, counts)


def paired_mean_difference(
    baseline: npt.ArrayLike,
    candidate: npt.ArrayLike,
    *,
    groups: Sequence[Any] | npt.ArrayLike | None = None,
) -> MeanDifference:
    """Returns the mean of candidate - baseline with CLT and cluster-robust SEs.

    Method: Miller 2024, "Adding Error Bars to Evals" (arXiv:2411.00640): the CLT standard
    error of the paired differences (section 2.2, eq. 2/6) and the clustered standard error
    (section 2.3, eq. 4), with the CR1 small-sample correction G/(G-1) (Cameron & Miller
    2015). Pairs with a NaN on either side are left out.
    """
    diff = np.asarray(candidate, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    clusters = cluster_codes(groups, len(diff))
    moments = _moments(diff[:, None], clusters)
    n_units = int(moments.n_units[0])
    return MeanDifference(
        delta=float(moments.mean[0]),
        se=float(moments.se[0]),
        se_cluster=float(moments.se_cluster[0]),
        n=int(moments.n[0]),
        n_clusters=n_units,
        df=max(n_units - 1, 1),
    )


# ---------------------------------------------------------------- bootstrap


def _poisson_table(levels: int = 65536) -> FloatArray:
    """Returns the Poisson(1) quantile of (u + 0.5) / levels for every u < levels."""
    cdf = np.cumsum([math.exp(-1) / math.factorial(k) for k in range(20)])
    return np.searchsorted(cdf, (np.arange(levels) + 0.5) / levels).astype(np.float64)


_POISSON_ONE = _poisson_table()


def _bootstrap_means(
    unit_sums: FloatArray, unit_counts: FloatArray, n_boot: int, rng: np.random.Generator
) -> FloatArray:
    """Returns (n_boot, m) resampled means: Poisson(1)-weighted ratio of unit sums to counts.

    Each resample weights every unit by an independent Poisson(1) count (the Poisson
    bootstrap: Hanley & MacGibbon 2006, Comput. Methods Programs Biomed. 83:57-62;
    Chamandy et al. 2012, "Estimating uncertainty for massive data streams", Google),
    which matches the multinomial bootstrap to first order and needs no scatter step:
    one 16-bit random draw and a table lookup per unit, then a matrix product shared by
    all m columns.
    """
    n_units, m = unit_sums.shape
    out = np.empty((n_boot, m))
    # One product gives numerators and denominators; with no missing values every
    # column's denominator is the same total weight, so one column of ones serves all.
    ones = bool(np.all(unit_counts == 1.0))
    stacked = np.hstack([unit_sums, np.ones((n_units, 1)) if ones else unit_counts])
    chunk = max(1, _BOOT_CHUNK_ELEMENTS // max(n_units, 1))
    starts = list(range(0, n_boot, chunk))
    # One child generator per chunk: the draws do not depend on which thread runs a chunk
    # or in what order, so results stay reproducible for a given rng.
    generators = rng.spawn(len(starts))

    def resample(index: int) -> None:
        start = starts[index]
        size = min(chunk, n_boot - start)
        draws = generators[index].integers(
            0, len(_POISSON_ONE), size=(size, n_units), dtype=np.uint16
        )
        products = _POISSON_ONE[draws] @ stacked
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + size] = products[:, :m] / products[:, m:]

    # The products are thin (m + 1 columns): BLAS threads gain little and, on a busy
    # machine, spin. Instead whole chunks run in parallel threads (drawing, gathering and
    # the product all release the GIL): 100k units x 21 columns x 2,000 resamples took
    # 3.1 s in one thread and 1.2 s in two on this 2-core machine.
    workers = min(_BOOT_THREADS, len(starts))
    # Imported here: threadpoolctl sets KMP_DUPLICATE_LIB_OK when imported, and importing
    # evalkit must change nothing in a host process.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        if workers <= 1:
            for index in range(len(starts)):
                resample(index)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(resample, range(len(starts))))
    return out


# ---------------------------------------------------------------- McNemar


def _mcnemar_pvalues(
    to_fail: npt.ArrayLike, to_pass: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Returns exact (p_less, p_greater, p_two_sided) for arrays of discordant counts.

    Under H0 the to-fail count is Binomial(n_discordant, 1/2); "less" means the candidate
    passes less often. Two-sided is twice the smaller tail, capped at 1 (the binomial
    with p = 1/2 is symmetric, so this equals scipy.stats.binomtest's two-sided p).
    """
    down = np.asarray(to_fail, dtype=np.float64)
    up = np.asarray(to_pass, dtype=np.float64)
    total = down + up
    p_less = sps.binom.sf(down - 1, total, 0.5)
    p_greater = sps.binom.sf(up - 1, total, 0.5)
    p_two = np.minimum(1.0, 2.0 * np.minimum(p_less, p_greater))
    return np.asarray(p_less), np.asarray(p_greater), np.asarray(p_two)


# ---------------------------------------------------------------- Wilcoxon signed-rank


@dataclass(frozen=True)
class SignedRankResult:
    """Wilcoxon's signed-rank test on the paired differences."""

    statistic: float
    p_value: float
    n_nonzero: int
    alternative: Alternative


def wilcoxon_signed_rank(
    differences: npt.ArrayLike, *, alternative: Alternative = "two-sided"
) -> SignedRankResult:
    """Returns Wilcoxon's signed-rank test of the differences' symmetry about zero.

    Method: Wilcoxon 1945; Hollander, Wolfe & Chicken 2014, "Nonparametric Statistical
    Methods", 3rd ed., section 3.1; computed by scipy.stats.wilcoxon (zero differences
    dropped; exact null distribution for n <= 50 without ties or zeros, exact enumeration
    of sign patterns for n <= 13 otherwise, else the normal approximation with tie
    correction). All-zero differences give p = 1. NaNs are left out.
    """
    diff = np.asarray(differences, dtype=np.float64)
    diff = diff[~np.isnan(diff)]
    nonzero = int(np.count_nonzero(diff))
    if nonzero == 0:
        return SignedRankResult(math.nan, 1.0, 0, alternative)
    nonzero_diff = diff[diff != 0]
    has_ties = np.unique(np.abs(nonzero_diff)).size < nonzero_diff.size
    # Chosen explicitly: with ties or zeros scipy's "auto" runs a permutation test through
    # scipy.stats.permutation_test (~1-2 s a call; randomised above 13 differences).
    # Up to _ENUMERATE_MAX differences every sign pattern is enumerated here instead
    # (the same exact answer in under a millisecond).
    if nonzero <= 50 and not has_ties and nonzero == diff.size:
        method = "exact"
    elif nonzero <= _ENUMERATE_MAX:
        statistic, p_value = _enumerated_signed_rank(nonzero_diff, alternative)
        return SignedRankResult(statistic, p_value, nonzero, alternative)
    else:
        method = "asymptotic"
    result = sps.wilcoxon(diff, zero_method="wilcox", alternative=alternative, method=method)
    return SignedRankResult(float(result.statistic), float(result.pvalue), nonzero, alternative)


_ENUMERATE_MAX = 13


def _enumerated_signed_rank(
    nonzero_diff: FloatArray, alternative: Alternative
) -> tuple[float, float]:
    """Returns (W+, p) of the signed-rank test by enumerating all 2**n sign patterns.

    Exact under the null of symmetry about zero, with average ranks for ties (Hollander,
    Wolfe & Chicken 2014, section 3.1); the statistic is scipy's (the smaller rank sum for
    two-sided, W+ otherwise).
    """
    n = nonzero_diff.size
    ranks = sps.rankdata(np.abs(nonzero_diff))
    observed = float(ranks[nonzero_diff > 0].sum())
    patterns = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
    null = patterns @ ranks
    tolerance = 1e-9 * max(1.0, float(ranks.sum()))
    p_greater = float(np.mean(null >= observed - tolerance))
    p_less = float(np.mean(null <= observed + tolerance))
    if alternative == "greater":
        return observed, p_greater
    if alternative == "less":
        return observed, p_less
    smaller = min(observed, float(ranks.sum()) - observed)
    return smaller, min(1.0, 2.0 * min(p_greater, p_less))


def _wilcoxon_pvalues(differences: FloatArray) -> tuple[float, float, float]:
    """Returns (p_less, p_greater, p_two_sided) of Wilcoxon's test on one column."""
    less = wilcoxon_signed_rank(differences, alternative="less").p_value
    greater = wilcoxon_signed_rank(differences, alternative="greater").p_value
    return less, greater, min(1.0, 2.0 * min(less, greater))


def _wilcoxon_columns(differences: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Returns (p_less, p_greater, p_two_sided) per column of a NaN-free (n, m) array.

    One vectorised scipy call per alternative. Only for n > 50 rows, where scipy uses the
    normal approximation for every column, so each column's p-value equals the one
    :func:`wilcoxon_signed_rank` gives it alone (for small n scipy chooses exact or
    asymptotic from the ties of *all* columns at once).
    """
    if differences.shape[0] <= 50:
        raise ValueError("vectorised Wilcoxon needs more than 50 rows")
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-zero columns
        less = np.atleast_1d(sps.wilcoxon(differences, axis=0, alternative="less").pvalue)
        greater = np.atleast_1d(sps.wilcoxon(differences, axis=0, alternative="greater").pvalue)
    no_change = np.count_nonzero(differences, axis=0) == 0
    less = np.where(no_change, 1.0, less)
    greater = np.where(no_change, 1.0, greater)
    return less, greater, np.minimum(1.0, 2.0 * np.minimum(less, greater))


# ---------------------------------------------------------------- sign-flip permutation


def _signflip_pvalues(
    unit_sums: FloatArray, n_resamples: int, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, FloatArray, bool, int]:
    """Returns (p_less, p_greater, p_two, exact, patterns) for each column of unit sums.

    Under H0 the sign of each unit's summed difference is a fair coin. Up to
    EXACT_PERMUTATION_MAX_UNITS units all patterns are enumerated; beyond that
    ``n_resamples`` random patterns are drawn and p = (1 + hits) / (1 + n_resamples)
    (Phipson & Smyth 2010), so a p-value is never 0.
    """
    n_units, m = unit_sums.shape
    observed = unit_sums.sum(axis=0)
    scale = np.abs(unit_sums).sum(axis=0) + 1e-300
    tol = _TIE_TOLERANCE * scale
    less = np.zeros(m)
    greater = np.zeros(m)
    two = np.zeros(m)
    exact = n_units <= EXACT_PERMUTATION_MAX_UNITS
    if exact:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n_units)), ndmin=2)
        stats = signs @ unit_sums
        less = (stats <= observed + tol).sum(axis=0) / len(signs)
        greater = (stats >= observed - tol).sum(axis=0) / len(signs)
        two = (np.abs(stats) >= np.abs(observed) - tol).sum(axis=0) / len(signs)
        return less, greater, np.minimum(two, 1.0), True, len(signs)
    chunk = max(1, _BOOT_CHUNK_ELEMENTS // n_units)
    n_bytes = (n_units + 7) // 8
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        raw = rng.integers(0, 256, size=(size, n_bytes), dtype=np.uint8)
        bits = np.unpackbits(raw, axis=1)[:, :n_units].astype(np.float64)
        stats = 2.0 * (bits @ unit_sums) - observed
        less += (stats <= observed + tol).sum(axis=0)
        greater += (stats >= observed - tol).sum(axis=0)
        two += (np.abs(stats) >= np.abs(observed) - tol).sum(axis=0)
    denominator = n_resamples + 1.0
    return (
        (less + 1) / denominator,
        (greater + 1) / denominator,
        np.minimum((two + 1) / denominator, 1.0),
        False,
        n_resamples,
    )


# ---------------------------------------------------------------- multiplicity


def adjust_pvalues(p_values: npt.ArrayLike, method: Correction = "bh") -> FloatArray:
    """Returns multiplicity-adjusted p-values (q-values); NaN entries stay NaN.

    Methods: ``"bh"`` Benjamini & Hochberg 1995, JRSS B 57:289-300 (step-up, controls the
    false discovery rate); ``"holm"`` Holm 1979, Scand. J. Statist. 6:65-70 (step-down,
    controls the family-wise error rate); ``"none"`` returns them unchanged. The family
    is the finite entries. Agrees with statsmodels.stats.multitest.multipletests
    (``fdr_bh`` / ``holm``).
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = p.copy()
    finite = ~np.isnan(p)
    values = p[finite]
    m = len(values)
    if method == "none" or m == 0:
        return out
    order = np.argsort(values, kind="mergesort")
    ranked = values[order]
    if method == "bh":
        scaled = ranked * m / np.arange(1, m + 1)
        adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    elif method == "holm":
        scaled = ranked * (m - np.arange(m))
        adjusted = np.maximum.accumulate(scaled)
    else:
        raise ValueError(f"unknown correction {method!r}; use 'bh', 'holm' or 'none'")
    result = np.empty(m)
    result[order] = np.minimum(adjusted, 1.0)
    out[finite] = result
    return out


# ---------------------------------------------------------------- power and MDE


def _z(alpha: float, sides: int) -> float:
    if sides not in (1, 2):
        raise ValueError("sides must be 1 or 2")
    return float(sps.norm.ppf(1 - alpha / sides))


def mde_from_se(
    se: npt.ArrayLike, *, alpha: float = 0.05, power: float = 0.8, sides: int = 1
) -> FloatArray:
    """Returns the minimum detectable effect (z_{1-alpha/sides} + z_power) * se.

    Method: the normal-approximation sample-size formula for a paired design (Chow, Shao &
    Wang 2008, "Sample Size Calculations in Clinical Research", section 3.1), solved for the
    effect. For one-sided tests (the gate's) ``sides=1``.
    """
    multiplier = _z(alpha, sides) + float(sps.norm.ppf(power))
    return np.asarray(se, dtype=np.float64) * multiplier


def mde_exact_flips(n: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Returns the smallest share of ``n`` passing cases that must flip to fail for McNemar's
    exact one-sided test to see it with probability ``power``, when none flips back.

    This is the MDE of a binary metric that passed on every case in the baseline: the SD
    of the differences is 0 there, so the normal formula would claim any drop is seen.
    Method: with b flips to fail and none to pass the exact p-value is 0.5**b, so the test
    rejects at ``alpha`` from k = ceil(log2(1/alpha)) flips. Flips ~ Binomial(n, delta),
    and P(Binomial(n, delta) >= k) = P(Beta(k, n - k + 1) <= delta), so the MDE is the
    ``power`` quantile of Beta(k, n - k + 1). ``inf`` when n < k: no drop can show.
    """
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must be in (0, 1)")
    k = max(1, math.ceil(math.log2(1 / alpha) - 1e-12))
    if n < k:
        return math.inf
    return float(sps.beta.ppf(power, k, n - k + 1))


# ---------------------------------------------------------------- design-time MDE

DEFAULT_MDE_CORRELATION = 0.5
"""Assumed correlation between a case's baseline and candidate scores (gate.mde_correlation).

With it the paired differences have the variance of one run's scores, 2 sigma^2 (1 - 0.5)
= sigma^2: between an unrelated candidate (0, twice that) and a trivial edit (near 1).
Lower it for a candidate that may change many answers (a new model), raise it for a
small prompt edit; see docs/sizing.md.
"""

MDE_POWER = 0.8
"""The power every reported MDE is computed at."""

_BINARY_ITERATIONS = 8  # fixed-point steps for a pass rate's variance at the candidate
WILCOXON_EFFICIENCY = 3 / math.pi
"""Pitman efficiency of Wilcoxon's signed-rank test relative to the t test, normal data."""


@dataclass(frozen=True)
class BaselineSpread:
    """Per-column spread of baseline scores: what a design-time MDE is computed from.

    Arrays of length m (one entry per column); NaN where a column has no scored case.
    """

    n: FloatArray  # scored cases
    n_clusters: FloatArray  # clusters holding them (= n without clusters)
    mean: FloatArray  # the pass rate for a 0/1 metric
    variance: FloatArray  # p (1 - p) for a 0/1 binary column, else the sample variance
    icc: FloatArray  # intra-cluster correlation (one-way ANOVA estimator, in [0, 1])
    cluster_size: FloatArray  # sum of squared cluster sizes / n (1 without clusters)

    @property
    def design_effect(self) -> FloatArray:
        """Returns 1 + (cluster_size - 1) * icc: how clustering inflates the variance."""
        return np.asarray(1.0 + (self.cluster_size - 1.0) * self.icc)


def _zero_one_columns(table: FloatArray, kinds: Sequence[str]) -> BoolArray:
    """Returns True for each binary column whose scored values are all 0 or 1."""
    return np.array(
        [
            kind == "binary" and bool(np.all(np.isin(col[~np.isnan(col)], (0.0, 1.0))))
            for kind, col in zip(kinds, table.T, strict=True)
        ],
        dtype=bool,
    )


def baseline_spread(
    values: npt.ArrayLike,
    *,
    kinds: MetricKind | Sequence[MetricKind],
    groups: Sequence[Any] | npt.ArrayLike | None = None,
) -> BaselineSpread:
    """Returns each column's variance, pass rate and intra-cluster correlation.

    ``values`` is (n,) or (n, m) per-case scores (NaN: unscored, left out). A binary
    column of 0/1 values takes the binomial variance p (1 - p) of its pass rate p; other
    columns the sample variance (ddof=1). The intra-cluster correlation is the one-way
    ANOVA estimator with unequal cluster sizes, (MSB - MSW) / (MSB + (m0 - 1) MSW) with
    m0 = (n - sum m_g^2 / n) / (G - 1) (Donner 1986, Int. Stat. Rev. 54:67-82; for 0/1
    data Ridout, Demetrio & Firth 1999, Biometrics 55:137-148), clipped to [0, 1]. With it
    the variance of a mean over clusters of sizes m_g is sigma^2 / n times the design
    effect 1 + (sum m_g^2 / n - 1) icc (Kish 1965, "Survey Sampling", section 5.4).
    """
    table = _as_columns(values)
    n_rows, m = table.shape
    kind_list = [kinds] * m if isinstance(kinds, str) else list(kinds)
    if len(kind_list) != m:
        raise ValueError(f"{len(kind_list)} kinds for {m} columns")
    clusters = cluster_codes(groups, n_rows)
    sums, counts = _cluster_sums(table, clusters)
    scored = ~np.isnan(table)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        n = counts.sum(axis=0)
        n_clusters = (counts > 0).sum(axis=0).astype(np.float64)
        mean = sums.sum(axis=0) / n
        # Two passes (centred sums), and an exactly constant column has no spread at all:
        # float rounding must not invent a variance of 1e-32.
        constant = np.nanmax(table, axis=0) == np.nanmin(table, axis=0)
        total_ss = np.where(scored, (table - mean) ** 2, 0.0).sum(axis=0)
        unit_mean = sums / counts
        if clusters.clustered:
            within = np.where(scored, (table - unit_mean[clusters.codes]) ** 2, 0.0)
            within_ss = within.sum(axis=0)
        else:
            within_ss = np.zeros(table.shape[1])
        between_ss = np.where(counts > 0, counts * (unit_mean - mean) ** 2, 0.0).sum(axis=0)
        sample_var = np.where(n >= 2, total_ss / (n - 1), np.nan)
        binomial = _zero_one_columns(table, kind_list)
        variance = np.where(binomial, mean * (1 - mean), sample_var)
        variance = np.where(constant, 0.0, variance)
        variance = np.where(n >= 1, np.maximum(variance, 0.0), np.nan)
        cluster_size = (counts**2).sum(axis=0) / n
        msb = between_ss / (n_clusters - 1)
        msw = within_ss / (n - n_clusters)
        m0 = (n - cluster_size) / (n_clusters - 1)
        icc = (msb - msw) / (msb + (m0 - 1) * msw)
        icc = np.where(within_ss > 0, icc, np.where(between_ss > 0, 1.0, 0.0))
    singletons = n_clusters >= n  # no cluster holds two scored cases
    icc = np.where(singletons | constant | ~np.isfinite(icc), 0.0, np.clip(icc, 0.0, 1.0))
    return BaselineSpread(
        n=n.astype(np.float64),
        n_clusters=n_clusters,
        mean=mean,
        variance=variance,
        icc=np.where(n >= 1, icc, np.nan),
        cluster_size=np.where(n >= 1, cluster_size, np.nan),
    )


def family_alpha(alpha: float, correction: Correction, n_tests: int) -> float:
    """Returns the per-row significance level a lone regression must reach under ``correction``.

    The gate adjusts the one-sided p-values of all its rows (metrics x slices) and calls a
    row a regression when the adjusted value is <= alpha. For one row that moved while the
    others did not, Benjamini-Hochberg (its smallest p is compared with alpha / m) and Holm
    (its first step is Bonferroni) both need p <= alpha / m; a row with p <= alpha / m is
    flagged whatever the other rows do. So the design-time MDE is computed at alpha / m
    for ``"bh"`` and ``"holm"`` (a guarantee, conservative when several rows move
    together, which makes BH more lenient), and at alpha for ``"none"``.
    """
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    if correction == "none" or n_tests <= 1:
        return alpha
    return alpha / n_tests


def _difference_variance(
    variance: FloatArray, candidate_variance: npt.ArrayLike | None, correlation: float
) -> FloatArray:
    """Returns Var(candidate - baseline) = s_b^2 + s_c^2 - 2 rho s_b s_c per case."""
    if not -1 < correlation < 1:
        raise ValueError("correlation must be in (-1, 1)")
    if candidate_variance is None:
        return np.asarray(2 * variance * (1 - correlation), dtype=np.float64)
    other = np.asarray(candidate_variance, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        cross = 2 * correlation * np.sqrt(variance * other)
    return np.asarray(variance + other - cross, dtype=np.float64)


def _quantiles(alpha: float, power: float, df: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Returns (q_{1-alpha}, q_power) of Student's t with ``df`` (the normal where inf)."""
    degrees = np.asarray(df, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.where(np.isfinite(degrees), sps.t.ppf(1 - alpha, degrees), _z(alpha, 1))
        strength = np.where(np.isfinite(degrees), sps.t.ppf(power, degrees), sps.norm.ppf(power))
    return np.asarray(level, dtype=np.float64), np.asarray(strength, dtype=np.float64)


def design_mde(
    variance: npt.ArrayLike,
    n: npt.ArrayLike,
    *,
    correlation: float = DEFAULT_MDE_CORRELATION,
    design_effect: npt.ArrayLike = 1.0,
    cluster_size: npt.ArrayLike = 0.0,
    efficiency: npt.ArrayLike = 1.0,
    alpha: float = 0.05,
    power: float = MDE_POWER,
    candidate_variance: npt.ArrayLike | None = None,
    df: npt.ArrayLike = math.inf,
    continuity: npt.ArrayLike = 0.0,
) -> FloatArray:
    """Returns the smallest drop a one-sided paired test at ``alpha`` detects with ``power``.

    Method: Miller 2024, "Adding Error Bars to Evals" (arXiv:2411.00640), section 5 (power
    analysis): the paired differences of two runs whose per-case scores have variance
    sigma^2 and correlation rho have variance V = 2 sigma^2 (1 - rho) (or, when the
    candidate's variance s^2 differs, as a pass rate's does when it drops, V = sigma^2 +
    s^2 - 2 rho sigma s: ``candidate_variance``); clustering
    multiplies it by the design effect, a less efficient test divides it by its
    efficiency: V' = V * design_effect / efficiency. With ``cluster_size`` k = 0 this is
    the textbook MDE (z_{1-alpha} + z_power) sqrt(V' / n); ``df`` < inf takes Student's t
    quantiles instead of z (a test on G clusters: G - 1). The gate's McNemar test
    standardises the summed difference S by its *uncentred* spread (b + c), which a true
    drop inflates by k n delta^2 (k = 1), and its exact p-value is conservative, which a
    ``continuity`` correction c = 1 on S (half the step of S) reproduces; the MDE then
    solves n delta = z_{1-alpha} sqrt(n V' + k n delta^2) + z_power sqrt(n V') + c
    (Connor 1987, Biometrics 43:207-211; Fleiss, Levin & Paik 2003, "Statistical Methods
    for Rates and Proportions", 3rd ed., section 4.3). ``inf`` when no drop reaches
    ``power``.
    """
    var = np.asarray(variance, dtype=np.float64)
    count = np.asarray(n, dtype=np.float64)
    v = _difference_variance(var, candidate_variance, correlation)
    v = v * np.asarray(design_effect) / np.asarray(efficiency)
    z_a, z_b = _quantiles(alpha, power, df)
    k = np.asarray(cluster_size, dtype=np.float64)
    c = np.asarray(continuity, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        # (n x - u)^2 = z_a^2 (s^2 + k n x^2), u = z_b s + c, s^2 = n V': a quadratic in x
        s2 = count * v
        u = z_b * np.sqrt(s2) + c
        a = count**2 - z_a**2 * k * count
        root = np.sqrt(count**2 * u**2 - a * (u**2 - z_a**2 * s2))
        mde = (count * u + root) / a
    mde = np.where(a > 0, mde, np.inf)
    return np.asarray(np.where(np.isnan(var) | (count < 1), np.nan, mde), dtype=np.float64)


def cases_needed(
    drop: float,
    variance: npt.ArrayLike,
    *,
    correlation: float = DEFAULT_MDE_CORRELATION,
    design_effect: npt.ArrayLike = 1.0,
    cluster_size: npt.ArrayLike = 0.0,
    efficiency: npt.ArrayLike = 1.0,
    alpha: float = 0.05,
    power: float = MDE_POWER,
    candidate_variance: npt.ArrayLike | None = None,
    continuity: npt.ArrayLike = 0.0,
    df: npt.ArrayLike = math.inf,
) -> FloatArray:
    """Returns the number of cases at which :func:`design_mde` equals ``drop`` (not rounded).

    The inverse of :func:`design_mde` for a golden set grown with clusters of the same
    sizes (so the design effect and ``cluster_size`` stay): sqrt(n) = t solves
    drop t^2 - B t - c = 0 with B = z_{1-alpha} sqrt(V' + k drop^2) + z_power sqrt(V')
    (n = B^2 / drop^2 without a continuity correction); t quantiles when ``df`` < inf.
    """
    if not drop > 0:
        raise ValueError("drop must be > 0")
    var = np.asarray(variance, dtype=np.float64)
    v = _difference_variance(var, candidate_variance, correlation)
    v = v * np.asarray(design_effect) / np.asarray(efficiency)
    k = np.asarray(cluster_size, dtype=np.float64)
    z_a, z_b = _quantiles(alpha, power, df)
    c = np.asarray(continuity, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # NaN where a variance is undefined or negative
        b = z_a * np.sqrt(v + k * drop**2) + z_b * np.sqrt(v)
        root = (b + np.sqrt(b**2 + 4 * drop * c)) / (2 * drop)
    return np.asarray(root**2, dtype=np.float64)


def min_p_value(n_units: npt.ArrayLike, *, clustered: bool, n_resamples: int) -> FloatArray:
    """Returns the smallest one-sided p-value the gate's test can give with ``n_units`` units.

    McNemar's exact test, Wilcoxon's exact test and the exact sign-flip test reach 0.5**n
    at best; the Monte Carlo sign-flip test (more than EXACT_PERMUTATION_MAX_UNITS
    clusters) 1 / (n_resamples + 1). A level below this can never be reached.
    """
    units = np.asarray(n_units, dtype=np.float64)
    exact_floor = np.power(0.5, units)
    if not clustered:
        return np.asarray(exact_floor)
    return np.asarray(
        np.where(units <= EXACT_PERMUTATION_MAX_UNITS, exact_floor, 1.0 / (n_resamples + 1))
    )


@dataclass(frozen=True)
class GateTestTerms:
    """How the test the gate runs on each column enters the MDE formula (arrays of m).

    ``paired_columns`` tests a 0/1 binary column without clusters with McNemar's exact
    test (``cluster_size`` k = 1: its uncentred variance b + c; ``continuity`` 1: its
    exactness), any other column without clusters with Wilcoxon's signed-rank test
    (``efficiency`` 3/pi, Pitman's efficiency under normal differences), and every column
    of a clustered suite with the sign-flip test on cluster sums, a monotone function of
    Student's t on them (Efron 1969, JASA 64:1278-1302): t quantiles with G - 1
    degrees of freedom (``clustered``), and continuity 1 for 0/1 scores.
    """

    binomial: BoolArray  # 0/1 binary column: its variance comes from its pass rate
    efficiency: FloatArray
    cluster_size: FloatArray
    continuity: FloatArray
    clustered: bool


def gate_test_terms(
    baseline: FloatArray, kinds: Sequence[MetricKind], *, clustered: bool
) -> GateTestTerms:
    """Returns the :class:`GateTestTerms` of each column of an (n, m) score table."""
    binomial = _zero_one_columns(baseline, kinds)
    wilcoxon = ~binomial & (not clustered)
    return GateTestTerms(
        binomial=binomial,
        efficiency=np.where(wilcoxon, WILCOXON_EFFICIENCY, 1.0),
        cluster_size=np.where(binomial & (not clustered), 1.0, 0.0),
        continuity=np.where(binomial, 1.0, 0.0),
        clustered=clustered,
    )


@dataclass(frozen=True)
class DesignMDE:
    """Design-time MDEs of m columns, with what each was computed from."""

    mde: FloatArray  # NaN: cannot be estimated; inf: no drop is detected with 80% power
    alpha: float  # the per-row level used (see family_alpha)
    correlation: float
    power: float
    spread: BaselineSpread
    terms: GateTestTerms
    higher_is_better: BoolArray


def design_mde_columns(
    baseline: npt.ArrayLike,
    *,
    kinds: MetricKind | Sequence[MetricKind],
    groups: Sequence[Any] | npt.ArrayLike | None = None,
    higher_is_better: bool | npt.ArrayLike = True,
    alpha: float = 0.05,
    correlation: float = DEFAULT_MDE_CORRELATION,
    power: float = MDE_POWER,
    n_resamples: int = 2000,
) -> DesignMDE:
    """Returns the design-time MDE of each column of baseline scores, for the gate's test.

    ``alpha`` is the per-row level (after :func:`family_alpha`). Per column: the spread of
    the baseline (:func:`baseline_spread`), then :func:`design_mde` with the terms of the
    test the gate runs on it (:func:`gate_test_terms`). For a 0/1 column the candidate's
    variance is taken at its own, lower pass rate (a fixed point). Special cases:

    * fewer than :data:`MIN_UNITS` cases (clusters): NaN (the gate cannot test it); a
      level the test cannot reach with so few units (:func:`min_p_value`): ``inf``;
    * a baseline with no spread: a binary column passing everywhere takes
      :func:`mde_exact_flips`; a binary column failing everywhere (no drop can show) and
      a constant continuous column (nothing to estimate from) are NaN;
    * an MDE larger than the room left below the baseline pass rate: ``inf``.
    """
    base = _as_columns(baseline)
    n_rows, m = base.shape
    kind_list: list[MetricKind] = [kinds] * m if isinstance(kinds, str) else list(kinds)
    if len(kind_list) != m:
        raise ValueError(f"{len(kind_list)} kinds for {m} columns")
    directions = _broadcast(higher_is_better, m, bool)
    clusters = cluster_codes(groups, n_rows)
    spread = baseline_spread(base, kinds=kind_list, groups=groups)
    terms = gate_test_terms(base, kind_list, clustered=clusters.clustered)
    df = np.where(terms.clustered, spread.n_clusters - 1, np.inf)
    sign = np.where(directions, 1.0, -1.0)
    candidate_variance = spread.variance.copy()
    mde = np.full(m, np.nan)
    for _ in range(_BINARY_ITERATIONS):
        mde = design_mde(
            spread.variance,
            spread.n,
            correlation=correlation,
            design_effect=spread.design_effect,
            cluster_size=terms.cluster_size,
            efficiency=terms.efficiency,
            alpha=alpha,
            power=power,
            candidate_variance=candidate_variance,
            df=df,
            continuity=terms.continuity,
        )
        rate = np.clip(spread.mean - sign * np.nan_to_num(mde, posinf=1.0), 0.0, 1.0)
        candidate_variance = np.where(terms.binomial, rate * (1 - rate), spread.variance)
    room = np.where(directions, spread.mean, 1.0 - spread.mean)
    mde = np.where(terms.binomial & (mde > room), np.inf, mde)
    for j in np.flatnonzero(spread.variance == 0).tolist():
        best = 1.0 if directions[j] else 0.0
        if terms.binomial[j] and spread.mean[j] == best:
            mde[j] = mde_exact_flips(int(spread.n[j]), alpha=alpha, power=power)
        else:
            mde[j] = math.nan
    units = spread.n_clusters
    floor = min_p_value(units, clustered=clusters.clustered, n_resamples=n_resamples)
    mde = np.where((floor > alpha) & np.isfinite(mde), np.inf, mde)
    mde = np.where(units < MIN_UNITS, np.nan, mde)
    return DesignMDE(
        mde=np.asarray(mde, dtype=np.float64),
        alpha=alpha,
        correlation=correlation,
        power=power,
        spread=spread,
        terms=terms,
        higher_is_better=directions,
    )


def design_cases_needed(design: DesignMDE, drop: float) -> FloatArray:
    """Returns how many cases each column needs for its design MDE to be ``drop``.

    The inverse of :func:`design_mde_columns` for a golden set grown with clusters of the
    sizes it has (design effect and intra-cluster correlation kept): :func:`cases_needed`
    with the same test terms, the candidate's variance at the baseline rate minus
    ``drop`` for a 0/1 column, and for a clustered suite t quantiles with the grown
    suite's clusters - 1 degrees of freedom (a fixed point). NaN where the MDE is NaN
    (nothing to estimate from), or ``drop`` exceeds the room below a pass rate.
    """
    spread, terms = design.spread, design.terms
    sign = np.where(design.higher_is_better, 1.0, -1.0)
    rate = spread.mean - sign * drop
    candidate_variance = np.where(terms.binomial, rate * (1 - rate), spread.variance)
    mean_size = spread.n / spread.n_clusters
    df = np.full(len(spread.n), np.inf)
    needed = np.full(len(spread.n), np.nan)
    for _ in range(_BINARY_ITERATIONS if terms.clustered else 1):
        needed = cases_needed(
            drop,
            spread.variance,
            correlation=design.correlation,
            design_effect=spread.design_effect,
            cluster_size=terms.cluster_size,
            efficiency=terms.efficiency,
            alpha=design.alpha,
            power=design.power,
            candidate_variance=candidate_variance,
            continuity=terms.continuity,
            df=df,
        )
        if terms.clustered:
            df = np.maximum(needed / mean_size - 1, 1.0)
    impossible = terms.binomial & ((rate < 0) | (rate > 1))
    no_spread = ~(spread.variance > 0) | np.isnan(design.mde)
    return np.asarray(np.where(impossible | no_spread, np.nan, needed), dtype=np.float64)


# ---------------------------------------------------------------- flips


def passes(values: npt.ArrayLike, threshold: float, *, higher_is_better: bool = True) -> BoolArray:
    """Returns value >= threshold (or <= when lower is better); NaN never passes."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.asarray(v >= threshold if higher_is_better else v <= threshold)


# ---------------------------------------------------------------- paired comparison


@dataclass(frozen=True)
class PairedColumns:
    """Paired comparisons of m columns at once (arrays of length m)."""

    n_paired: IntArray
    n_units: IntArray
    clustered: bool
    baseline_mean: FloatArray
    candidate_mean: FloatArray
    delta: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    se: FloatArray  # cluster-robust when clustered, else CLT
    se_clt: FloatArray  # sd(d) / sqrt(n), ignoring clusters
    p_worse: FloatArray  # one-sided, H1: candidate worse
    p_better: FloatArray  # one-sided, H1: candidate better
    p_two_sided: FloatArray
    tests: tuple[str, ...]
    mde: FloatArray  # design-time (design_mde_columns): NaN n/a, inf nothing detectable
    mde_observed: FloatArray  # at this comparison's observed noise; NaN when it has none
    margin: FloatArray
    non_inferior: BoolArray
    higher_is_better: BoolArray
    to_fail: IntArray
    to_pass: IntArray
    alpha: float
    confidence: float
    mde_alpha: float = math.nan  # the per-row level the MDEs are computed at
    mde_correlation: float = DEFAULT_MDE_CORRELATION


def _broadcast(value: Any, m: int, dtype: Any) -> npt.NDArray[Any]:
    array = np.asarray(value, dtype=dtype)
    return np.broadcast_to(array, (m,)).copy() if array.ndim == 0 else array.astype(dtype)


def paired_columns(
    baseline: npt.ArrayLike,
    candidate: npt.ArrayLike,
    *,
    kinds: MetricKind | Sequence[MetricKind],
    groups: Sequence[Any] | npt.ArrayLike | None = None,
    alpha: float = 0.05,
    margin: float | npt.ArrayLike = 0.0,
    higher_is_better: bool | npt.ArrayLike = True,
    n_boot: int = 2000,
    rng: RNGLike = 0,
    correction: Correction = "none",
    mde_correlation: float = DEFAULT_MDE_CORRELATION,
) -> PairedColumns:
    """Returns paired estimates, CIs, p-values and MDEs for each column of two (n, m) arrays.

    Rows are cases (aligned on both sides), columns are metrics or slices; NaN marks an
    unscored or excluded case. All columns share one set of bootstrap resamples and sign
    flips. Tests per column: McNemar's exact test for 0/1 binary columns without
    clusters; Wilcoxon's signed-rank test for other columns without clusters; the cluster
    sign-flip permutation test when clustered. CI: percentile (cluster) bootstrap at
    1 - alpha, NaN (cannot be estimated) for a column with fewer than :data:`MIN_UNITS`
    cases or clusters.

    MDE (``mde``): the design-time figure of :func:`design_mde_columns`, from the
    baseline's spread and ``mde_correlation``, at the per-row level :func:`family_alpha`
    gives for ``correction`` (the correction the caller applies across these columns)
    and 80% power. ``mde_observed`` is the same formula's textbook form at this
    comparison's observed noise, (z_{1-alpha'} + z_0.8) * SE of the differences; NaN
    when the differences do not vary (it cannot be estimated) -- never shown alone.
    """
    base = _as_columns(baseline)
    cand = _as_columns(candidate)
    if base.shape != cand.shape:
        raise ValueError(f"baseline {base.shape} and candidate {cand.shape} differ in shape")
    n, m = base.shape
    kind_list = [kinds] * m if isinstance(kinds, str) else list(kinds)
    if len(kind_list) != m:
        raise ValueError(f"{len(kind_list)} kinds for {m} columns")
    margins = _broadcast(margin, m, np.float64)
    directions = _broadcast(higher_is_better, m, bool)
    clusters = cluster_codes(groups, n)
    generator = as_generator(rng)

    paired = ~(np.isnan(base) | np.isnan(cand))
    base = np.where(paired, base, np.nan)
    cand = np.where(paired, cand, np.nan)
    diff = cand - base
    moments = _moments(diff, clusters)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN or single-case columns
        baseline_mean = np.nansum(base, axis=0) / moments.n
        candidate_mean = np.nansum(cand, axis=0) / moments.n
    se = moments.se_cluster if clusters.clustered else moments.se
    too_few = moments.n_units < MIN_UNITS
    mde_alpha = family_alpha(alpha, correction, int(np.sum(~too_few)))
    design = design_mde_columns(
        base,
        kinds=kind_list,
        groups=groups,
        higher_is_better=directions,
        alpha=mde_alpha,
        correlation=mde_correlation,
        n_resamples=n_boot,
    )
    mde = design.mde
    mde_observed = mde_from_se(se, alpha=mde_alpha, power=MDE_POWER, sides=1)
    mde_observed = np.where((np.nan_to_num(se) > 0) & ~too_few, mde_observed, np.nan)

    boot = _bootstrap_means(moments.unit_sums, moments.unit_counts, n_boot, generator)
    with np.errstate(invalid="ignore"):
        ci_low, ci_high = np.nanquantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
    # Non-inferiority is judged on the interval as resampled (all units equal: the
    # interval is that value, and an unchanged system is non-inferior).
    resampled_low, resampled_high = ci_low, ci_high
    # One case or one cluster, or units (cases or clusters) that all moved by the same
    # non-zero amount: every resample gives the same mean, a zero-width interval that
    # claims a certainty the data cannot give; the CI cannot be estimated (shown as n/a).
    # All differences exactly zero keep [0, 0]: no case changed at all.
    no_spread = _units_without_spread(moments) & (moments.mean != 0)
    ci_low = np.where(too_few | no_spread, np.nan, ci_low)
    ci_high = np.where(too_few | no_spread, np.nan, ci_high)

    p_less = np.full(m, np.nan)
    p_greater = np.full(m, np.nan)
    p_two = np.full(m, np.nan)
    tests = [""] * m
    is01 = paired & ((base == 0) | (base == 1)) & ((cand == 0) | (cand == 1))
    to_fail = np.sum(paired & (base == 1) & (cand == 0), axis=0).astype(np.int64)
    to_pass = np.sum(paired & (base == 0) & (cand == 1), axis=0).astype(np.int64)
    mcnemar_cols = [
        j
        for j in range(m)
        if kind_list[j] == "binary" and not clusters.clustered and np.all(is01[paired[:, j], j])
    ]
    if mcnemar_cols:
        less, greater, two = _mcnemar_pvalues(to_fail[mcnemar_cols], to_pass[mcnemar_cols])
        p_less[mcnemar_cols], p_greater[mcnemar_cols], p_two[mcnemar_cols] = less, greater, two
        for j in mcnemar_cols:
            tests[j] = "mcnemar-exact"
    if clusters.clustered:
        less, greater, two, exact, _ = _signflip_pvalues(moments.unit_sums, n_boot, generator)
        p_less, p_greater, p_two = less, greater, two
        tests = ["cluster-permutation-exact" if exact else "cluster-permutation"] * m
    else:
        pending = [j for j in range(m) if not tests[j]]
        batch = [j for j in pending if paired[:, j].all()] if n > 50 else []
        if batch:
            p_less[batch], p_greater[batch], p_two[batch] = _wilcoxon_columns(diff[:, batch])
        for j in pending:
            if j not in batch:
                p_less[j], p_greater[j], p_two[j] = _wilcoxon_pvalues(diff[paired[:, j], j])
            tests[j] = "wilcoxon"

    for array in (p_less, p_greater, p_two):
        array[too_few] = np.nan
    p_worse = np.where(directions, p_less, p_greater)
    p_better = np.where(directions, p_greater, p_less)
    # Non-inferiority: the (1 - alpha) CI's end on the "worse" side is within the margin.
    worst_improvement = np.where(directions, resampled_low, -resampled_high)
    non_inferior = np.asarray(worst_improvement >= -margins - 1e-12) & ~too_few
    return PairedColumns(
        n_paired=moments.n.astype(np.int64),
        n_units=moments.n_units.astype(np.int64),
        clustered=clusters.clustered,
        baseline_mean=baseline_mean,
        candidate_mean=candidate_mean,
        delta=moments.mean,
        ci_low=ci_low,
        ci_high=ci_high,
        se=se,
        se_clt=moments.se,
        p_worse=p_worse,
        p_better=p_better,
        p_two_sided=p_two,
        tests=tuple(tests),
        mde=mde,
        mde_observed=mde_observed,
        margin=margins,
        non_inferior=non_inferior,
        higher_is_better=directions,
        to_fail=to_fail,
        to_pass=to_pass,
        alpha=alpha,
        confidence=1 - alpha,
        mde_alpha=mde_alpha,
        mde_correlation=mde_correlation,
    )


def decide_verdicts(
    columns: PairedColumns,
    *,
    q_worse: npt.ArrayLike | None = None,
    q_better: npt.ArrayLike | None = None,
) -> tuple[list[Verdict], list[str]]:
    """Returns each column's verdict and the reason for it (see the module docstring).

    ``q_worse``/``q_better`` are the multiplicity-adjusted p-values (default: the raw
    one-sided p-values, i.e. a single comparison).
    """
    worse = columns.p_worse if q_worse is None else np.asarray(q_worse, dtype=np.float64)
    better = columns.p_better if q_better is None else np.asarray(q_better, dtype=np.float64)
    alpha = columns.alpha
    verdicts: list[Verdict] = []
    reasons: list[str] = []
    for j in range(len(columns.delta)):
        units = "clusters" if columns.clustered else "paired cases"
        if columns.n_units[j] < MIN_UNITS or np.isnan(worse[j]):
            verdicts.append("inconclusive")
            reasons.append(f"only {columns.n_units[j]} {units}; need at least {MIN_UNITS}")
        elif worse[j] <= alpha:
            verdicts.append("regression")
            within = columns.margin[j] > 0 and columns.non_inferior[j]
            reasons.append("significantly worse" + (", but within the margin" if within else ""))
        elif better[j] <= alpha:
            verdicts.append("improvement")
            reasons.append("significantly better")
        elif columns.margin[j] > 0 and not columns.non_inferior[j]:
            verdicts.append("inconclusive")
            reasons.append(
                f"not significant, but the {columns.confidence:.0%} CI allows a drop larger "
                f"than the margin {columns.margin[j]:g} (MDE {mde_text(float(columns.mde[j]))})"
            )
        else:
            verdicts.append("no-change")
            reasons.append("no significant difference")
    return verdicts, reasons


@dataclass(frozen=True)
class NonInferiorityResult:
    """Whether the candidate is shown no worse than the baseline minus a margin."""

    estimate: float  # mean improvement (candidate - baseline, sign flipped if lower is better)
    margin: float
    lower_bound: float  # the worse end of the (1 - alpha) CI, as an improvement
    non_inferior: bool  # lower_bound >= -margin, as the gate decides it
    alpha: float
    n_paired: int
    n_units: int  # cases, or clusters when clustered
    clustered: bool
    n_resamples: int


def non_inferiority_test(
    differences: npt.ArrayLike,
    *,
    margin: float,
    alpha: float = 0.05,
    groups: Sequence[Any] | npt.ArrayLike | None = None,
    higher_is_better: bool = True,
    n_resamples: int = 2000,
    rng: RNGLike = 0,
) -> NonInferiorityResult:
    """Returns the gate's non-inferiority decision for paired candidate - baseline differences.

    The gate's rule, computed by the gate's code (:func:`paired_columns`): the candidate
    is non-inferior when the worse end of the (1 - alpha) percentile (cluster) bootstrap
    CI of the mean improvement is within the margin, ``lower_bound >= -margin`` (the CI
    approach to non-inferiority: Piaggio et al. 2012, CONSORT non-inferiority extension;
    Wellek 2010, "Testing Statistical Hypotheses of Equivalence and Noninferiority", 2nd
    ed., ch. 2). With the suite's ``gate.alpha``, ``gate.bootstrap`` and ``gate.seed``
    as ``alpha``, ``n_resamples`` and ``rng`` it gives the interval and decision
    ``evalkit compare`` shows for the same cases. NaN differences are left out; fewer than
    :data:`MIN_UNITS` cases (clusters) are never non-inferior.
    """
    if margin < 0:
        raise ValueError("margin must be >= 0")
    diff = np.asarray(differences, dtype=np.float64)
    if diff.ndim != 1:
        raise ValueError("differences must be a 1-D array")
    columns = paired_columns(
        np.zeros_like(diff),
        diff,
        kinds="continuous",
        groups=groups,
        alpha=alpha,
        margin=margin,
        higher_is_better=higher_is_better,
        n_boot=n_resamples,
        rng=rng,
    )
    sign = 1.0 if higher_is_better else -1.0
    worse_end = columns.ci_low[0] if higher_is_better else columns.ci_high[0]
    return NonInferiorityResult(
        estimate=float(sign * columns.delta[0]),
        margin=margin,
        lower_bound=float(sign * worse_end),
        non_inferior=bool(columns.non_inferior[0]),
        alpha=alpha,
        n_paired=int(columns.n_paired[0]),
        n_units=int(columns.n_units[0]),
        clustered=columns.clustered,
        n_resamples=n_resamples,
    )
