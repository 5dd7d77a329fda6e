"""Validation by simulation: a judge with planted error rates over 1,000 outputs.

The judge has sensitivity 0.9 and specificity 0.7; the true pass rate is 0.6, so the
judge passes 0.9 * 0.6 + 0.3 * 0.4 = 66% of outputs. Trusting it blindly, the naive CI
is centred six points too high and almost never covers the truth. The Rogan–Gladen
corrected rate (Se/Sp from a separate labelled set of 300 items) and the PPI++ mean
(people labelling 200 random outputs of the same run) must cover it at 95% +- 2 points.
Each check runs 1,000 seeded simulations (a coverage SE of 0.7 points).
"""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.judging._calibration import corrected_rate, naive_rate, ppi_mean

TRUE_RATE = 0.6
SENSITIVITY = 0.9
SPECIFICITY = 0.7
N_RUN = 1000
N_CALIBRATION = 300
N_LABELLED = 200
SIMULATIONS = 1000


def _judge(truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Returns the planted judge's verdicts on ``truth`` (vectorised, any shape)."""
    noise = rng.random(truth.shape)
    return np.where(truth == 1, noise < SENSITIVITY, noise >= SPECIFICITY).astype(float)


@pytest.fixture(scope="module")
def simulated() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240917)
    truth = (rng.random((SIMULATIONS, N_RUN)) < TRUE_RATE).astype(float)
    calibration_truth = (rng.random((SIMULATIONS, N_CALIBRATION)) < TRUE_RATE).astype(float)
    labelled = np.argsort(rng.random((SIMULATIONS, N_RUN)), axis=1)[:, :N_LABELLED]
    return {
        "truth": truth,
        "judge": _judge(truth, rng),
        "calibration_truth": calibration_truth,
        "calibration_judge": _judge(calibration_truth, rng),
        "labelled": labelled,
    }


def _coverage(intervals: list[tuple[float, float]]) -> float:
    return float(np.mean([low <= TRUE_RATE <= high for low, high in intervals]))


def test_naive_ci_of_a_biased_judge_covers_the_true_rate_less_than_half_the_time(
    simulated: dict[str, np.ndarray],
) -> None:
    intervals = []
    for judge in simulated["judge"]:
        result = naive_rate(judge)
        intervals.append((result.ci_low, result.ci_high))
    assert _coverage(intervals) < 0.5


def test_rogan_gladen_ci_covers_the_true_rate_at_95_percent(
    simulated: dict[str, np.ndarray],
) -> None:
    intervals = []
    estimates = []
    for index in range(SIMULATIONS):
        result = corrected_rate(
            simulated["judge"][index],
            simulated["calibration_judge"][index],
            simulated["calibration_truth"][index],
        )
        intervals.append((result.ci_low, result.ci_high))
        estimates.append(result.estimate)
    assert abs(_coverage(intervals) - 0.95) <= 0.02
    assert abs(float(np.mean(estimates)) - TRUE_RATE) < 0.01


def test_ppi_ci_covers_the_true_rate_at_95_percent(simulated: dict[str, np.ndarray]) -> None:
    intervals = []
    estimates = []
    for index in range(SIMULATIONS):
        chosen = simulated["labelled"][index]
        judge = simulated["judge"][index]
        result = ppi_mean(judge, judge[chosen], simulated["truth"][index][chosen])
        intervals.append((result.ci_low, result.ci_high))
        estimates.append(result.estimate)
    assert abs(_coverage(intervals) - 0.95) <= 0.02
    assert abs(float(np.mean(estimates)) - TRUE_RATE) < 0.01
