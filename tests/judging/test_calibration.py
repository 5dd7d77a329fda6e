"""Agreement figures, corrected estimates and the judge gate: known answers and contracts."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from evalkit.judging._calibration import (
    CalibrationRecord,
    Confusion,
    Figure,
    agreement,
    corrected_mean_ordinal,
    corrected_rate,
    encode,
    judge_gate_status,
    load_record,
    naive_rate,
    ppi_mean,
    ratings_table,
    save_record,
)

# ---------------------------------------------------------------- published worked examples


def test_cohen_kappa_matches_a_published_two_by_two_example() -> None:
    # Worked example of Cohen's kappa (Wikipedia, "Cohen's kappa", Simple example; the
    # arithmetic of Cohen 1960): 50 grant proposals read by two readers, 20 yes/yes,
    # 5 yes/no, 10 no/yes, 15 no/no. p_o = 35/50 = 0.7, p_e = 0.5*0.6 + 0.5*0.4 = 0.5,
    # kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    first = ["pass"] * 25 + ["fail"] * 25
    second = ["pass"] * 20 + ["fail"] * 5 + ["pass"] * 10 + ["fail"] * 15
    result = agreement(
        second, first, scale="binary", categories=["fail", "pass"], n_boot=200, seed=1
    )
    assert result.figures["kappa"].value == pytest.approx(0.4, abs=1e-12)
    assert result.figures["accuracy"].value == pytest.approx(0.7)
    assert result.confusion.counts == [[15, 10], [5, 20]]


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C: four
# observers, twelve units, nominal values with missing data; alpha_nominal = 0.743.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def test_krippendorff_alpha_matches_the_published_nominal_example() -> None:
    ratings = [
        {
            f"coder{row}": values[unit]
            for row, values in enumerate(KRIPPENDORFF_2011)
            if values[unit] is not None
        }
        for unit in range(12)
    ]
    table = ratings_table(ratings, "ordinal")
    assert table.shape == (4, 12)
    value = krippendorff.alpha(reliability_data=table, level_of_measurement="nominal")
    assert value == pytest.approx(0.743, abs=5e-4)


def test_people_alpha_in_agreement_uses_the_library_on_the_rating_table() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 80)
    rater_a = np.where(rng.random(80) < 0.85, truth, 1 - truth)
    rater_b = np.where(rng.random(80) < 0.85, truth, 1 - truth)
    names = np.array(["fail", "pass"])
    ratings = [
        {"a": names[x], "b": names[y]} if i % 2 == 0 else {"a": names[x]}
        for i, (x, y) in enumerate(zip(rater_a, rater_b, strict=True))
    ]
    result = agreement(
        list(names[truth]),
        list(names[rater_a]),
        scale="binary",
        categories=["fail", "pass"],
        ratings=ratings,
        n_boot=100,
    )
    expected = krippendorff.alpha(
        reliability_data=np.vstack([rater_a, np.where(np.arange(80) % 2 == 0, rater_b, np.nan)]),
        level_of_measurement="nominal",
    )
    assert result.figures["alpha_people"].value == pytest.approx(expected)


# ---------------------------------------------------------------- agreement vs the libraries


def _noisy_binary(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    people = rng.random(n) < 0.5
    judge = np.where(people, rng.random(n) < 0.9, rng.random(n) < 0.3)
    as_label = np.array(["fail", "pass"])
    return list(as_label[judge.astype(int)]), list(as_label[people.astype(int)])


def test_binary_figures_equal_the_libraries_and_the_confusion_counts() -> None:
    judge, people = _noisy_binary(300, seed=7)
    result = agreement(judge, people, scale="binary", categories=["fail", "pass"], n_boot=300)
    j, p = encode(judge, "binary"), encode(people, "binary")
    f = result.figures
    assert f["kappa"].value == pytest.approx(cohen_kappa_score(p, j))
    assert f["alpha"].value == pytest.approx(
        krippendorff.alpha(reliability_data=np.vstack([j, p]), level_of_measurement="nominal")
    )
    assert f["accuracy"].value == pytest.approx(np.mean(j == p))
    assert f["sensitivity"].value == pytest.approx(np.mean(j[p == 1] == 1))
    assert f["specificity"].value == pytest.approx(np.mean(j[p == 0] == 0))
    assert f["mean_bias"].value == pytest.approx(np.mean(j - p))
    (tn, fp), (fn, tp) = result.confusion.counts
    assert tp == int(np.sum((j == 1) & (p == 1))) and fp == int(np.sum((j == 1) & (p == 0)))
    assert tn + fp + fn + tp == 300
    assert "flip_rate" not in f and "alpha_people" not in f


def test_ordinal_kappa_is_quadratic_weighted() -> None:
    rng = np.random.default_rng(11)
    people = rng.integers(1, 6, 200)
    judge = np.clip(people + rng.integers(-1, 2, 200), 1, 5)
    result = agreement(
        [int(x) for x in judge],
        [int(x) for x in people],
        scale="ordinal",
        categories=[1, 2, 3, 4, 5],
        n_boot=200,
    )
    assert result.kappa_weights == "quadratic"
    assert result.figures["kappa"].value == pytest.approx(
        cohen_kappa_score(people, judge, weights="quadratic", labels=[1, 2, 3, 4, 5])
    )
    assert result.figures["alpha"].value == pytest.approx(
        krippendorff.alpha(
            reliability_data=np.vstack([judge, people]).astype(float),
            level_of_measurement="ordinal",
            value_domain=[1.0, 2.0, 3.0, 4.0, 5.0],
        )
    )
    assert "sensitivity" not in result.figures


def test_pairwise_flip_rate_and_position_bias() -> None:
    judge = ["a"] * 8 + ["b"] * 2
    people = ["a"] * 4 + ["b"] * 4 + ["b", "tie"]
    flips = [True, False, False, False, True, True, False, False, False, False]
    result = agreement(
        judge, people, scale="pairwise", categories=["a", "tie", "b"], flips=flips, n_boot=200
    )
    assert result.figures["flip_rate"].value == pytest.approx(0.3)
    # codes a=+1, tie=0, b=-1: the judge leans to the first answer
    assert result.figures["mean_bias"].value == pytest.approx((8 - 2 - (4 - 5)) / 10)


def test_every_figure_has_a_seeded_bootstrap_ci_around_its_value() -> None:
    judge, people = _noisy_binary(150, seed=5)
    first = agreement(
        judge, people, scale="binary", categories=["fail", "pass"], seed=4, n_boot=400
    )
    again = agreement(
        judge, people, scale="binary", categories=["fail", "pass"], seed=4, n_boot=400
    )
    other = agreement(
        judge, people, scale="binary", categories=["fail", "pass"], seed=5, n_boot=400
    )
    assert first == again
    assert first.figures["kappa"] != other.figures["kappa"]
    for name, figure in first.figures.items():
        assert figure.ci_low is not None and figure.ci_high is not None, name
        assert figure.ci_low <= figure.value <= figure.ci_high, name  # type: ignore[operator]
        assert figure.ci_high - figure.ci_low > 0, name


def test_kappa_is_undefined_not_zero_when_everyone_uses_one_label() -> None:
    result = agreement(
        ["pass"] * 20, ["pass"] * 20, scale="binary", categories=["fail", "pass"], n_boot=100
    )
    assert result.figures["kappa"].value is None
    assert result.figures["accuracy"].value == 1.0
    assert result.figures["specificity"].value is None


# ---------------------------------------------------------------- corrected estimates


def test_rogan_gladen_point_estimate_matches_the_formula() -> None:
    # Judge pass rate 0.66 on the run; Se = 0.9, Sp = 0.7 on the calibration set:
    # (0.66 + 0.7 - 1) / (0.9 + 0.7 - 1) = 0.6.
    run = np.array([1] * 66 + [0] * 34)
    human = np.array([1] * 100 + [0] * 100)
    judged = np.array([1] * 90 + [0] * 10 + [1] * 30 + [0] * 70)
    result = corrected_rate(run, judged, human)
    assert result.sensitivity == pytest.approx(0.9)
    assert result.specificity == pytest.approx(0.7)
    assert result.estimate == pytest.approx(0.6)
    assert result.raw == pytest.approx(0.66)
    assert result.ci_low < 0.6 < result.ci_high


def test_corrected_ci_is_wider_with_a_smaller_calibration_set() -> None:
    run = np.array([1] * 660 + [0] * 340)
    small_h = np.array([1] * 20 + [0] * 20)
    small_j = np.array([1] * 18 + [0] * 2 + [1] * 6 + [0] * 14)
    big_h = np.repeat(small_h, 10)
    big_j = np.repeat(small_j, 10)
    small = corrected_rate(run, small_j, small_h)
    big = corrected_rate(run, big_j, big_h)
    assert small.estimate == pytest.approx(big.estimate)
    assert (small.ci_high - small.ci_low) > 2 * (big.ci_high - big.ci_low)


def test_correction_is_undefined_for_a_judge_no_better_than_chance() -> None:
    human = np.array([1, 1, 0, 0])
    judged = np.array([1, 0, 1, 0])  # Se 0.5, Sp 0.5
    result = corrected_rate(np.array([1, 0, 1]), judged, human)
    assert math.isnan(result.estimate)
    assert (result.ci_low, result.ci_high) == (0.0, 1.0)
    assert "no better than chance" in result.note


def test_corrected_rate_rejects_non_binary_input() -> None:
    with pytest.raises(ValueError, match="only 0 and 1"):
        corrected_rate(np.array([0.5]), np.array([1, 0]), np.array([1, 0]))
    with pytest.raises(ValueError, match="passed and items they failed"):
        corrected_rate(np.array([1]), np.array([1, 0]), np.array([1, 1]))


def test_ppi_mean_equals_ppi_py_on_the_unlabelled_outputs() -> None:
    import ppi_py

    rng = np.random.default_rng(2)
    truth = (rng.random(600) < 0.4).astype(float)
    judge = np.where(truth == 1, rng.random(600) < 0.9, rng.random(600) < 0.3).astype(float)
    labelled = rng.choice(600, 120, replace=False)
    rest = np.setdiff1d(np.arange(600), labelled)
    result = ppi_mean(judge, judge[labelled], truth[labelled], alpha=0.1)
    low, high = ppi_py.ppi_mean_ci(truth[labelled], judge[labelled], judge[rest], alpha=0.1)
    point = ppi_py.ppi_mean_pointestimate(truth[labelled], judge[labelled], judge[rest])
    assert result.ci_low == pytest.approx(float(np.ravel(low)[0]))
    assert result.ci_high == pytest.approx(float(np.ravel(high)[0]))
    assert result.estimate == pytest.approx(float(np.ravel(point)[0]))
    assert (result.n_labelled, result.n_unlabelled) == (120, 480)
    separate = ppi_mean(
        judge[rest], judge[labelled], truth[labelled], alpha=0.1, labelled_included=False
    )
    assert separate.estimate == pytest.approx(result.estimate)


def test_ppi_mean_rejects_labelled_outputs_missing_from_the_run() -> None:
    with pytest.raises(ValueError, match="not a subset"):
        ppi_mean(np.array([0.0, 0.0, 0.0]), np.array([1.0, 1.0]), np.array([1.0, 0.0]))


def test_isotonic_mapping_moves_a_harsh_ordinal_judge_onto_the_peoples_scale() -> None:
    rng = np.random.default_rng(9)
    people = rng.integers(1, 6, 300).astype(float)
    judge = np.clip(people - 1, 1, 5)  # a harsh judge: one point lower
    run_people = rng.integers(1, 6, 1000).astype(float)
    run_judge = np.clip(run_people - 1, 1, 5)
    result = corrected_mean_ordinal(run_judge, judge, people, n_boot=200)
    assert result.raw < run_people.mean() - 0.5
    assert result.ci_low <= run_people.mean() <= result.ci_high
    assert abs(result.estimate - run_people.mean()) < 0.1


def test_naive_rate_is_the_judges_mean() -> None:
    result = naive_rate(np.array([1, 1, 0, 1]))
    assert result.estimate == 0.75 and result.ci_low < 0.75 < result.ci_high


# ---------------------------------------------------------------- the gate


def _record(
    fingerprint: str = "sha256:abc", n: int = 120, kappa: float | None = 0.7
) -> CalibrationRecord:
    return CalibrationRecord(
        judge="correctness",
        fingerprint=fingerprint,
        scale="binary",
        categories=["fail", "pass"],
        labels_path="judges/correctness.labels.jsonl",
        labels_fingerprint="sha256:def",
        created_at="2025-01-01T00:00:00+00:00",
        evalkit_version="0.1.0",
        n_items=n,
        n=n,
        figures={"kappa": Figure(value=kappa, ci_low=None, ci_high=None)},
        confusion=Confusion(labels=["fail", "pass"], counts=[[1, 0], [0, 1]]),
    )


def test_gate_status_calibrated_only_with_enough_items_and_kappa() -> None:
    assert judge_gate_status("sha256:abc", _record()).status == "calibrated"
    low_kappa = judge_gate_status("sha256:abc", _record(kappa=0.3))
    assert low_kappa.status == "uncalibrated" and "0.30" in low_kappa.reason
    few = judge_gate_status("sha256:abc", _record(n=40))
    assert few.status == "uncalibrated" and "40" in few.reason
    assert judge_gate_status("sha256:abc", _record(kappa=None)).status == "uncalibrated"
    assert judge_gate_status("sha256:abc", None).status == "uncalibrated"
    strict = judge_gate_status("sha256:abc", _record(kappa=0.7), min_kappa=0.8)
    assert strict.status == "uncalibrated"
    assert judge_gate_status("sha256:abc", _record(n=40), min_n=30).status == "calibrated"


def test_a_changed_rubric_makes_the_record_stale() -> None:
    from evalkit.judging._definitions import JudgeDefinition

    judge = JudgeDefinition(name="correctness", rubric="Is it right?", template="{{ output }}")
    record = _record(fingerprint=judge.fingerprint())
    assert judge_gate_status(judge, record).status == "calibrated"
    changed = judge.model_copy(update={"rubric": "Is it right and polite?"})
    status, reason = judge_gate_status(changed, record)
    assert status == "stale"
    assert "evalkit calibrate correctness" in reason


def test_record_round_trips_through_json_with_undefined_figures(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "j.calibration.json"
    record = _record(kappa=None)
    save_record(record, path)
    assert load_record(path) == record
    assert load_record(Path(str(tmp_path)) / "missing.json") is None


def test_vectorised_bootstrap_kappa_equals_scikit_learn_on_every_table() -> None:
    from evalkit.judging._calibration import contingency_tables, kappa_from_tables

    rng = np.random.default_rng(21)
    people = rng.integers(0, 4, 60)
    judge = np.where(rng.random(60) < 0.7, people, rng.integers(0, 4, 60))
    resamples = rng.integers(0, 60, size=(25, 60))
    tables = contingency_tables(people, judge, 4, resamples)
    for quadratic in (False, True):
        ours = kappa_from_tables(tables, quadratic=quadratic)
        for draw, index in enumerate(resamples):
            theirs = cohen_kappa_score(
                people[index],
                judge[index],
                labels=[0, 1, 2, 3],
                weights="quadratic" if quadratic else None,
            )
            assert ours[draw] == pytest.approx(theirs)
