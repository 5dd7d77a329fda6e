"""The gate's rules, written once in evalkit._policy, and the places that use them."""

from __future__ import annotations

import dataclasses
import inspect
import math

import numpy as np
import pytest

from evalkit import _policy as policy
from evalkit.comparison._model import MetricComparison
from evalkit.config._suite import GateConfig, MetricSpec
from evalkit.data._records import MetricInfo
from evalkit.judging import _calibration, _calibration_run


def _info(kind: str = "binary", **fields: object) -> MetricInfo:
    return MetricInfo.model_validate({"name": "m", "scorer": "s", "kind": kind, **fields})


def test_pass_threshold_is_the_suites_then_the_scorers_then_the_binary_default() -> None:
    spec = MetricSpec(name="m", threshold=0.9)
    assert policy.pass_threshold("binary", spec, _info(threshold=0.7)) == 0.9
    assert policy.pass_threshold("binary", MetricSpec(name="m"), _info(threshold=0.7)) == 0.7
    assert policy.pass_threshold("binary", None, _info()) == policy.BINARY_PASS_THRESHOLD
    assert policy.pass_threshold("continuous", None, _info("continuous")) is None


def test_metric_policy_resolves_threshold_margin_and_advisory_judges() -> None:
    gate = GateConfig(margin=0.03)
    judge = _info(judge_fingerprint="sha256:judge")
    resolved = policy.metric_policy(
        "m", spec=None, info=judge, observed_kind=None, gate=gate, judge_status=None
    )
    assert resolved.threshold == 0.5 and resolved.margin == 0.03
    assert not resolved.gating and resolved.judge_status == "uncalibrated"
    calibrated = policy.metric_policy(
        "m", spec=None, info=judge, observed_kind=None, gate=gate, judge_status={"m": "calibrated"}
    )
    assert calibrated.gating and calibrated.advisory is None
    assert calibrated.miss(0.4) == "m 0.4 < threshold 0.5"
    assert calibrated.miss(None) == "m unscored" and calibrated.miss(0.5) is None
    lower = dataclasses.replace(calibrated, higher_is_better=False)
    assert lower.miss(0.6) == "m 0.6 > threshold 0.5"
    assert list(lower.fails(np.array([0.4, 0.6, math.nan]))) == [False, True, False]


def _row(**fields: object) -> MetricComparison:
    nan = math.nan
    base = MetricComparison(
        metric="m", kind="continuous", slice=None, higher_is_better=True, n_paired=10,
        baseline_mean=nan, candidate_mean=nan, delta=nan, ci_low=nan, ci_high=nan,
        p_value=nan, q_value=nan, p_value_two_sided=nan, test="wilcoxon", mde=nan,
        margin=0.02, non_inferior=True, verdict="no-change", gating=True,
    )  # fmt: skip
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "gate_policy", "expected"),
    [
        ({"verdict": "regression"}, "regression", "regression"),
        ({"verdict": "regression", "gating": False}, "regression", None),
        ({"non_inferior": False, "verdict": "inconclusive"}, "regression", None),
        ({"non_inferior": False, "verdict": "inconclusive"}, "non-inferiority", "not non-inferior"),
        ({"non_inferior": False, "slice": "geo"}, "non-inferiority", None),
        ({"verdict": "regression", "slice": "geo"}, "non-inferiority", "regression"),
    ],
)
def test_gate_failure(fields: dict[str, object], gate_policy: str, expected: str | None) -> None:
    assert policy.gate_failure(_row(**fields), gate_policy) == expected


def test_judge_shortfall_at_the_boundaries() -> None:
    limits = {"min_n": policy.JUDGE_MIN_ITEMS, "min_kappa": policy.JUDGE_MIN_KAPPA}
    assert policy.judge_shortfall(49, 0.9, **limits) == "too few items"
    assert policy.judge_shortfall(50, 0.6, **limits) is None
    assert policy.judge_shortfall(50, 0.59, **limits) == "kappa too low"
    assert policy.judge_shortfall(80, None, **limits) == "kappa too low"


def test_judge_gate_defaults_are_defined_once() -> None:
    gate = GateConfig()
    assert (gate.judge_min_n, gate.judge_min_kappa) == (50, 0.6)
    assert (gate.judge_min_n, gate.judge_min_kappa) == (
        policy.JUDGE_MIN_ITEMS,
        policy.JUDGE_MIN_KAPPA,
    )
    for function in (
        _calibration.judge_gate_status,
        _calibration_run.judge_metric_statuses,
        _calibration_run.calibration_report,
    ):
        parameters = inspect.signature(function).parameters
        assert parameters["min_n"].default == policy.JUDGE_MIN_ITEMS
        assert parameters["min_kappa"].default == policy.JUDGE_MIN_KAPPA


def test_critical_is_one_tag() -> None:
    assert policy.is_critical(["geo", policy.CRITICAL_TAG])
    assert not policy.is_critical(["geo", "Critical"])
