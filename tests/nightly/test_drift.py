"""Drift detection: known answers, and the false-alarm rate and power by simulation.

The simulated suite (``simulate_suite``): 200 binary cases; 170 pass and 10 fail every
night (a deterministic SUT), 20 are flaky (pass with probability 0.5 each night). The
baseline is one such night. A planted decline of 1 point a night turns 2 more passing
cases (1% of 200) into failing ones each night, for 10 nights.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats as sps

from evalkit.nightly._drift import MetricSeries, detect_drift, pooled_test, trend_test

ALPHA = 0.01


def simulate_suite(
    rng: np.random.Generator, *, decline_cases: int, nights: int = 10
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Returns (baseline cases, nights x cases) of the simulated suite (module docstring)."""
    stable = np.r_[np.ones(170), np.zeros(10)]
    baseline = np.r_[stable, rng.binomial(1, 0.5, 20)].astype(float)
    rows = []
    for night in range(1, nights + 1):
        today = stable.copy()
        today[: decline_cases * night] = 0.0
        rows.append(np.r_[today, rng.binomial(1, 0.5, 20)])
    return baseline, np.array(rows, dtype=float)


def alarm_rate(decline_cases: int, reps: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    alarms = 0
    for _ in range(reps):
        baseline, nights = simulate_suite(rng, decline_cases=decline_cases)
        series = MetricSeries("exact", True, nights.mean(axis=1), baseline, nights)
        alarms += detect_drift([series], alpha=ALPHA, resamples=999).alarm
    return alarms / reps


def test_flat_series_alarms_no_more_often_than_alpha() -> None:
    reps = 1000
    rate = alarm_rate(0, reps, seed=11)
    # alpha plus three Monte Carlo standard errors
    assert rate <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / reps), rate


def test_decline_of_one_point_a_night_over_ten_nights_is_caught() -> None:
    power = alarm_rate(2, 200, seed=12)
    assert power >= 0.95, power


def test_flat_heterogeneous_binary_suite_keeps_the_rate_for_small_suites() -> None:
    # 30 cases, every case random each night: skewed, discrete case differences, where
    # a paired t-test would alarm too often; the permutation test keeps the rate.
    rng = np.random.default_rng(5)
    reps, alarms = 600, 0
    for _ in range(reps):
        p = rng.beta(8, 2, size=30)
        baseline = rng.binomial(1, p).astype(float)
        nights = rng.binomial(1, p, size=(3, 30)).astype(float)
        result = pooled_test(baseline, nights, resamples=999)
        assert result is not None
        alarms += result.p_value <= ALPHA
    assert alarms / reps <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / reps)


def test_trend_test_matches_ols_with_a_one_sided_p_value() -> None:
    y = np.array([0.81, 0.80, 0.82, 0.78, 0.77, 0.79, 0.75, 0.74])
    result = trend_test(y)
    assert result is not None
    reference = sps.linregress(np.arange(len(y)), y)
    assert result.slope == pytest.approx(reference.slope)
    assert result.slope_se == pytest.approx(reference.stderr)
    assert result.p_value == pytest.approx(reference.pvalue / 2)  # slope points down
    lower_is_better = trend_test(y, higher_is_better=False)
    assert lower_is_better is not None
    assert lower_is_better.p_value == pytest.approx(1 - reference.pvalue / 2)


def test_constant_series_is_not_a_trend_and_short_series_are_not_tested() -> None:
    flat = trend_test([0.8] * 10)
    assert flat is not None and flat.p_value == 1.0 and flat.slope == 0.0
    assert trend_test([0.9, 0.8, 0.7, 0.6]) is None
    assert trend_test([0.9, np.nan, 0.8, 0.7, np.nan, 0.6]) is None


def test_pooled_test_sees_a_drop_the_direction_says_is_worse() -> None:
    baseline = np.ones(40)
    nights = np.ones((3, 40))
    nights[:, :8] = 0.0
    worse = pooled_test(baseline, nights, resamples=999)
    assert worse is not None and worse.p_value == pytest.approx(1 / 1000)
    assert worse.delta == pytest.approx(-0.2)
    better = pooled_test(baseline, nights, higher_is_better=False, resamples=999)
    assert better is not None and better.p_value > 0.5


def test_alarms_are_adjusted_across_metrics_with_bh() -> None:
    steady = [0.8, 0.81, 0.79, 0.8, 0.82, 0.8, 0.79, 0.81, 0.8, 0.8]
    falling = [0.9 - 0.01 * i + (0.003 if i % 2 else -0.003) for i in range(10)]
    result = detect_drift(
        [MetricSeries("a", True, steady), MetricSeries("b", True, falling)], alpha=ALPHA
    )
    by_name = {m.metric: m for m in result.metrics}
    assert by_name["b"].alarm and not by_name["a"].alarm
    assert result.reasons() == [by_name["b"].reason]
    assert by_name["b"].reason.startswith("b: drift: trend -0.0")
    raw = [by_name[n].trend.p_value for n in ("a", "b")]  # type: ignore[union-attr]
    assert by_name["b"].trend_q == pytest.approx(min(1.0, min(raw[1] * 2, max(raw))))
