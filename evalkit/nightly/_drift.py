"""Drift: a slow decline over nights that no single night-to-night comparison flags.

Two one-sided tests per metric, over the successful nights since the last golden-set
change (tonight included, oldest first):

1. **Trend.** OLS slope of the last ``window`` nightly estimates against the night's
   position; a one-sided t-test (n - 2 degrees of freedom) that the slope points the
   worse way. It assumes the nightly estimates scatter independently around a line: the
   same cases every night, fresh SUT answers. The Theil-Sen slope (Sen 1968) is reported
   beside it as a robust, descriptive figure.
2. **Pooled.** The last ``pooled`` nights' per-case values are averaged per case and
   compared with the pinned baseline case by case: a one-sided permutation test that
   treats the baseline and the K nights as exchangeable runs (see :func:`pooled_test`).
   Pooling K nights averages K times the answers of one night, so a steady drop too
   small for one night's comparison becomes visible.

The 2 x M p-values of M metrics are adjusted together with Benjamini-Hochberg (1995); a
metric alarms when either of its q-values is at most ``alpha`` (default 0.01). When no
metric drifts, BH bounds the chance that a night raises any drift alarm by ``alpha``
(under the complete null the false discovery rate is the family-wise error rate; the
two tests of a metric are positively dependent, where BH stays valid: Benjamini &
Yekutieli 2001). tests/nightly/test_drift.py checks both claims by simulation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy import special

from evalkit.comparison._stats import adjust_pvalues

DEFAULT_ALPHA = 0.01
DEFAULT_WINDOW = 10
DEFAULT_POOLED = 3
MIN_TREND_NIGHTS = 5
DEFAULT_RESAMPLES = 4999
_FLAT = 1e-12

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrendTest:
    """OLS slope per night of the nightly estimates, with its one-sided test."""

    n_nights: int
    slope: float  # metric units per night (raw direction)
    slope_se: float
    theil_sen_slope: float
    p_value: float  # one-sided: the slope points the worse way


@dataclass(frozen=True)
class PooledTest:
    """Last K nights pooled per case vs the baseline: one-sided permutation test."""

    n_nights: int
    n_cases: int
    baseline_mean: float
    pooled_mean: float
    delta: float  # pooled - baseline, over the paired cases
    delta_se: float
    p_value: float  # one-sided: pooled nights worse than the baseline


@dataclass(frozen=True)
class MetricSeries:
    """One metric's history: nightly estimates and, for the pooled test, per-case values.

    ``recent_cases`` has shape (K nights, n cases) and ``baseline_cases`` shape (n,), both
    on the same case order; NaN marks an unscored or missing case.
    """

    metric: str
    higher_is_better: bool
    estimates: Sequence[float]
    baseline_cases: FloatArray | None = None
    recent_cases: FloatArray | None = None


@dataclass(frozen=True)
class MetricDrift:
    """One metric's drift tests, BH-adjusted q-values and whether it alarms."""

    metric: str
    higher_is_better: bool
    trend: TrendTest | None
    pooled: PooledTest | None
    trend_q: float
    pooled_q: float
    alarm: bool
    reason: str


@dataclass(frozen=True)
class DriftResult:
    """Drift over all metrics of one suite."""

    alpha: float
    window: int
    pooled_nights: int
    metrics: tuple[MetricDrift, ...]

    @property
    def alarm(self) -> bool:
        """True when any metric alarms."""
        return any(m.alarm for m in self.metrics)

    def reasons(self) -> list[str]:
        """Returns one line per alarming metric."""
        return [m.reason for m in self.metrics if m.alarm]


def trend_test(estimates: Sequence[float], *, higher_is_better: bool = True) -> TrendTest | None:
    """Returns the one-sided OLS trend test of ``estimates`` (None: fewer than 5 nights).

    NaN estimates are left out; positions keep their night order. A flat series (every
    estimate equal) has slope 0 and p = 1, whatever floating-point noise would say.
    """
    y = np.asarray(estimates, dtype=np.float64)
    x = np.arange(len(y), dtype=np.float64)
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    n = len(y)
    if n < MIN_TREND_NIGHTS:
        return None
    if float(np.ptp(y)) <= _FLAT:
        return TrendTest(n, 0.0, 0.0, 0.0, 1.0)
    x_centred = x - x.mean()
    sxx = float(x_centred @ x_centred)
    slope = float(x_centred @ (y - y.mean())) / sxx
    residuals = y - y.mean() - slope * x_centred
    se = math.sqrt(float(residuals @ residuals) / (n - 2) / sxx)
    worse = -slope if higher_is_better else slope
    # The t survival function: stdtr(df, -t) = P(T > t).
    p = (0.0 if worse > 0 else 1.0) if se <= _FLAT else float(special.stdtr(n - 2, -worse / se))
    i, j = np.triu_indices(n, 1)
    theil = float(np.median((y[j] - y[i]) / (x[j] - x[i])))  # Theil-Sen
    return TrendTest(n, slope, se, theil, p)


def pooled_test(
    baseline_cases: FloatArray,
    recent_cases: FloatArray,
    *,
    higher_is_better: bool = True,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> PooledTest | None:
    """Returns the one-sided test of the pooled recent nights vs the baseline, per case.

    The statistic is the mean over cases of (mean of the K nights - baseline). Its null
    distribution comes from permutation: when nothing drifted, the baseline run and the K
    nightly runs are exchangeable draws of the same SUT on the same cases, so within
    each case any of the K + 1 values could have been the baseline. The Monte Carlo
    p-value ``(1 + #{T* at least as bad}) / (resamples + 1)`` is valid for any number of
    resamples (Phipson & Smyth 2010), and unlike a t-test it stays valid for small suites
    and skewed, discrete differences (binary metrics). Cases unscored in the baseline or
    on any of the K nights are left out; None when fewer than two remain.
    """
    recent = np.atleast_2d(np.asarray(recent_cases, dtype=np.float64))
    base = np.asarray(baseline_cases, dtype=np.float64)
    keep = ~np.isnan(base) & ~np.isnan(recent).any(axis=0)
    n = int(keep.sum())
    if n < 2:
        return None
    k = recent.shape[0]
    values = np.vstack([base[keep], recent[:, keep]]).T  # (n, K + 1); column 0: baseline
    pooled = values[:, 1:].mean(axis=1)
    diff = pooled - values[:, 0]
    delta = float(diff.mean())
    se = float(diff.std(ddof=1) / math.sqrt(n))
    # mean(pooled - chosen) = mean(total) / K - (1 + 1/K) * mean(chosen): "worse" when
    # the chosen baseline values are high (higher is better) or low (lower is better).
    # Cases whose K + 1 values are all equal add the same to every permutation: skip them.
    varying = values[np.ptp(values, axis=1) > _FLAT]
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, k + 1, size=(resamples, len(varying)), dtype=np.int16)
    chosen = np.take_along_axis(varying.T, picks, axis=0).sum(axis=1) if len(varying) else None
    observed = float(varying[:, 0].sum()) if len(varying) else 0.0
    if chosen is None:
        chosen = np.zeros(resamples)
    tolerance = 1e-12 * max(1.0, abs(observed))
    if higher_is_better:
        as_bad = int(np.sum(chosen >= observed - tolerance))
    else:
        as_bad = int(np.sum(chosen <= observed + tolerance))
    p = (1 + as_bad) / (resamples + 1)
    return PooledTest(
        n_nights=k,
        n_cases=n,
        baseline_mean=float(values[:, 0].mean()),
        pooled_mean=float(pooled.mean()),
        delta=delta,
        delta_se=se,
        p_value=p,
    )


def _reason(metric: str, drift: MetricDrift, alpha: float) -> str:
    parts = []
    if drift.trend is not None and drift.trend_q <= alpha:
        t = drift.trend
        parts.append(f"trend {t.slope:+.4f}/night over {t.n_nights} nights (q={drift.trend_q:.2g})")
    if drift.pooled is not None and drift.pooled_q <= alpha:
        p = drift.pooled
        parts.append(
            f"last {p.n_nights} nights pooled {p.pooled_mean:.3f} vs baseline "
            f"{p.baseline_mean:.3f} ({p.delta:+.4f}, q={drift.pooled_q:.2g})"
        )
    return f"{metric}: drift: " + "; ".join(parts)


def detect_drift(
    series: Sequence[MetricSeries],
    *,
    alpha: float = DEFAULT_ALPHA,
    window: int = DEFAULT_WINDOW,
    pooled_nights: int = DEFAULT_POOLED,
    resamples: int = DEFAULT_RESAMPLES,
) -> DriftResult:
    """Returns the drift tests of every metric, BH-adjusted together (module docstring).

    Args:
        series: per metric, its nightly estimates (oldest first) and case values.
        alpha: the false-alarm rate per night when nothing drifts.
        window: the trend test looks at the last ``window`` estimates.
        pooled_nights: how many of the last nights ``recent_cases`` pools (only the
            last ``pooled_nights`` rows are used).
        resamples: permutations of the pooled test.
    """
    trends: list[TrendTest | None] = []
    pooleds: list[PooledTest | None] = []
    for item in series:
        trends.append(
            trend_test(list(item.estimates)[-window:], higher_is_better=item.higher_is_better)
        )
        pooled = None
        if item.baseline_cases is not None and item.recent_cases is not None:
            recent = np.atleast_2d(item.recent_cases)[-pooled_nights:]
            if recent.size:
                pooled = pooled_test(
                    item.baseline_cases,
                    recent,
                    higher_is_better=item.higher_is_better,
                    resamples=resamples,
                )
        pooleds.append(pooled)
    raw = [t.p_value if t else math.nan for t in trends]
    raw += [p.p_value if p else math.nan for p in pooleds]
    q = adjust_pvalues(np.array(raw, dtype=np.float64), "bh")
    m = len(series)
    results = []
    for j, item in enumerate(series):
        trend_q, pooled_q = float(q[j]), float(q[m + j])
        alarm = (trend_q <= alpha) or (pooled_q <= alpha)  # NaN compares False
        drift = MetricDrift(
            metric=item.metric,
            higher_is_better=item.higher_is_better,
            trend=trends[j],
            pooled=pooleds[j],
            trend_q=trend_q,
            pooled_q=pooled_q,
            alarm=alarm,
            reason="",
        )
        if alarm:
            drift = replace(drift, reason=_reason(item.metric, drift, alpha))
        results.append(drift)
    return DriftResult(alpha, window, pooled_nights, tuple(results))
